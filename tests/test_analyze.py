"""scripts/analyze.py: BLEU by length for two checkpoints on one plot, and the worst sentences."""

import json
import subprocess
import sys

import pytest

from seq2seq.evaluation.analyze import length_buckets, worst_sentences

from .helpers import ROOT


def test_length_buckets_cover_every_sentence_once():
    lengths = [3, 8, 9, 12, 40, 7]
    buckets = length_buckets(lengths, [0, 8, 11, 1000])
    assert buckets == [("0-7", [0, 5]), ("8-10", [1, 2]), ("11+", [3, 4])]


def test_worst_sentences_come_first():
    rows = worst_sentences(["a", "b", "c"], ["the cat sleeps", "a dog", "the sun"],
                           ["the cat sleeps", "xyz", "the sun shines"], 2)
    assert [r["line"] for r in rows] == [2, 3]
    assert rows[0]["chrf"] < rows[1]["chrf"]


@pytest.mark.slow
def test_script_compares_two_checkpoints(trained, script_env, tmp_path):
    other = trained.parent / "step-0000100.pt"
    out = tmp_path / "analysis"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "analyze.py"),
                        f"checkpoints=[{trained},{other}]", "labels=[best,early]", "worst=5",
                        "buckets=[0,5,7,1000]", f"hydra.run.dir={out}"],
                       env=script_env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "length_bleu.json").read_text())
    assert list(report["models"]) == ["best", "early"]
    assert sum(report["sentences"]) == 20  # every sentence of the toy test set, once
    for m in report["models"].values():
        assert len(m["bleu_by_length"]) == len(report["buckets"])
    assert (out / "length_bleu.png").stat().st_size > 1000
    worst = (out / "worst.md").read_text().splitlines()
    assert worst[2] == "| line | chrF | source | reference | output |" and len(worst) == 4 + 5
    assert "| best |" in r.stdout
