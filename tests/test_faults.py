"""Faults during training and saving: Ctrl-C, kill -9 (also in the middle of a checkpoint
write), and configuration typos on the command line."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from seq2seq.checkpoint import load_checkpoint, save_checkpoint

from .helpers import ROOT, TINY

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers

TRAIN = str(ROOT / "scripts" / "train.py")
ARGS = TINY + ["train.batch_tokens=300", "train.threads=1", "train.max_minutes=0",
               "train.max_steps=100000", "train.patience=0"]


def start_training(run: Path, env, extra=()) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, TRAIN, *ARGS, *extra, f"hydra.run.dir={run}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)


def wait_for_validations(run: Path, n: int, proc: subprocess.Popen, timeout=240) -> None:
    metrics = run / "metrics.jsonl"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("training made no progress")


def test_sigint_writes_last_checkpoint_and_says_how_to_resume(script_env, tmp_path):
    run = tmp_path / "run"
    proc = start_training(run, script_env, ["train.valid_every=15"])
    wait_for_validations(run, 1, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"train.resume={run / 'checkpoints' / 'last.pt'}" in out
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    first_validation = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["step"]
    assert last["train_state"]["loop"]["step"] >= first_validation
    resumed = subprocess.run([sys.executable, TRAIN, *ARGS, "train.valid_every=15",
                              f"train.max_steps={last['train_state']['loop']['step'] + 5}",
                              f"train.resume={run / 'checkpoints' / 'last.pt'}",
                              f"hydra.run.dir={tmp_path / 'resumed'}"],
                             env=script_env, capture_output=True, text=True, cwd=ROOT,
                             timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout


def test_kill_9_at_random_moments_keeps_checkpoints_loadable(script_env, tmp_path):
    """Saves every 3 steps, killed at random moments: whatever is on disk loads, and resuming
    loses at most one validation interval."""
    rng = random.Random(7)
    run = tmp_path / "run"
    resume: list[str] = []
    for attempt in range(3):
        proc = start_training(run, script_env, ["train.valid_every=3", *resume])
        wait_for_validations(run, 2 + 2 * attempt, proc)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.kill()
        proc.communicate()
        ckpts = run / "checkpoints"
        steps = {}
        for name in ("best.pt", "last.pt"):
            steps[name] = load_checkpoint(ckpts / name)["train_state"]["loop"]["step"]
        logged = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert steps["last.pt"] >= max(logged) - 3
        kept = [p for p in ckpts.iterdir() if re.fullmatch(r"step-\d{7}\.pt", p.name)]
        for path in kept:  # the step checkpoints kept for averaging load too
            load_checkpoint(path)
        assert not [p for p in ckpts.iterdir() if p.name not in ("best.pt", "last.pt")
                    and p not in kept and not p.name.endswith(".tmp")]
        resume = [f"train.resume={ckpts / 'last.pt'}"]


KILL_MID_WRITE = textwrap.dedent("""
    import os, signal, sys, torch
    from seq2seq.checkpoint import save_checkpoint

    path = sys.argv[1]
    real_save = torch.save

    def half_then_die(obj, f, *a, **k):
        f.write(b"PK\\x03\\x04" + b"x" * 100_000)  # a partial archive
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = half_then_die
    save_checkpoint({"model": {"w": torch.zeros(3)}, "config": {}, "vocab": {}}, path)
""")


def test_kill_9_in_the_middle_of_a_checkpoint_write(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(3)}, "config": {}, "vocab": {}}, path)
    proc = subprocess.run([sys.executable, "-c", KILL_MID_WRITE, str(path)], cwd=ROOT,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL
    torch.testing.assert_close(load_checkpoint(path)["model"]["w"], torch.ones(3))


@pytest.mark.parametrize("override,message", [
    ("train.lrr=0.1", "Could not override 'train.lrr'"),
    ("model=transformer", "Could not find 'model/transformer' (available: gru_attention"),
    ("train.lr=fast", "train.lr=fast: must be a number > 0"),
    ("train.max_steps=-1", "train.max_steps=-1: must be an integer >= 0"),
    ("train.precision=maybe", "train.precision=maybe: choose one of"),
    ("model.encoder.hidden=0", "model.encoder.hidden=0: must be a positive integer"),
])
def test_configuration_errors_are_one_line(script_env, tmp_path, override, message):
    r = subprocess.run([sys.executable, TRAIN, *TINY, override, f"hydra.run.dir={tmp_path}"],
                       env=script_env, capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
