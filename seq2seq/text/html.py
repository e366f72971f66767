"""HTML in, HTML out: the text is translated, every tag, attribute, entity, comment and the
whitespace between blocks come back as they were sent, byte for byte.

Parsing uses the tokenizer of Python's standard library (`html.parser`, the one BeautifulSoup's
default builder runs on) with character references left unconverted: it reports each tag where
it stands in the source, so what is not translated is copied from the source instead of being
re-serialised (a tree parser re-quotes attributes, rewrites entities and void tags and adds
implied end tags). Malformed markup is never an error: what the tokenizer cannot read is kept.

The text between block boundaries (block tags, `<br>`, comments, untranslated elements) is a
*run*; a run's text is split into sentences (`sentence_spans`), and each sentence with words is
one unit to translate. Inline elements (`<b>`, `<a href>`, `<span>`, ...) inside a sentence are
put back around the output words aligned to the source words they wrapped (`Result.alignment`,
from the attention); an element that crosses a sentence boundary joins those sentences into
one unit. Elements never translated: script, style, code, pre and the like, and anything marked
`translate="no"` or `class="notranslate"`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from .layout import Result
from .sentences import has_words, sentence_spans, word_spans

INLINE = {"a", "abbr", "b", "bdi", "bdo", "big", "cite", "data", "del", "dfn", "em", "font",
          "i", "ins", "label", "mark", "q", "s", "small", "span", "strong", "sub", "sup", "time",
          "tt", "u"}
POINTS = {"img", "wbr"}  # void tags that may stand inside a sentence
SKIP = {"script", "style", "code", "pre", "kbd", "samp", "var", "textarea", "template", "svg",
        "math", "noscript"}
_FINE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]+")  # words and runs of punctuation
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr"}


@dataclass
class Token:
    kind: str  # "text" | "start" | "end" | "other"
    raw: str  # exactly as in the source
    text: str = ""  # decoded text ("text" tokens)
    name: str = ""  # tag name ("start"/"end")
    attrs: dict = field(default_factory=dict)
    self_closing: bool = False


class _Tokenizer(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.events: list[tuple[int, Token]] = []

    def _add(self, token: Token) -> None:
        line, col = self.getpos()
        self.events.append((self._offsets[line - 1] + col, token))

    def handle_starttag(self, tag, attrs):
        self._add(Token("start", "", name=tag, attrs={k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag, attrs):
        self._add(Token("start", "", name=tag, attrs={k: v or "" for k, v in attrs},
                        self_closing=True))

    def handle_endtag(self, tag):
        self._add(Token("end", "", name=tag))

    def handle_data(self, data):
        self._add(Token("text", "", text=data))

    def handle_entityref(self, name):
        self._add(Token("text", "", text="\0ref"))

    handle_charref = handle_entityref

    def handle_comment(self, data):
        self._add(Token("other", ""))

    handle_decl = handle_pi = unknown_decl = handle_comment

    def tokens(self, source: str) -> list[Token]:
        self._offsets = [0]
        for line in source.splitlines(keepends=True):
            self._offsets.append(self._offsets[-1] + len(line))
        self.feed(source)
        self.close()
        out: list[Token] = []
        starts = [p for p, _ in self.events] + [len(source)]
        if starts[0] > 0:
            out.append(Token("other", source[: starts[0]]))
        for (pos, tok), end in zip(self.events, starts[1:]):
            raw = source[pos:end]
            if tok.kind == "text" and tok.text == "\0ref":
                tok.raw, tok.text = raw, html.unescape(raw)
                out.append(tok)
            elif tok.kind == "text" and raw != tok.text:  # something the tokenizer skipped
                out += [Token("text", tok.text, tok.text), Token("other", raw[len(tok.text):])]
            else:
                tok.raw = raw
                out.append(tok)
        return out


def tokenize(source: str) -> list[Token]:
    return _Tokenizer().tokens(source)


@dataclass
class _Element:
    """An inline element of a run: its tags and the text offsets it wraps ([a, b) of the run's
    text), or a single tag standing at offset a (b is None)."""

    open: Token
    close: Token | None
    a: int
    b: int | None = None
    seq: int = 0  # the open tag's place in the run
    close_seq: int = 0


@dataclass
class _Unit:
    start: int
    end: int
    text: str
    elements: list[_Element] = field(default_factory=list)  # placed inside this unit


class HtmlDocument:
    def __init__(self, source: str):
        self.tokens = tokenize(source)
        self.units: list[str] = []
        self._plan: list = []  # in order: raw strings, and runs (tokens, offsets, units, first)
        run: list[Token] = []
        skip: list[str] = []  # open untranslated elements
        for tok in self.tokens:
            if skip:
                self._flush(run)
                run = []
                self._plan.append(tok.raw)
                if tok.kind == "start" and tok.name not in VOID and not tok.self_closing:
                    skip.append(tok.name)
                elif tok.kind == "end" and tok.name in skip:
                    del skip[len(skip) - 1 - skip[::-1].index(tok.name):]
            elif tok.kind == "text" or (tok.kind in ("start", "end")
                                        and (tok.name in INLINE or tok.name in POINTS)
                                        and not _untranslated(tok)):
                run.append(tok)
            else:
                self._flush(run)
                run = []
                self._plan.append(tok.raw)
                if tok.kind == "start" and _untranslated(tok) and tok.name not in VOID \
                        and not tok.self_closing:
                    skip.append(tok.name)
        self._flush(run)

    # -- planning ---------------------------------------------------------------------------

    def _flush(self, run: list[Token]) -> None:
        if not run:
            return
        text, where = "", []  # the run's text; each token's text offset
        for tok in run:
            where.append(len(text))
            if tok.kind == "text":
                text += tok.text
        if not has_words(text):
            self._plan.append("".join(t.raw for t in run))
            return
        elements = _elements(run, where)
        units = _units(text, elements)
        first = len(self.units)
        self.units += [text[u.start:u.end] for u in units]
        self._plan.append((run, where, units, first))

    # -- rendering --------------------------------------------------------------------------

    def render(self, results: list[Result]) -> str:
        if len(results) != len(self.units):
            raise ValueError(f"{len(results)} translations for {len(self.units)} units")
        out: list[str] = []
        for item in self._plan:
            if isinstance(item, str):
                out.append(item)
            else:
                run, where, units, first = item
                out.append(_render_run(run, where, units, results[first:first + len(units)]))
        return "".join(out)


def _untranslated(tok: Token) -> bool:
    return tok.kind == "start" and (tok.name in SKIP or tok.attrs.get("translate") == "no"
                                    or "notranslate" in tok.attrs.get("class", "").split())


def _elements(run: list[Token], where: list[int]) -> list[_Element]:
    """Pair each end tag with the nearest open start tag of its name; the rest stand alone."""
    out: list[_Element] = []
    stack: list[_Element] = []
    for seq, (tok, pos) in enumerate(zip(run, where)):
        if tok.kind == "start":
            el = _Element(tok, None, pos, None, seq)
            out.append(el)
            if tok.name not in VOID and not tok.self_closing:
                stack.append(el)
        elif tok.kind == "end":
            names = [e.open.name for e in stack]
            if tok.name in names:
                i = len(names) - 1 - names[::-1].index(tok.name)
                stack[i].close, stack[i].b, stack[i].close_seq = tok, pos, seq
                del stack[i]
            else:
                out.append(_Element(tok, None, pos, None, seq))
    return out


def _trimmed(el: _Element, text: str) -> tuple[int, int]:
    a, b = el.a, el.b
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _units(text: str, elements: list[_Element]) -> list[_Unit]:
    """Sentences with words, joined where a paired element crosses from one into another."""
    spans = [(s.start, s.end) for s in sentence_spans(text)]
    parent = list(range(len(spans)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for el in elements:
        if el.b is None:
            continue
        a, b = _trimmed(el, text)
        inside = [i for i, (s, e) in enumerate(spans) if a < e and b > s]
        contains = all(a <= spans[i][0] and b >= spans[i][1] for i in inside)
        if len(inside) > 1 and not contains:
            for i in inside[1:]:
                parent[find(i)] = find(inside[0])
    groups: dict[int, list[int]] = {}
    for i in range(len(spans)):
        groups.setdefault(find(i), []).append(i)
    units = []
    for members in sorted(groups.values()):
        s, e = spans[members[0]][0], spans[members[-1]][1]
        if has_words(text[s:e]):
            units.append(_Unit(s, e, text[s:e]))
    for el in elements:
        for u in units:
            if el.b is None:
                if u.start < el.a < u.end:
                    u.elements.append(el)
                continue
            a, b = _trimmed(el, text)
            if a < u.end and b > u.start and not (a <= u.start and b >= u.end):
                u.elements.append(el)
    return units


def _render_run(run, where, units: list[_Unit], results: list[Result]) -> str:
    placed = {id(el.open) for u in units for el in u.elements} | \
             {id(el.close) for u in units for el in u.elements if el.close is not None}
    out: list[str] = []
    ui = 0
    for tok, pos in zip(run, where):
        if tok.kind != "text":
            if id(tok) not in placed:
                out.append(tok.raw)
            continue
        end, cut = pos + len(tok.text), pos  # this token's text is [pos, end); done up to cut
        while cut < end:
            u = units[ui] if ui < len(units) else None
            if u is not None and u.start <= cut:  # inside a unit: its translation at its end
                stop = min(u.end, end)
                if stop == u.end:
                    out.append(_render_unit(u, results[ui]))
                    ui += 1
            else:  # between units: the source as it was
                stop = min(end, u.start) if u is not None else end
                out.append(tok.raw if (cut, stop) == (pos, end) else tok.text[cut - pos:stop - pos])
            cut = stop
    return "".join(out)


@dataclass
class _Node:
    el: _Element | None
    lo: int = 0
    hi: int = 0
    kids: list[_Node] = field(default_factory=list)
    points: list[tuple[int, int, str]] = field(default_factory=list)  # (position, seq, raw)


def _fine(text: str, offset: int = 0) -> tuple[list[tuple[int, int]], list[int]]:
    """Words and punctuation of `text` as spans (shifted by `offset`), and for each the index of
    the whitespace-separated word it is part of (the unit the alignments speak of)."""
    spans = [(m.start() + offset, m.end() + offset) for m in _FINE.finditer(text)]
    words = word_spans(text)
    owner, w = [], 0
    for s, _ in spans:
        while words[w].end + offset <= s:
            w += 1
        owner.append(w)
    return spans, owner


def _fine_alignment(src_owner, src_spans, src_text, tgt_owner, tgt_spans, tgt_text,
                    alignment: list[int] | None, n_words: int) -> list[int]:
    """For each output token, the source token it is aligned to: the aligned word's token of the
    same kind (punctuation or not), else its first."""
    n_src_words = (src_owner[-1] + 1) if src_owner else 0
    if alignment is None or len(alignment) != n_words:  # spread the words over the source's
        alignment = [j * n_src_words // max(n_words, 1) for j in range(n_words)]
    by_word: dict[int, list[int]] = {}
    for i, w in enumerate(src_owner):
        by_word.setdefault(w, []).append(i)

    def punct(text, span):
        return not text[span[0]:span[1]][0].isalnum()

    marks = [i for i in range(len(src_spans)) if punct(src_text, src_spans[i])]
    out = []
    for j, w in enumerate(tgt_owner):
        word = min(alignment[w], n_src_words - 1)
        cands = by_word.get(word, [0])
        kind = punct(tgt_text, tgt_spans[j])
        same = [i for i in cands if punct(src_text, src_spans[i]) == kind]
        if not same and kind and marks:  # "link!" from "lien !": the nearest source mark
            same = [min(marks, key=lambda i: (abs(src_owner[i] - word), -i))]
        same = same or cands
        out.append(same[0] if not kind else same[-1])
    return out


def _render_unit(u: _Unit, r: Result) -> str:
    src, src_owner = _fine(u.text)
    src = [(s + u.start, e + u.start) for s, e in src]  # in the run's offsets, like elements
    words, tgt_owner = _fine(r.text)
    n = len(words)
    align = _fine_alignment(src_owner, [(s - u.start, e - u.start) for s, e in src], u.text,
                            tgt_owner, words, r.text, r.alignment, len(word_spans(r.text)))
    root = _Node(None, 0, n)
    stack = [root]
    for el in sorted(u.elements, key=lambda e: e.seq):  # document order: parents first
        while len(stack) > 1 and not _within(el, stack[-1].el):
            stack.pop()
        parent = stack[-1]
        before = sum(1 for s, _ in src if s < el.a)  # the source token it stands before
        first = next((j for j, w in enumerate(align) if w >= before), n)
        if el.b is None:
            parent.points.append((first, el.seq, el.open.raw))
            continue
        wrapped = [i for i, (s, e) in enumerate(src) if s < el.b and e > el.a]
        hits = [j for j, w in enumerate(align) if w in wrapped]
        if not hits and wrapped and n:  # the nearest output token
            mid = sum(wrapped) / len(wrapped)
            hits = [min(range(n), key=lambda j: (abs(align[j] - mid), j))]
        lo, hi = (min(hits), max(hits) + 1) if hits else (first, first)
        node = _Node(el, lo, hi)
        parent.kids.append(node)
        stack.append(node)
    _fit(root)
    escaped = [html.escape(r.text[s:e], quote=False) for s, e in words]
    seps = [""] + [r.text[words[j - 1][1]:words[j][0]] for j in range(1, n)]
    return _emit(root, escaped, seps)


def _within(el: _Element, outer: _Element | None) -> bool:
    """Whether `el` stands between the tags of `outer` in the run."""
    if outer is None:
        return True
    last = el.seq if el.b is None else el.close_seq
    return outer.seq < el.seq and last < outer.close_seq


def _fit(node: _Node) -> None:
    """Clamp each child into its parent's output range and keep siblings from overlapping
    (HTML must stay well nested), in the order the attention put them."""
    node.kids.sort(key=lambda c: (c.lo, c.hi, c.el.seq))
    floor = node.lo
    for c in node.kids:
        c.lo = min(max(c.lo, floor), node.hi)
        c.hi = min(max(c.hi, c.lo), node.hi)
        floor = c.hi
        _fit(c)
    node.points = sorted((min(max(k, node.lo), node.hi), seq, raw) for k, seq, raw in node.points)


def _emit(node: _Node, words: list[str], seps: list[str]) -> str:
    out: list[str] = []
    k, ki, pi = node.lo, 0, 0
    while True:
        while pi < len(node.points) and node.points[pi][0] <= k:
            out.append(node.points[pi][2])
            pi += 1
        jumped = False
        while ki < len(node.kids) and node.kids[ki].lo <= k:
            c = node.kids[ki]
            ki += 1
            out += [c.el.open.raw, _emit(c, words, seps), c.el.close.raw]
            if c.hi > k:
                k, jumped = c.hi, True
                break
        if jumped:
            if k < node.hi:
                out.append(seps[k])
            continue
        if k >= node.hi:
            break
        out.append(words[k])
        k += 1
        if k < node.hi:
            out.append(seps[k])
    out += [raw for _, _, raw in node.points[pi:]]
    return "".join(out)
