"""Glossaries: reading the file (each bad line named), matching terms in sentences, and
lexically constrained beam search that always places the terms (one, two, overlapping, at
the end), equals plain search when no term matches, and says when a term cannot fit."""

from __future__ import annotations

import math

import pytest
import torch

from seq2seq.decoding.constrained import Progress, allocate, constrained_beam_search
from seq2seq.decoding.translator import Translator
from seq2seq.errors import Seq2SeqError
from seq2seq.text.glossary import Glossary, fold, read_glossary

from .test_search import B_, TABLE, A, TableModel


def test_reading_a_glossary_names_each_bad_line(tmp_path):
    path = tmp_path / "terms.tsv"
    path.write_text("# comment\nchat\tcat\nno tab here\n\tempty\nchien noir\tblack hound\n"
                    "CHAT\tkitty\n\n", encoding="utf-8")
    warnings = []
    g = read_glossary(str(path), warnings.append)
    assert g.entries == (("chien noir", "black hound"), ("CHAT", "kitty"))
    assert [w.split(": ", 1)[0] for w in warnings] == [f"glossary {path} line {n}"
                                                       for n in (3, 4, 6)]
    assert "no tab" in warnings[0] and "empty term" in warnings[1] and "again" in warnings[2]
    path.write_bytes(b"chat\tcat\n" + b"caf\xe9\tcoffee\n")
    with pytest.raises(Seq2SeqError, match="line 2: not UTF-8"):
        read_glossary(str(path), warnings.append)


def test_terms_match_whole_words_longest_first_without_overlap():
    g = Glossary.of([("chat", "cat"), ("chat noir", "black cat"), ("noir", "black"),
                     ("homme", "man"), ("l'homme", "the fellow")])
    assert g.terms("Le Chat  Noir dort .") == [("chat noir", "black cat")]
    assert g.terms("Le chat dort, le chien est noir.") == [("chat", "cat"), ("noir", "black")]
    assert g.terms("Les chats dorment .") == []  # whole words only
    assert g.terms("L'homme court .") == [("l'homme", "the fellow")]
    assert fold("É\u0301té  FORT") == fold("é\u0301té fort")


def test_progress_through_terms():
    p = Progress.start([[7, 8], [9]])
    assert p.next_tokens() == {7, 9} and p.bank == 0 and not p.done
    p = p.advance(7)
    assert p.next_tokens() == {8} and p.bank == 1
    assert p.advance(5).bank == 0  # broken off: starts over
    p = p.advance(8).advance(9)
    assert p.done and p.bank == 3 and p.next_tokens() == set()


def test_allocation_shares_the_beam_among_banks():
    terms = [[1, 2]]
    low = [(-1.0 - i, 0, 10 + i, Progress.start(terms)) for i in range(4)]
    high = [(-9.0, 0, 1, Progress.start(terms).advance(1))]
    chosen = allocate(low + high, 4)
    assert (-9.0, 0, 1) in [c[:3] for c in chosen] and len(chosen) == 4


def _table_search(constraints, beam=3, max_len=6):
    model = TableModel(TABLE)
    src = torch.ones(len(constraints), 3, dtype=torch.long)
    lens = torch.full((len(constraints),), 3)
    return constrained_beam_search(model, src, lens, [max_len] * len(constraints), beam,
                                   constraints, n_best=beam)


def test_constrained_search_on_a_table_model():
    # Without terms the best is "b" (0.36); with [a, a] the output must hold "a a".
    (free,), (forced,) = [h[:1] for h in _table_search([[], [[A, A]]])]
    assert free.tokens == [B_]
    assert forced.tokens[:2] == [A, A]
    assert math.isclose(sum(forced.token_scores), forced.score, abs_tol=1e-5)
    (two,) = [h[0] for h in _table_search([[[A], [B_, A]]], beam=4)]
    seq = two.tokens
    assert A in seq and any(seq[i:i + 2] == [B_, A] for i in range(len(seq)))


@pytest.fixture(scope="module")
def toy(trained):
    return {beam: Translator.from_checkpoint(trained, beam_size=beam) for beam in (1, 4)}


GLOSSARY = Glossary.of([("chat", "dog"), ("jardin", "beach"), ("plage", "garden"),
                        ("noir", "white"), ("chat noir", "red cat")])


@pytest.mark.parametrize("beam", [1, 4])
def test_the_toy_model_always_places_the_terms(toy, beam):
    t = toy[beam].with_glossary(GLOSSARY)
    warnings = []
    t.warn = warnings.append
    src = ["Le chat dort .",  # one term
           "Le chien blanc court dans le jardin .",  # a term at the end
           "La femme rouge mange sur la plage .",
           "Le chat noir dort dans le jardin .",  # overlapping: "chat noir" wins, and jardin
           "Le chat blanc court sur la plage ."]  # two terms
    out = t.translate(src)
    assert "dog" in out[0].split() and "beach" in out[1].split()
    assert "garden" in out[2].split()
    assert "red cat" in out[3] and "beach" in out[3].split() and "white" not in out[3].split()
    assert "dog" in out[4].split() and "garden" in out[4].split()
    assert warnings == []


def test_no_matching_term_is_plain_search(toy):
    plain = toy[4].translate(["Le garçon saute .", "La femme rouge mange ."])
    with_glossary = toy[4].with_glossary(GLOSSARY).translate(["Le garçon saute .",
                                                                  "La femme rouge mange ."])
    assert with_glossary == plain
    mixed = toy[4].with_glossary(GLOSSARY).translations(["Le garçon saute .", "Le chat dort ."])
    assert mixed[0].text == plain[0]


def test_a_term_that_cannot_fit_is_named(toy):
    long = " ".join(["dog"] * 60)
    t = toy[4].with_glossary(Glossary.of([("chat", long), ("dort", "sleeps")]))
    warnings = []
    t.warn = warnings.append
    out = t.translate("Le chat dort .")
    assert "sleeps" in out
    assert warnings and warnings[0].startswith("line 1: glossary term 'dog dog")
    assert "does not fit" in warnings[0]
