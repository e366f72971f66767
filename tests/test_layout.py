"""Text around the sentences (seq2seq.text): sentence spans with the whitespace kept, what has
nothing to translate, HTML that comes back with its markup, and word alignments' shapes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.text.html import HtmlDocument, tokenize
from seq2seq.text.layout import Result, TextDocument
from seq2seq.text.sentences import has_words, sentence_spans

pytest.importorskip("sentencex", reason="sentencex is a core dependency: pip install -e .")


def identity(doc) -> list[Result]:
    """Each unit 'translated' into itself, word i aligned to word i."""
    return [Result(u, list(range(len(u.split())))) for u in doc.units]


def test_sentence_spans_cover_the_words_and_keep_what_is_between():
    text = "Il pleut.  Le chat dort !\n\n« Oui », dit-il. Fin"
    spans = sentence_spans(text)
    assert [text[s.start:s.end] for s in spans] == ["Il pleut.", "Le chat dort !",
                                                    "« Oui », dit-il.", "Fin"]
    between = [text[a.end:b.start] for a, b in zip(spans, spans[1:])]
    assert between == ["  ", "\n\n", " "]


@pytest.mark.parametrize("text,words", [
    ("😀", False), ("123 456,7", False), ("https://example.org/chat?x=1", False),
    ("marie@example.fr", False), ("— !? …", False), ("", False), ("Le chat", True),
    ("voir https://example.org", True), ("3 chats", True)])
def test_has_words(text, words):
    assert has_words(text) is words


def test_text_document_puts_translations_back_between_the_original_whitespace():
    doc = TextDocument("  Bonjour.  Il pleut !\n\n- Oui. 😀\n")
    assert doc.units == ["Bonjour.", "Il pleut !", "Oui."]
    assert doc.render(["Hello.", "It rains!", "Yes."]) == "  Hello.  It rains!\n\n- Yes. 😀\n"
    assert TextDocument("😀 42").units == []
    assert TextDocument("😀 42").render([]) == "😀 42"
    with pytest.raises(ValueError):
        doc.render(["one"])


def test_html_keeps_tags_attributes_entities_and_untranslated_elements():
    src = ('<!DOCTYPE html><html><head><title>Le titre</title><style>p { x: "a" }</style>'
           '</head>\n<body class=\'a\'>\n  <p id=x>Le <b>chat</b> noir&nbsp;dort.</p>\n'
           '<p translate="no">Ne pas traduire.</p><pre>code ici</pre><!-- un commentaire -->'
           '<p>Un <a href="/x?a=1&amp;b=2" title="T &eacute;">lien</a> !</p></body></html>')
    doc = HtmlDocument(src)
    assert doc.units == ["Le titre", "Le chat noir\xa0dort.", "Un lien !"]
    assert doc.render(identity(doc)) == src.replace("noir&nbsp;dort", "noir\xa0dort")
    out = doc.render([Result("The title", [0, 1]), Result("The black cat sleeps.", [0, 2, 1, 3]),
                      Result("A link!", [0, 1])])
    assert "<b>cat</b>" in out and '<a href="/x?a=1&amp;b=2" title="T &eacute;">link</a>' in out
    assert "<p translate=\"no\">Ne pas traduire.</p><pre>code ici</pre>" in out


def test_inline_markup_follows_the_alignment_and_stays_well_nested():
    doc = HtmlDocument("<p>Le <b>chat</b> <i>noir</i> dort.</p>")
    assert doc.render([Result("The black cat sleeps.", [0, 2, 1, 3])]) == \
        "<p>The <i>black</i> <b>cat</b> sleeps.</p>"
    nested = HtmlDocument("<p>Le <b>chat <i>noir</i></b> dort.</p>")
    out = nested.render([Result("The black cat sleeps.", [0, 2, 1, 3])])
    assert out == "<p>The <b><i>black</i> cat</b> sleeps.</p>"
    assert HtmlDocument("Deux <i>mots <b>ici</b></i>.").render(
        [Result("Two words here.", [0, 1, 2])]) == "Two <i>words <b>here</b></i>."
    # text escaped in the output, a sentence split inside an element joined into one unit
    assert HtmlDocument("<b>Le chat. Le</b> chien.").units == ["Le chat. Le chien."]
    assert HtmlDocument("<p>Un chat</p>").render([Result("A <cat> & co", None)]) == \
        "<p>A &lt;cat&gt; &amp; co</p>"


WORDS = st.sampled_from(["le", "chat", "noir", "dort", "la", "maison", "Paris", "été", "vélo"])
PUNCT = st.sampled_from([".", " !", " ?", ",", ""])
INLINE = st.sampled_from(["b", "i", "em", "a", "span", "strong"])
BLOCK = st.sampled_from(["p", "div", "li", "h1", "td"])
ATTR = st.sampled_from(["", ' class="x"', " id='y'", ' href="/a?b=1&amp;c=2"', " data-v=3",
                        ' title="&eacute;t&#233;"'])
SPACE = st.sampled_from([" ", "  ", "\n", "\n  "])


@st.composite
def inline_text(draw, depth=0):
    """Words with inline elements around whole words."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.booleans()):
            tag = draw(INLINE)
            parts.append(f"<{tag}{draw(ATTR)}>{draw(inline_text(depth + 1))}</{tag}>")
        else:
            parts.append(" ".join(draw(st.lists(WORDS, min_size=1, max_size=3))))
    return " ".join(parts)


