"""sacreBLEU test sets by name: read from a sacreBLEU cache folder laid out here (no network),
and one line saying how to provide a set that is missing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .helpers import ROOT, toy_pairs

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers


def lay_out_wmt14(folder, pairs):
    """What `sacrebleu -t wmt14 -l fr-en` leaves in its cache: one text file per field."""
    d = folder / "wmt14"
    d.mkdir(parents=True)
    fields = {"src": [f for f, _ in pairs], "ref": [e for _, e in pairs],
              "docid": ["doc1"] * len(pairs), "genre": ["news"] * len(pairs),
              "origlang": ["fr"] * len(pairs)}
    for field, lines in fields.items():
        (d / f"wmt14.fr-en.{field}").write_text("".join(x + "\n" for x in lines))


def evaluate(trained, env, out, *extra):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"),
                           f"checkpoint={trained}", "data=multi30k", "data.test_splits=[]",
                           f"hydra.run.dir={out}", *extra], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_a_sacrebleu_test_set_from_its_cache_folder(trained, script_env, tmp_path):
    lay_out_wmt14(tmp_path / "sacrebleu", toy_pairs()[:40])
    env = {**script_env, "SACREBLEU": str(tmp_path / "sacrebleu")}
    r = evaluate(trained, env, tmp_path / "eval", "testsets=[wmt14]")
    assert r.returncode == 0, r.stderr
    assert "| sacrebleu.wmt14 |" in r.stdout
    scores = json.loads((tmp_path / "eval" / "results.json").read_text())["sets"]
    assert list(scores) == ["sacrebleu.wmt14"] and scores["sacrebleu.wmt14"]["sentences"] == 40
    assert scores["sacrebleu.wmt14"]["bleu"] > 50  # the toy model knows these sentences


def test_a_missing_test_set_offline_is_one_line(trained, script_env, tmp_path):
    env = {**script_env, "SACREBLEU": str(tmp_path / "empty"), "http_proxy": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9"}  # no network, whatever the machine has
    r = evaluate(trained, env, tmp_path / "eval", "testsets=[wmt15]")
    assert r.returncode == 2
    line = r.stderr.strip()
    assert line.startswith("error: sacreBLEU test set wmt15 (fr-en) is not in ")
    assert "sacrebleu -t wmt15 -l fr-en" in line and "\n" not in line
    r = evaluate(trained, script_env, tmp_path / "eval2", "testsets=[wmt99]")
    assert r.returncode == 2 and "sacreBLEU has no fr-en test set 'wmt99'" in r.stderr
