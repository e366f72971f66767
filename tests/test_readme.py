"""The README: its Python example runs as written, its commands name commands that exist, and
it stays a front door (at most 300 lines, depth in docs/)."""

from __future__ import annotations

import re
import shutil

import pytest

from .helpers import ROOT, TINY, TINY_TRAIN

README = (ROOT / "README.md").read_text()


def block_after(marker: str, language: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)\n```", README, re.S)
    assert match, f"README has no ```{language} block after <!-- {marker} -->"
    return match.group(1)


def test_the_python_example_runs(trained, tmp_path, monkeypatch, capsys):
    """The example, unchanged, in a folder where outputs/main holds a tiny trained model."""
    code = block_after("api-example", "python")
    (tmp_path / "outputs" / "main" / "checkpoints").mkdir(parents=True)
    shutil.copy(trained, tmp_path / "outputs" / "main" / "checkpoints" / "best.pt")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert isinstance(scope["english"], list) and len(scope["english"]) == 2
    assert all(isinstance(x, str) and x for x in scope["english"])
    assert isinstance(scope["one"], str)
    assert len(scope["best"].nbest) == 3
    scores = [c.score for c in scope["best"].nbest]
    assert scores == sorted(scores, reverse=True)
    printed = capsys.readouterr().out.splitlines()
    assert [line.split("  ", 1)[1] for line in printed] == [c.text for c in scope["best"].nbest]


@pytest.mark.slow
def test_the_training_example_runs(toy_root, tmp_path, monkeypatch):
    """seq2seq.train / seq2seq.evaluate with overrides, as the README shows them (shrunk)."""
    import seq2seq

    monkeypatch.setenv("SEQ2SEQ_DATA", str(toy_root))
    monkeypatch.setenv("SEQ2SEQ_CACHE", str(tmp_path / "cache"))
    tiny = TINY + TINY_TRAIN + ["train.max_steps=20", "train.valid_every=10"]
    summary = seq2seq.train(tiny, run_dir=tmp_path / "nb")
    assert summary["step"] == 20 and (tmp_path / "nb" / "checkpoints" / "best.pt").is_file()
    results = seq2seq.evaluate([f"checkpoint={summary['checkpoint_dir']}/best.pt",
                                *[o for o in TINY if o.startswith("data")]],
                               run_dir=tmp_path / "eval")
    assert set(results["sets"]) == {"multi30k.test_2016_flickr", "multi30k.test_2017_flickr",
                                    "multi30k.test_2017_mscoco"}


def test_the_commands_it_shows_exist():
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    used = set(re.findall(r"\b(seq2seq-[a-z]+)\b", README))
    assert used and used <= set(scripts)


def test_it_is_a_front_door():
    assert len(README.splitlines()) <= 300
    for doc in re.findall(r"\]\((docs/[a-z_]+\.md)", README):
        assert (ROOT / doc).is_file(), doc
    for marker in ("main-command", "test-command"):
        assert f"<!-- {marker} -->" in README
