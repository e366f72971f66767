"""What every command does before its work: memory settings, line-buffered output, and for the
Hydra commands the whole config composed and checked first, so that a typo, an unknown key or a
bad value is one line within seconds, not a stack trace after the data is prepared."""

from __future__ import annotations

import sys

from ..config import check_config, compose_config
from ..errors import reported_errors
from ..memory import tune_memory


def start(job: str | None = None) -> None:
    """Start-up of a command; with `job` (a Hydra command's config name), `preflight` too."""
    with reported_errors():
        tune_memory()  # before the first large allocation; see seq2seq/memory.py
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear at once in logs too
    if job is not None:
        preflight(job, sys.argv[1:])


def preflight(job: str, argv: list[str]) -> None:
    """Compose `conf/<job>.yaml` with the command line's overrides and check it against the
    schema before Hydra runs. Flags (--help, --cfg, -m, --config-dir ...) are Hydra's: with any
    of them the check waits for the composed config inside the command."""
    overrides = [a for a in argv if not a.startswith("-")]
    if len(overrides) != len(argv):
        return
    try:
        cfg = compose_config(job, overrides)
    except Exception as err:  # Hydra's and OmegaConf's many error types
        if "requires --multirun" in str(err):  # a sweep set up by a config (hydra.mode): Hydra's
            return
        _config_error(err)
    with reported_errors():
        check_config(cfg, job)


def _config_error(err: Exception) -> None:
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    hint = ""
    options = [ln.strip() for ln in text.splitlines() if ln.startswith("\t") and "=" not in ln]
    if "Available options" in text and options:
        hint = f" (available: {', '.join(options)})"
    if "is not in struct" in text or "Could not override" in text:
        hint = " (prefix a new key with '+'; check the spelling against conf/)"
    print(f"error: configuration: {first}{hint}", file=sys.stderr)
    sys.exit(2)
