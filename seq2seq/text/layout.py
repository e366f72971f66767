"""Plain text in, plain text out, with every character that is not translated kept.

`TextDocument(text).units` are the sentences to translate (those with words: see `has_words`);
`render(translations)` puts their translations back between the original whitespace and line
breaks. A marker that opens a line — a list's `-`, `*`, `•`, `1.` or `a)`, a Markdown heading's
`#`, a quotation's `>` — stays out of the sentence and comes back as it was. A text with nothing
to translate (emoji, numbers, a URL) has no units and renders unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sentences import Span, has_words, sentence_spans

MARKER = re.compile(r"(?:[-*•+>]|#{1,6}|\d{1,3}[.)]|[a-z]\))[ \t]+")


@dataclass(frozen=True)
class Result:
    """The translation of one unit, and for each of its words the index of the source word it
    is aligned to (None where alignments were not asked for)."""

    text: str
    alignment: list[int] | None = None


class TextDocument:
    def __init__(self, text: str):
        self.text = text
        spans = [_unmarked(text, s) for s in sentence_spans(text)]
        self.spans = [s for s in spans if has_words(text[s.start:s.end])]
        self.units = [text[s.start:s.end] for s in self.spans]

    def render(self, results: list[Result] | list[str]) -> str:
        if len(results) != len(self.units):
            raise ValueError(f"{len(results)} translations for {len(self.units)} sentences")
        out, pos = [], 0
        for span, r in zip(self.spans, results):
            out += [self.text[pos:span.start], r if isinstance(r, str) else r.text]
            pos = span.end
        out.append(self.text[pos:])
        return "".join(out)


def _unmarked(text: str, span: Span) -> Span:
    """`span` without the list or heading marker that opens its line, if it has one."""
    if span.start > 0 and text[: span.start].rstrip(" \t")[-1:] not in ("", "\n"):
        return span  # not at the start of a line
    m = MARKER.match(text, span.start, span.end)
    return Span(m.end(), span.end) if m and m.end() < span.end else span


def renderings(doc, translations: list, count: int, best: list[Result] | None = None) -> list:
    """`doc` (a TextDocument or HtmlDocument) rendered `count` times: with the best translation
    of each of its units (or `best`, e.g. with alignments), then with the second of each n-best
    list, and so on (the last where a list is shorter). `translations` have `.nbest` lists of
    candidates with `.text`."""
    out = [doc.render(best if best is not None else [t.nbest[0].text for t in translations])]
    for k in range(1, count):
        out.append(doc.render([t.nbest[min(k, len(t.nbest) - 1)].text for t in translations]))
    return out
