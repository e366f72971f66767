"""The benchmark's text section: documents against one sentence per line, the attention's word
alignments against hand-made ones, and glossaries — does constrained decoding place the terms,
what does it do to BLEU, what does it cost?

Each test sentence gets a glossary of one or two terms from its reference: the reference's
content words are aligned to words of the source by their Dice coefficient over the training
pairs (how often the two words occur in the same pair), and the best one or two links are
kept. The test set is then translated with beam 5 without and with these glossaries: BLEU, the
share of the terms that the output contains, sentences/s.
"""

from __future__ import annotations

import re
import time
from collections import Counter

from sacrebleu.metrics import BLEU

from ..text.glossary import Glossary, fold

WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
STOP = set("""a an the this that these those with from into onto over under while where what
which who whom whose when than then them they their there here have has had been being were
some many much more most very also just like near each other about after before down upon
its it's his her hers him she he you your yours our ours are is was not no yes and but for
out off all any both few own same such only so too can will would could should might must
shall does did doing done one two three""".split())


def _words(text: str) -> list[str]:
    return WORD.findall(fold(text))


def build_glossaries(test: list[tuple[str, str]], train: list[tuple[str, str]],
                     per_sentence: int = 2, min_dice: float = 0.3) -> list[Glossary]:
    """For each test pair, up to `per_sentence` (French word, English word) links between its
    source and its reference, as a glossary (see the module's text)."""
    content = [(set(w for w in _words(f) if len(w) >= 3),
                set(w for w in _words(e) if len(w) >= 4 and w not in STOP)) for f, e in test]
    fr_vocab = set().union(*(f for f, _ in content))
    en_vocab = set().union(*(e for _, e in content))
    cf, ce, cfe = Counter(), Counter(), Counter()
    for f, e in train:
        fw, ew = set(_words(f)) & fr_vocab, set(_words(e)) & en_vocab
        cf.update(fw)
        ce.update(ew)
        cfe.update((a, b) for a in fw for b in ew)
    out = []
    for fw, ew in content:
        links = sorted(((2 * cfe[(f, e)] / (cf[f] + ce[e]), f, e) for f in fw for e in ew
                        if cfe[(f, e)]), reverse=True)
        used_f, used_e, kept = set(), set(), []
        for dice, f, e in links:
            if dice < min_dice or len(kept) == per_sentence:
                break
            if f in used_f or e in used_e:
                continue
            used_f.add(f)
            used_e.add(e)
            kept.append((f, e))
        out.append(Glossary.of(kept))
    return out


def glossary_section(translator, sets: dict[str, list[tuple[str, str]]],
                     train: list[tuple[str, str]], log) -> dict:
    beam5 = translator.with_decode(beam_size=5)
    out = {}
    for name, pairs in sets.items():
        glossaries = build_glossaries(pairs, train)
        src, refs = [f for f, _ in pairs], [e for _, e in pairs]
        log(f"  {name}: {sum(len(g.entries) for g in glossaries)} terms; beam 5 without and "
            f"with them ...")
        start = time.perf_counter()
        plain = beam5.translate(src)
        plain_s = time.perf_counter() - start
        quiet = beam5.with_decode()
        quiet.warn = lambda _: None  # counted below instead
        start = time.perf_counter()
        forced = [t.text for t in quiet.translations(src, glossaries=glossaries)]
        forced_s = time.perf_counter() - start
        wanted = placed = placed_plain = 0
        for s, hyp, base, glossary in zip(src, forced, plain, glossaries):
            for _, en in glossary.terms(s):
                wanted += 1
                placed += fold(en) in fold(hyp)
                placed_plain += fold(en) in fold(base)
        out[name] = {"sentences": len(src),
                     "sentences_with_terms": sum(1 for g in glossaries if g.entries),
                     "terms": wanted,
                     "placed_without": round(placed_plain / max(wanted, 1), 4),
                     "placed_with": round(placed / max(wanted, 1), 4),
                     "bleu_without": round(BLEU().corpus_score(plain, [refs]).score, 2),
                     "bleu_with": round(BLEU().corpus_score(forced, [refs]).score, 2),
                     "sents_per_s_without": round(len(src) / plain_s, 1),
                     "sents_per_s_with": round(len(src) / forced_s, 1)}
    return out


