"""Sentences of a text, with every character between them kept.

The splitter is sentencex (Wikimedia's rule-based segmenter, no dependencies): on paragraphs
joined from the corpora's French validation sentences it splits as well as pysbd (95.3 % of
paragraphs exact) at about 90× its speed, and better than syntok and sentence-splitter (see
docs/serving.md; measured with scripts/measure_text_tools.py). A line break always ends a
sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = re.compile(r"\S+")
# what is left to translate once URLs, e-mail addresses and anything without a letter are out
_SKIP = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+")
_LETTER = re.compile(r"[^\W\d_]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_words(text: str) -> bool:
    """Whether `text` has anything to translate: a letter outside URLs and e-mail addresses
    (emoji, numbers, symbols, links and addresses come back unchanged)."""
    return bool(_LETTER.search(_SKIP.sub(" ", text)))


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def sentence_spans(text: str, lang: str = "fr") -> list[Span]:
    """The sentences of `text` as character spans without their surrounding whitespace, in
    order; the text between two spans is whitespace only."""
    import sentencex

    spans: list[Span] = []
    # the splitter reads UTF-8: a lone surrogate becomes U+FFFD (one character for one)
    text = _SURROGATE.sub("\ufffd", text)
    for line in re.finditer(r"[^\n]+", text):
        end, cursor = line.end(), line.start()
        for piece in sentencex.segment(lang, line.group()):
            piece = piece.strip()
            if not piece:
                continue
            at = text.find(piece, cursor, end)
            if at < 0 or text[cursor:at].strip():  # the splitter changed the text: the rest
                break                                # of the line is one sentence
            spans.append(Span(at, at + len(piece)))
            cursor = at + len(piece)
        rest = text[cursor:end]
        if rest.strip():
            spans.append(Span(cursor + len(rest) - len(rest.lstrip()),
                              cursor + len(rest.rstrip())))
    return spans


def word_spans(text: str) -> list[Span]:
    """Whitespace-separated words, as spans."""
    return [Span(m.start(), m.end()) for m in WORD.finditer(text)]
