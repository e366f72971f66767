"""One error type for every problem a user can fix, and the one-line reporting of it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class Seq2SeqError(Exception):
    """A problem with the user's input, files or configuration.

    The message is one line: what is wrong, where, and what to do about it.
    """


@contextlib.contextmanager
def reported_errors(exit_code: int = 2) -> Iterator[None]:
    """Turn a `Seq2SeqError` (or a configuration error) into one line on stderr and an exit code."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Seq2SeqError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(exit_code)
    except OmegaConfBaseException as err:
        print(f"error: configuration: {_first_line(err)}", file=sys.stderr)
        sys.exit(exit_code)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_overrides(config_name: str, argv: list[str]) -> None:
    """Compose `conf/<config_name>.yaml` with the command line's overrides before Hydra runs, so
    that a typo, an unknown key or an unknown config option is one line, not a stack trace."""
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    overrides = [a for a in argv if not a.startswith("-")]
    if len(overrides) != len(argv):  # --help, --cfg, -m ...: leave these to Hydra
        return
    conf = Path(__file__).resolve().parents[1] / "conf"
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    except Exception as err:  # Hydra's and OmegaConf's many error types
        if "requires --multirun" in str(err):  # a sweep set up by a config (hydra.mode): Hydra's
            return
        hint = ""
        options = [ln.strip() for ln in str(err).splitlines()
                   if ln.startswith("\t") and "=" not in ln]
        if "Available options" in str(err) and options:
            hint = f" (available: {', '.join(options)})"
        if "is not in struct" in str(err) or "Could not override" in str(err):
            hint = " (prefix a new key with '+'; check the spelling against conf/)"
        print(f"error: configuration: {_first_line(err)}{hint}", file=sys.stderr)
        sys.exit(2)