def document_section(translator, sentences: list[str], log) -> dict:
    """A document made of the test sentences (paragraphs of 1-8 sentences, headings, lists,
    blank lines), translated as a document and as one sentence per line: sentences/s of
    each, and whether each sentence came out the same."""
    import io
    import tempfile
    from pathlib import Path

    from ..decoding.document import translate_document

    paragraphs, expected_lines, i, n = [], [], 0, 0
    while i < len(sentences):
        k = 1 + n % 8
        chunk, i, n = sentences[i:i + k], i + k, n + 1
        if n % 7 == 0:
            paragraphs.append([f"## {chunk[0]}"] + [f"- {s}" for s in chunk[1:]])
        else:
            paragraphs.append([" ".join(chunk)])
        expected_lines.append(chunk)
    text = "\n\n".join("\n".join(p) for p in paragraphs) + "\n"
    path = Path(tempfile.mkdtemp()) / "document.fr.txt"
    path.write_text(text, encoding="utf-8")
    log(f"  a document of {len(paragraphs)} paragraphs, {len(sentences)} sentences ...")
    start = time.perf_counter()
    lines = translator.translate(sentences)
    lines_s = time.perf_counter() - start
    out = io.StringIO()
    start = time.perf_counter()
    with open(path, "rb") as src:
        translate_document(translator, src, out, str(path))
    doc_s = time.perf_counter() - start
    one = dict(zip(sentences, lines))
    want = "\n\n".join("\n".join(
        [f"## {one[c[0]]}"] + [f"- {one[s]}" for s in c[1:]] if (j + 1) % 7 == 0 else
        [" ".join(one[s] for s in c)]) for j, c in enumerate(expected_lines)) + "\n"
    got = out.getvalue()
    same = [g == w for g, w in zip(got.split("\n"), want.split("\n"))]
    return {"paragraphs": len(paragraphs), "sentences": len(sentences),
            "lines_in": text.count("\n"), "lines_out": got.count("\n"),
            "markers_kept": [ln[:3] for ln in got.splitlines() if ln.startswith(("## ", "- "))]
            == [ln[:3] for ln in text.splitlines() if ln.startswith(("## ", "- "))],
            "lines_identical_to_one_per_line": round(sum(same) / len(same), 4),
            "sents_per_s_lines": round(len(sentences) / lines_s, 1),
            "sents_per_s_document": round(len(sentences) / doc_s, 1)}


# Ten sentences aligned by hand: French, the English of the main job's checkpoint, and the
# word links (source-output, Pharaoh; words split at spaces, punctuation attached).
GOLD_ALIGNMENTS = [
    ("Un homme fait du vélo dans la rue.", "A man is riding a bicycle down the street.",
     "0-0 1-1 2-2 2-3 3-4 4-5 5-6 6-7 7-8"),
    ("Une femme lit un livre sur la plage.", "A woman reads a book on the beach.",
     "0-0 1-1 2-2 3-3 4-4 5-5 6-6 7-7"),
    ("Deux enfants jouent au ballon dans le parc.", "Two children are playing ball in the park.",
     "0-0 1-1 2-2 2-3 3-4 4-4 5-5 6-6 7-7"),
    ("Le chien noir court dans l'herbe.", "The black dog is running through the grass.",
     "0-0 2-1 1-2 3-3 3-4 4-5 5-6 5-7"),
    ("Un garçon saute dans la piscine.", "A boy is jumping into the pool.",
     "0-0 1-1 2-2 2-3 3-4 4-5 5-6"),
    ("Une petite fille mange une glace.", "A little girl eats a ice.",
     "0-0 1-1 2-2 3-3 4-4 5-5"),
    ("Des gens marchent dans une rue animée.", "People are walking down a busy street.",
     "0-0 1-0 2-1 2-2 3-3 4-4 6-5 5-6"),
    ("Un homme en chemise bleue joue de la guitare.", "A man in a blue shirt plays guitar.",
     "0-0 1-1 2-2 4-4 3-5 5-6 8-7"),
    ("Le chat dort sur le canapé.", "The cat sleeps on the couch.",
     "0-0 1-1 2-2 3-3 4-4 5-5"),
    ("Une femme âgée est assise sur un banc.", "An elderly woman is sitting on a bench.",
     "0-0 2-1 1-2 3-3 4-4 5-5 6-6 7-7"),
]


def alignment_section(translator) -> dict:
    """Alignment error rate (Och & Ney 2003, every gold link sure) of the attention alignments
    on the hand-aligned sentences whose greedy translation is the English aligned by hand."""
    from ..decoding.alignment import word_alignment
    from ..decoding.output import pharaoh

    rs = translator.with_decode(beam_size=1).translations(
        [f for f, _, _ in GOLD_ALIGNMENTS], attention=True)
    found = gold = hits = compared = 0
    for r, (_, english, links) in zip(rs, GOLD_ALIGNMENTS):
        if r.text != english:
            continue
        compared += 1
        mine = set(pharaoh(word_alignment(
            r, translator.vocab.tgt_pieces(r.hypothesis.tokens))).split())
        want = set(links.split())
        found, gold, hits = found + len(mine), gold + len(want), hits + len(mine & want)
    return {"sentences": compared,
            "aer": round(1 - 2 * hits / (found + gold), 4) if compared else None}