@st.composite
def fragments(draw):
    blocks = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["block", "comment", "br", "skip", "img"]))
        if kind == "block":
            tag = draw(BLOCK)
            blocks.append(f"<{tag}{draw(ATTR)}>{draw(inline_text())}{draw(PUNCT)}</{tag}>")
        elif kind == "comment":
            blocks.append("<!-- note &amp; -->")
        elif kind == "br":
            blocks.append("<br/>" if draw(st.booleans()) else "<br>")
        elif kind == "skip":
            blocks.append("<code>le chat &lt;b&gt;</code>")
        else:
            blocks.append('<img src="x.png" alt="un chat">')
    return "".join(b + draw(SPACE) for b in blocks)


def tags(markup: str) -> list[str]:
    return sorted(t.raw for t in tokenize(markup) if t.kind != "text")


@settings(max_examples=150, deadline=None)
@given(fragments())
def test_html_round_trip_is_exact_with_an_identity_translation(src):
    doc = HtmlDocument(src)
    assert doc.render(identity(doc)) == src


@settings(max_examples=150, deadline=None)
@given(fragments(), st.randoms(use_true_random=False))
def test_html_keeps_every_tag_whatever_the_translation(src, rnd):
    doc = HtmlDocument(src)
    results = []
    for u in doc.units:  # another word count, a shuffled alignment (or none)
        n = rnd.randint(0, len(u.split()) + 2)
        words = [rnd.choice(["the", "cat", "sleeps", "x", "."]) for _ in range(n)]
        align = [rnd.randrange(len(u.split())) for _ in range(n)] if rnd.random() < 0.8 else None
        results.append(Result(" ".join(words), align))
    out = doc.render(results)
    assert tags(out) == tags(src)
    # well nested: every end tag closes the innermost open element
    stack = []
    for t in tokenize(out):
        if t.kind == "start" and not t.self_closing and t.name not in ("br", "img"):
            stack.append(t.name)
        elif t.kind == "end":
            assert stack and stack.pop() == t.name, out
    assert not stack
    assert re.sub(r"<[^>]*>", "", out).count("le chat &lt;b&gt;") == src.count("<code>")


@pytest.mark.parametrize("src", ["<p>Un <b>chat</p> dort</b>", "<b><i>x</b></i> le chat",
                                 "a < b & c", "<p", "<<>>", "</p></p>le chat", "<a href='x>y"])
def test_malformed_html_loses_nothing(src):
    doc = HtmlDocument(src)
    out = doc.render(identity(doc))
    assert tags(out) == tags(src)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>&;/!-?=\"' \nabp#[]x")) | st.characters(),
               max_size=60))
def test_any_text_as_html_renders_without_losing_markup(src):
    doc = HtmlDocument(src)
    out = doc.render(identity(doc))
    assert tags(out) == tags(src)


def test_word_alignment_merges_pieces_and_keeps_words_to_words():
    import numpy as np

    from seq2seq.decoding.alignment import word_alignment
    from seq2seq.decoding.core import Candidate, Hypothesis, Translation

    src = ["▁Le", "▁ch", "at", "▁noir", "."]  # words: Le, chat, noir.
    tgt = ["▁The", "▁black", "▁c", "at", "."]  # words: The, black, cat.
    att = np.array([[0.2, 0.0, 0.0, 0.1, 0.7],  # "The" looks at the full stop most
                    [0.0, 0.1, 0.0, 0.9, 0.0],
                    [0.0, 0.3, 0.3, 0.4, 0.0],  # "c" + "at" -> chat (0.3 + 0.3 + 0.5 + 0.4)
                    [0.0, 0.5, 0.4, 0.1, 0.0],
                    [0.0, 0.0, 0.0, 0.1, 0.9],
                    [0.0, 0.0, 0.0, 0.0, 1.0]])  # the </s> row is left out
    t = Translation("The black cat.", [Candidate("The black cat.", 0.0)],
                    Hypothesis([0] * 5, 0.0, att), src)
    assert word_alignment(t, tgt) == [0, 2, 1]
    assert word_alignment(Translation("", [Candidate("", 0.0)], Hypothesis([], 0.0)), []) == []


def test_line_markers_stay_out_of_the_sentences():
    text = "# Titre\n\n- Une femme lit.\n  * Deux. Trois.\n12. Un chien\na) b\n> cite\n-5 degrés."
    doc = TextDocument(text)
    assert doc.units == ["Titre", "Une femme lit.", "Deux.", "Trois.", "Un chien", "b", "cite",
                         "-5 degrés."]
    out = doc.render([u.upper() for u in doc.units])
    assert out == ("# TITRE\n\n- UNE FEMME LIT.\n  * DEUX. TROIS.\n12. UN CHIEN\na) B\n> CITE\n"
                   "-5 DEGRÉS.")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "- ", "* ", "1. ", "## ", "  - ", "> "]),
                          st.lists(st.sampled_from(["Le chat dort.", "Il pleut !", "Oui ?",
                                                    "Un homme lit un livre."]),
                                   max_size=4),
                          st.sampled_from(["\n", "\n\n", "\n \n"])), max_size=12))
def test_text_layout_round_trips(lines):
    text = "".join(marker + " ".join(sents) + end for marker, sents, end in lines)
    doc = TextDocument(text)
    assert doc.render(list(doc.units)) == text
    assert sum(len(s) for _, s, _ in lines) == len(doc.units)
    out = doc.render(["X" for _ in doc.units])
    assert out.count("\n") == text.count("\n")
    def markers(t):  # what opens each line before its first letter
        return [re.match(r"[^\w]*", ln).group() for ln in t.splitlines()]
    assert markers(out) == markers(text)
