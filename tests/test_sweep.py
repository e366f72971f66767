"""Hydra sweeps: a multirun of two settings writes two run dirs and a summary of their
validation BLEU; the Optuna search composes and runs (two trials); the SLURM launcher config
composes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .helpers import CONF, ROOT, TINY

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers

TRAIN = str(ROOT / "scripts" / "train.py")
BASE = TINY + ["train.threads=1", "train.max_minutes=0", "train.max_steps=20",
               "train.valid_every=10", "train.keep_checkpoints=0"]
FAST = BASE + ["train.batch_tokens=300"]


def test_multirun_writes_a_run_dir_per_job_and_a_summary(script_env, tmp_path):
    sweep = tmp_path / "sweep"
    r = subprocess.run([sys.executable, TRAIN, "-m", *FAST, "model.dropout=0.1,0.3",
                        f"hydra.sweep.dir={sweep}"], env=script_env, capture_output=True,
                       text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    for job in ("0", "1"):
        assert (sweep / job / "checkpoints" / "best.pt").is_file()
    rows = json.loads((sweep / "summary.json").read_text())
    assert sorted(r["varied"][0] for r in rows) == ["model.dropout=0.1", "model.dropout=0.3"]
    assert all(r["status"] == "completed" and r["valid_bleu"] >= 0 for r in rows)
    assert rows[0]["valid_bleu"] >= rows[1]["valid_bleu"]  # best first
    table = (sweep / "summary.md").read_text()
    assert "| valid BLEU | settings | run dir |" in table and "| model.dropout=0.3 |" in table


def test_optuna_search_runs_two_trials(script_env, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason='the sweep extra is not '
                        'installed (pip install -e ".[sweep]")')
    r = subprocess.run([sys.executable, TRAIN, "-m", "hparams_search=optuna", *BASE,
                        "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2",
                        "model.decoder.hidden=choice(32,64)",
                        "train.batch_tokens=choice(300,400)",
                        f"hydra.sweep.dir={tmp_path / 'sweep'}"], env=script_env,
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(json.loads((tmp_path / "sweep" / "summary.json").read_text())) == 2
    assert (tmp_path / "sweep" / "optimization_results.yaml").is_file()


def test_slurm_launcher_config_composes():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason='the slurm extra is '
                        'not installed (pip install -e ".[slurm]")')
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["hydra/launcher=slurm"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.gpus_per_node == 1
