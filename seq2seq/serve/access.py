"""API keys and request rates for the LibreTranslate routes (and keys for the native API), off
unless `access.api_keys` or `access.requests_per_minute` is set.

The rate limit is a moving window per key (with keys on) or per client address, counted by
the `limits` library (the one behind Flask-Limiter, which LibreTranslate itself uses). A keys
file holds one key per line, optionally with its own limit: `KEY<TAB>requests per minute`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Seq2SeqError


def read_keys(path: str) -> dict[str, int | None]:
    """Key -> its own requests-per-minute limit (None: the server's)."""
    try:
        lines = Path(path).read_bytes().decode("utf-8").splitlines()
    except OSError as err:
        raise Seq2SeqError(f"--api-keys {path}: cannot read it ({err.strerror})")
    except UnicodeDecodeError:
        raise Seq2SeqError(f"--api-keys {path}: not UTF-8 text (one key per line)")
    keys: dict[str, int | None] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, limit = line.strip().partition("\t")
        if not key or any(c.isspace() for c in key) or (limit and not limit.strip().isdigit()):
            raise Seq2SeqError(f"--api-keys {path} line {n}: expected KEY or KEY<TAB>requests "
                               f"per minute")
        keys[key] = int(limit) if limit else None
    if not keys:
        raise Seq2SeqError(f"--api-keys {path}: no keys in it")
    return keys


class Access:
    def __init__(self, api_keys: str | None, requests_per_minute: int):
        self.keys = read_keys(api_keys) if api_keys else None
        self.per_minute = requests_per_minute
        self.limiter = None
        if requests_per_minute or (self.keys and any(self.keys.values())):
            from limits import RateLimitItemPerMinute
            from limits.storage import MemoryStorage
            from limits.strategies import MovingWindowRateLimiter

            self.limiter = MovingWindowRateLimiter(MemoryStorage())
            self.item = RateLimitItemPerMinute

    def key_problem(self, key) -> str | None:
        """Why `key` is refused (None: it is fine, or keys are off)."""
        if self.keys is None:
            return None
        if not key:
            return "Invalid request: missing api_key (this server requires an API key)"
        if not isinstance(key, str) or key not in self.keys:
            return "Invalid API key"
        return None

    def over_limit(self, key, client: str) -> str | None:
        """Count one request; the message when it is over the limit."""
        if self.limiter is None:
            return None
        limit = self.per_minute
        who = f"address {client}"
        if self.keys is not None and isinstance(key, str) and key in self.keys:
            limit, who = self.keys[key] or self.per_minute, "key"
            client = f"key:{key}"
        if not limit:
            return None
        if not self.limiter.hit(self.item(limit), "seq2seq", client):
            return f"Too many requests: the limit is {limit} per minute per {who.split()[0]}"
        return None
