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

