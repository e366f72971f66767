"""The user's own parallel corpora, read as streams: plain parallel files (`corpus.fr` +
`corpus.en`, line i of one translating line i of the other) or one file of tab-separated pairs,
each optionally compressed (.gz, .xz, .bz2). Nothing is held in memory: pairs are yielded one by
one, and every problem is one line naming the file and the line.

A source is a config entry of `data.files.{train,valid,test}`::

    {name: europarl, src: corpus/ep.fr.gz, tgt: corpus/ep.en.gz}
    {name: memory, tsv: corpus/tm.tsv.xz, columns: [fr, en]}

Relative paths resolve against the directory the command was started in.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from omegaconf import DictConfig

from ..errors import Seq2SeqError

OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
COMPRESSED_LOOKALIKES = (".zst", ".zip", ".7z", ".lz4", ".tgz", ".tar", ".z", ".lzma", ".br")


def open_binary(path: Path) -> BinaryIO:
    """`path` opened for reading bytes, decompressing by its suffix."""
    suffix = path.suffix.lower()
    if suffix in COMPRESSED_LOOKALIKES:
        raise Seq2SeqError(f"{path}: unknown compression '{suffix}'; use .gz, .xz, .bz2 or plain "
                           f"text")
    if not path.is_file():
        raise Seq2SeqError(f"{path} does not exist; check the path in the data config (relative "
                           f"paths start from the directory the command runs in)")
    return OPENERS.get(suffix, open)(path, "rb")


def read_lines(path: Path) -> Iterator[str]:
    """The lines of `path` without their endings, decoded as UTF-8, one at a time."""
    number = 0
    try:
        with open_binary(path) as f:
            for number, raw in enumerate(f, 1):
                if b"\x00" in raw:
                    raise Seq2SeqError(f"{path} line {number}: NUL bytes; this looks binary, "
                                       f"not UTF-8 text")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise Seq2SeqError(f"{path} line {number} is not valid UTF-8; convert the "
                                       f"file to UTF-8")
                yield line.rstrip("\r\n")
    except (OSError, EOFError, lzma.LZMAError) as err:
        if isinstance(err, FileNotFoundError):
            raise Seq2SeqError(f"{path} does not exist")
        raise Seq2SeqError(f"{path} is corrupt or truncated after line {number} "
                           f"({type(err).__name__}: {err}); replace it with a complete copy")


def resolve(path: str) -> Path:
    return Path(path).expanduser().resolve()


def iter_pairs(spec: DictConfig, bad_lines: str = "error",
               skipped: list[int] | None = None) -> Iterator[tuple[str, str]]:
    """(French, English) pairs of one source, streamed. `bad_lines`: what a TSV line without
    exactly two columns does: "error" stops, "skip" skips it and counts it in `skipped[0]`."""
    if spec.get("tsv"):
        yield from _tsv_pairs(resolve(spec.tsv), list(spec.get("columns") or ["fr", "en"]),
                              bad_lines, skipped)
        return
    src_path, tgt_path = resolve(spec.src), resolve(spec.tgt)
    src_lines, tgt_lines = read_lines(src_path), read_lines(tgt_path)
    n = 0
    while True:
        fr, en = next(src_lines, None), next(tgt_lines, None)
        if fr is None or en is None:
            break
        n += 1
        yield fr, en
    rest_src = (fr is not None) + sum(1 for _ in src_lines)
    rest_tgt = (en is not None) + sum(1 for _ in tgt_lines)
    if rest_src or rest_tgt:
        raise Seq2SeqError(f"{src_path} has {n + rest_src} lines but {tgt_path} has "
                           f"{n + rest_tgt}; parallel files must be line-aligned")


def _tsv_pairs(path: Path, columns: list[str], bad_lines: str,
               skipped: list[int] | None) -> Iterator[tuple[str, str]]:
    fr_col = columns.index("fr")
    for number, line in enumerate(read_lines(path), 1):
        cols = line.split("\t")
        if len(cols) != 2:
            if bad_lines == "skip":
                if skipped is not None:
                    skipped[0] += 1
                continue
            what = "no tab" if len(cols) == 1 else f"{len(cols)} columns"
            raise Seq2SeqError(f"{path} line {number} has {what}, not 2 tab-separated columns; "
                               f"fix it or set data.tsv_bad_lines=skip")
        yield cols[fr_col], cols[1 - fr_col]
