"""Line streams for the translate command: read lines as they arrive, translate them in batches,
write each batch as soon as it is done. Memory stays flat whatever the input size.

Input bytes that are not valid UTF-8 are replaced by U+FFFD, with a warning naming the line;
Windows line endings are accepted. Every input line gives exactly one output line.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO, TextIO


class LineReader:
    """Lines from a file descriptor, read in large chunks; `ready()` says whether the next line
    can be had without waiting (so that an interactive pipe is answered at once)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = bytearray()
        self.eof = False
        mode = os.fstat(fd).st_mode
        self.can_wait = stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)

    def _fill(self) -> None:
        chunk = os.read(self.fd, 1 << 16)
        if chunk:
            self.buf += chunk
        else:
            self.eof = True

    def ready(self) -> bool:
        if b"\n" in self.buf or self.eof or not self.can_wait:
            return True
        return bool(select.select([self.fd], [], [], 0)[0])

    def read_line(self) -> bytes | None:
        """The next line without its ending, or None at the end of input."""
        start = 0
        while (end := self.buf.find(b"\n", start)) < 0 and not self.eof:
            start = len(self.buf)
            self._fill()
        if end < 0:
            if not self.buf:
                return None
            end = len(self.buf)
        line = bytes(self.buf[:end])
        del self.buf[: end + 1]
        return line[:-1] if line.endswith(b"\r") else line


def decode_line(raw: bytes, number: int, warn) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        warn(f"line {number}: invalid UTF-8, undecodable bytes replaced by U+FFFD")
        return raw.decode("utf-8", errors="replace")


def batches(reader: LineReader, batch_size: int, warn) -> Iterator[tuple[int, list[str]]]:
    """(number of the first line, lines) batches of at most `batch_size` lines; a batch is cut
    early whenever the next line is not available yet."""
    batch: list[str] = []
    first = number = 1
    while (raw := reader.read_line()) is not None:
        batch.append(decode_line(raw, number, warn))
        number += 1
        if len(batch) >= batch_size or not reader.ready():
            yield first, batch
            first, batch = number, []
    if batch:
        yield first, batch


def translate_stream(translator, src: BinaryIO, out: TextIO, n_best: int = 1,
                     columns=None) -> int:
    """Translate every line of `src` to `out`, flushing after each batch; returns lines done.

    With `n_best` > 1 each input line gives `n_best` lines "index<TAB>hypothesis<TAB>score";
    with `columns` (an `output.Columns`) one line of its columns.
    """
    done = 0
    reader = LineReader(src.fileno())
    attention = bool(columns and columns.alignments)
    for first, lines in batches(reader, translator.decode.batch_size, translator.warn):
        for i, t in enumerate(translator.translations(lines, attention=attention,
                                                      first_line=first)):
            if n_best > 1:
                for c in t.nbest:
                    out.write(f"{first - 1 + i}\t{c.text}\t{c.score:.4f}\n")
            else:
                out.write((columns.line(t) if columns else t.text) + "\n")
        out.flush()
        done += len(lines)
    return done


def quiet_broken_pipe() -> None:
    """After a BrokenPipeError on stdout (`| head`): stop without a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)
