import json
import subprocess
import sys

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers


def test_evaluate_matches_sacrebleu_cli(trained, script_env, tmp_path):
    out = tmp_path / "eval"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"),
                        "data=multi30k", f"checkpoint={trained}", f"hydra.run.dir={out}"],
                       env=script_env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "| multi30k.test_2016_flickr |" in r.stdout
    results = json.loads((out / "results.json").read_text())
    scores = results["sets"]["multi30k.test_2016_flickr"]
    assert scores["bleu"] > 50  # the toy task is easy
    assert scores["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    import gzip

    from omegaconf import OmegaConf

    from seq2seq.data.cleaning import normalize

    norm = OmegaConf.load(ROOT / "conf" / "data" / "multi30k.yaml").normalize
    refs = gzip.open(f"{script_env['SEQ2SEQ_DATA']}/multi30k/test_2016_flickr.en.gz", "rt").read()
    ref = tmp_path / "ref.en"
    ref.write_text("".join(normalize(x, norm) + "\n" for x in refs.splitlines()))
    cli = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i",
                          str(out / "multi30k.test_2016_flickr.hyp.en"), "-m", "bleu", "chrf",
                          "-b", "-w", "2"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    bleu, chrf = json.loads(cli.stdout)
    assert bleu == scores["bleu"] and chrf == scores["chrf"]
    rho = scores["confidence_chrf_spearman"]  # None where every sentence scores the same
    assert rho is None or -1 <= rho <= 1
    assert "confidence ~ sentence chrF (Spearman)" in r.stdout


def test_evaluate_with_a_glossary_reports_the_terms_placed(trained, script_env, tmp_path):
    terms = tmp_path / "terms.tsv"
    terms.write_text("chat\tdog\nplage\tgarden\n", encoding="utf-8")
    out = tmp_path / "eval"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"),
                        "data=multi30k", f"checkpoint={trained}", "decode=beam5",
                        f"glossary={terms}", f"hydra.run.dir={out}"],
                       env=script_env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    called = [s for s in results["sets"].values() if s.get("glossary_terms")]
    assert called and all(s["glossary_terms_placed"] >= 0.99 for s in called)
    assert "in the translations" in r.stdout


def test_evaluate_requires_a_checkpoint(script_env, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"),
                        f"hydra.run.dir={tmp_path}"], env=script_env, capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
    assert r.returncode != 0 and "checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_report_adds_up_an_ensembles_members(trained):
    from seq2seq.evaluation.report import checkpoint_facts

    one = checkpoint_facts(str(trained))
    both = checkpoint_facts(f"ensemble of {trained}, {trained}")
    averaged = checkpoint_facts(f"average of {trained}, {trained}")
    assert one["parameters"] > 0 and one["minutes"] > 0
    assert both["parameters"] == 2 * one["parameters"]
    assert both["minutes"] == pytest.approx(2 * one["minutes"])
    assert averaged["parameters"] == one["parameters"]  # one model
    assert checkpoint_facts(f"ensemble of {trained}, missing.pt") == {}
