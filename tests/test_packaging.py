"""seq2seq as a package: what pyproject installs, the installed commands, and a wheel used from
an empty folder in a fresh virtual environment, with no repository on the path."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from .helpers import ROOT, toy_pairs

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TINY_MODEL = ["data.spm.vocab_size=300", "model.embed_dim=32", "model.encoder.hidden=32",
              "model.decoder.hidden=64", "model.attention.dim=32"]


def test_every_package_folder_is_installed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts)
               for p in (ROOT / "seq2seq").rglob("__init__.py")}
    assert listed == folders | {"seq2seq.conf"}
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"seq2seq.conf": "conf"}


def test_every_command_has_a_main():
    import importlib

    scripts = PYPROJECT["project"]["scripts"]
    assert {"seq2seq-prepare", "seq2seq-train", "seq2seq-evaluate", "seq2seq-translate",
            "seq2seq-serve", "seq2seq-export", "seq2seq-average", "seq2seq-analyze",
            "seq2seq-report", "seq2seq-benchmark", "seq2seq-distill"} == set(scripts)
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))
        # the clone's scripts/ wrap the same function
        wrapper = ROOT / "scripts" / f"{module.rsplit('.', 1)[1]}.py"
        assert f"from {module} import main" in wrapper.read_text()


def test_translate_help_describes_the_command():
    r = subprocess.run([sys.executable, "-m", "seq2seq.cli.translate", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    assert "seq2seq-translate: translate French to English with a trained checkpoint" in r.stdout
    assert "seq2seq-translate --checkpoint CKPT < input.fr > output.en" in r.stdout  # examples


def test_importing_the_package_and_the_onnx_path_leaves_torch_out():
    """`import seq2seq` names its API lazily, and translating with --onnx never needs torch."""
    code = ("import sys, seq2seq, seq2seq.cli.translate, seq2seq.export.onnx_runtime; "
            "assert seq2seq.OnnxTranslator and 'torch' not in sys.modules, 'torch imported'; "
            "print(sorted(seq2seq.__all__))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "'Translator'" in r.stdout and "'train'" in r.stdout


def _fresh_venv(where: Path, wheel: Path) -> Path:
    """A new virtual environment holding the wheel; its other dependencies are read from this
    test's environment (a .pth line), which has no seq2seq package folder of its own."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True).stdout
    Path(site.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _write_corpus(folder: Path) -> None:
    """conf/data/files.yaml's example layout: corpus/train.{fr,en}.gz, dev.{fr,en}, test.tsv."""
    pairs = toy_pairs()
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for lang, col in (("fr", 0), ("en", 1)):
        with gzip.open(corpus / f"train.{lang}.gz", "wt", encoding="utf-8") as f:
            f.writelines(p[col] + "\n" for p in pairs[:300])
        (corpus / f"dev.{lang}").write_text("".join(p[col] + "\n" for p in pairs[300:330]))
    (corpus / "test.tsv").write_text("".join(f"{fr}\t{en}\n" for fr, en in pairs[330:]))


@pytest.mark.slow
def test_a_wheel_works_from_an_empty_folder(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(dist), str(ROOT)], check=True,
                   timeout=600, cwd=tmp_path)
    wheel = next(dist.glob("seq2seq-*.whl"))
    python = _fresh_venv(tmp_path / "venv", wheel)
    bin_dir = python.parent
    work = tmp_path / "work"  # the user's folder: nothing of the repository in it
    _write_corpus(work)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SEQ2SEQ_DATA")}
    env.update(SEQ2SEQ_CACHE=str(tmp_path / "cache"), PYTHONIOENCODING="utf-8",
               PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")

    def run(*cmd: str) -> subprocess.CompletedProcess:
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{cmd[0]}: {r.stderr[-2000:]}"
        return r

    where = run(str(python), "-c", "import seq2seq, seq2seq.conf; print(seq2seq.__file__); "
                "print(seq2seq.conf.__file__)").stdout.split()
    assert all(Path(w).is_relative_to(tmp_path / "venv") for w in where)

    prep = run("seq2seq-prepare", "data=files", "data.spm.vocab_size=300")
    assert "files.mine" in prep.stdout and "300 pairs" in prep.stdout
    run("seq2seq-train", "data=files", *TINY_MODEL[1:], "data.spm.vocab_size=300",
        "train.max_steps=30", "train.valid_every=15", "train.max_minutes=0",
        "train.precision=fp32", "train.batch_tokens=400", "train.lr=0.005",
        "hydra.run.dir=runs/tiny")
    ckpt = work / "runs" / "tiny" / "checkpoints" / "best.pt"
    assert ckpt.is_file()
    assert "stopped: reached max_steps=30" in (work / "runs" / "tiny" / "train.log").read_text()

    cli = run("seq2seq-translate", "-c", str(ckpt), "--beam-size", "2", "Le chat noir dort .",
              "La femme court .")
    api = run(str(python), "-c",
              "from seq2seq import Translator; "
              f"tr = Translator.from_checkpoint({str(ckpt)!r}, beam_size=2); "
              "print('\\n'.join(tr.translate(['Le chat noir dort .', 'La femme court .'])))")
    assert cli.stdout == api.stdout and len(cli.stdout.splitlines()) == 2

    run("seq2seq-evaluate", f"checkpoint={ckpt}", "data=files", "data.spm.vocab_size=300",
        "hydra.run.dir=runs/eval")
    assert (work / "runs" / "eval" / "results.json").is_file()
    assert (work / "runs" / "eval" / "files.test.hyp.en").read_text().count("\n") == 30

    # a config folder of the user's own, as the README shows: the installed template, copied
    conf = run(str(python), "-c", "import os, seq2seq.conf; "
               "print(os.path.dirname(seq2seq.conf.__file__))").stdout.strip()
    mine = work / "myconf" / "data" / "mine.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text((Path(conf) / "data" / "files.yaml").read_text().replace("name: files",
                                                                           "name: own"))
    own = run("seq2seq-prepare", "--config-dir", "myconf", "data=mine", "data.spm.vocab_size=300",
              "hydra.run.dir=runs/prep-own")
    assert "prepared own" in own.stdout and "files.dev" in own.stdout
