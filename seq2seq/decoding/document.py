"""Whole documents for the translate command (`--document`): paragraphs, lists, headings and
blank lines come back as they were, the sentences in between translated.

The input is read a block at a time (`block_lines` lines, or fewer when they hold over
`block_chars` characters: a line break always ends a sentence, so a block never cuts one),
each block's sentences are translated in batches, and the block is written before the next is
read: memory stays bounded whatever the document's size, and batches stay full however short
the paragraphs. See seq2seq/text/layout.py for what is kept.
"""

from __future__ import annotations

from typing import BinaryIO, TextIO

from ..errors import Seq2SeqError
from ..text.layout import TextDocument
from .stream import LineReader, decode_line


def translate_document(translator, src: BinaryIO, out: TextIO, name: str,
                       block_lines: int = 500, block_chars: int = 200_000,
                       max_line_chars: int = 100_000) -> int:
    """Translate the document `src` (called `name` in messages) to `out`; returns the number
    of sentences translated. A line over `max_line_chars` is copied untranslated, with a
    warning naming it."""
    reader = LineReader(src.fileno())
    block: list[str] = []
    number = done = chars = 0

    def flush() -> None:
        nonlocal done, block, chars
        if not block:
            return
        chars = 0
        doc = TextDocument("".join(block))
        done += len(doc.units)
        out.write(doc.render([t.text for t in translator.translations(doc.units)]))
        out.flush()
        block = []

    while (raw := reader.read_line()) is not None:
        number += 1
        if b"\0" in raw:
            raise Seq2SeqError(f"{name} line {number}: a NUL byte; this is not a text file "
                               f"(give UTF-8 text)")
        line = decode_line(raw, number, translator.warn)
        if len(line) > max_line_chars:
            translator.warn(f"line {number}: {len(line):,} characters (over "
                            f"{max_line_chars:,}); copied untranslated")
            flush()
            out.write(line + "\n")
            continue
        block.append(line + "\n")
        chars += len(line)
        if len(block) >= block_lines or chars >= block_chars:
            flush()
    flush()
    return done
