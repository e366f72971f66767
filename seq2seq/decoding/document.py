"""Whole documents for the translate command (`--document`): paragraphs, lists, headings and
blank lines come back as they were, the sentences in between translated.

The input is read a block at a time (up to a blank line, or `block_lines` lines of a long
paragraph: a line break always ends a sentence, so a block never cuts one), each block's
sentences are translated in batches, and the block is written before the next is read: memory
stays bounded whatever the document's size. See seq2seq/text/layout.py for what is kept.
"""

from __future__ import annotations

from typing import BinaryIO, TextIO

from ..errors import Seq2SeqError
from ..text.layout import TextDocument
from .stream import LineReader, decode_line


def translate_document(translator, src: BinaryIO, out: TextIO, name: str,
                       block_lines: int = 200, max_line_chars: int = 100_000) -> int:
    """Translate the document `src` (called `name` in messages) to `out`; returns the number
    of sentences translated. A line over `max_line_chars` is copied untranslated, with a
    warning naming it."""
    reader = LineReader(src.fileno())
    block: list[str] = []
    number = done = 0

    def flush() -> None:
        nonlocal done, block
        if not block:
            return
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
        if not line.strip() or len(block) >= block_lines:
            flush()
    flush()
    return done
