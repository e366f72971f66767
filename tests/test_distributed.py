"""Two CPU processes under torchrun (gloo): the same result as one process on the same global
batches, only rank 0 writes, checkpoints move between rank counts, Ctrl-C and a dying rank stop
every process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seq2seq.checkpoint import load_checkpoint

from .helpers import ROOT, TINY

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers

TRAIN = str(ROOT / "scripts" / "train.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
COMMON = TINY + ["train.batch_tokens=300", "train.threads=1", "train.max_minutes=0",
                 "model.dropout=0", "train.precision=fp32", "train.valid_every=4",
                 "train.patience=0", "train.keep_checkpoints=0"]


def two_ranks(run: Path, extra: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*TORCHRUN, TRAIN, *COMMON, *extra, f"hydra.run.dir={run}"],
                          env=env, capture_output=True, text=True, cwd=ROOT, timeout=300, **kw)


def one_process(run: Path, extra: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TRAIN, *COMMON, "train.accumulate=2", *extra,
                           f"hydra.run.dir={run}"], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def weights(run: Path) -> dict:
    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    """Equal up to float noise: MKL's rounding differs between processes, and Adam turns it
    into differences of a small fraction of one step (lr 0.005) on near-zero gradients; other
    batches, or gradients not averaged, move weights by whole steps (about 0.04 after 8)."""
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-3)


def test_two_ranks_train_like_one_process_and_resume_in_one(script_env, tmp_path):
    ddp = two_ranks(tmp_path / "ddp", ["train.max_steps=8"], script_env)
    assert ddp.returncode == 0, ddp.stderr
    assert "2 ranks (gloo, cpu); each step: 2 batches of 300 tokens" in ddp.stdout
    single = one_process(tmp_path / "single", ["train.max_steps=8"], script_env)
    assert single.returncode == 0, single.stderr
    assert_same_weights(weights(tmp_path / "ddp"), weights(tmp_path / "single"))
    a = [json.loads(x) for x in (tmp_path / "ddp/metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "single/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in a] == [r["step"] for r in b] == [4, 8]
    assert a[-1]["train_loss"] == pytest.approx(b[-1]["train_loss"], rel=1e-3)
    # only rank 0 wrote: the run dir holds one set of files, and nothing landed elsewhere
    files = sorted(str(p.relative_to(tmp_path / "ddp")) for p in (tmp_path / "ddp").rglob("*")
                   if p.is_file() and ".hydra" not in p.parts)
    assert files == ["checkpoints/best.pt", "checkpoints/last.pt", "curves.png",
                     "metrics.jsonl", "result.json", "train.log"]
    assert not (ROOT / "checkpoints").exists()
    # the 2-rank checkpoint continues in one process as the 2-rank run would have
    resumed = one_process(tmp_path / "resumed", [
        "train.max_steps=12", f"train.resume={tmp_path / 'ddp/checkpoints/last.pt'}"],
        script_env)
    assert resumed.returncode == 0, resumed.stderr
    longer = two_ranks(tmp_path / "ddp12", ["train.max_steps=12"], script_env)
    assert longer.returncode == 0, longer.stderr
    assert_same_weights(weights(tmp_path / "resumed"), weights(tmp_path / "ddp12"))


@pytest.fixture
def launched():
    """Start torchrun runs; whatever a failing test leaves running is killed afterwards."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in getattr(proc, "ranks", {}).values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def start_two_ranks(run: Path, env: dict, launched: list) -> subprocess.Popen:
    launched.append(subprocess.Popen([*TORCHRUN, TRAIN, *COMMON, "train.max_steps=100000",
                             "train.valid_every=10", "train.dist_timeout_minutes=1",
                             f"hydra.run.dir={run}"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True))
    return launched[-1]


def wait_for_validation(run: Path, proc: subprocess.Popen, timeout=240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (run / "metrics.jsonl").exists():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("no validation")


def workers(launcher: int) -> dict[int, int]:
    """{rank: pid} of the training processes started by the torchrun process `launcher`."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    out = {}
    for pid in parent:
        p = pid
        while p in parent and p != launcher and p > 1:
            p = parent[p]
        if p != launcher or pid == launcher:
            continue
        try:
            env = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        rank = [e for e in env if e.startswith(b"RANK=")]
        if rank and b"train.py" in cmd:
            out[int(rank[0][5:])] = pid
    return out


def alive(pids) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
            if "Z" not in (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1][:3]:
                return True
        except (ProcessLookupError, FileNotFoundError):
            continue
    return False


def two_ranks_validated(run: Path, env: dict, launched: list) -> tuple:
    """A 2-rank torchrun training that has validated once, and its {rank: pid}."""
    proc = start_two_ranks(run, env, launched)
    wait_for_validation(run, proc)
    ranks = proc.ranks = workers(proc.pid)
    assert set(ranks) == {0, 1}
    return proc, ranks


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_ctrl_c_to_the_torchrun_group_stops_every_rank(script_env, tmp_path, launched):
    run = tmp_path / "run"
    proc, ranks = two_ranks_validated(run, script_env, launched)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in out
    assert f"train.resume={run / 'checkpoints' / 'last.pt'}" in out
    assert out.count("stopped: interrupted") == 1  # rank 0 alone reports and saves
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["train_state"]["loop"]["step"] >= 10
    # the ranks exit 130; torchrun reports its own interruption with status 1
    assert proc.returncode != 0
    deadline = time.time() + 30
    while alive(ranks.values()) and time.time() < deadline:
        time.sleep(0.2)
    assert not alive(ranks.values()), "a process was left behind"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_rank_that_dies_stops_the_others(script_env, tmp_path, launched):
    run = tmp_path / "run"
    proc, ranks = two_ranks_validated(run, script_env, launched)
    os.kill(ranks[1], signal.SIGKILL)
    start = time.time()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert time.time() - start < 90
    deadline = time.time() + 30
    while alive(ranks.values()) and time.time() < deadline:
        time.sleep(0.2)
    assert not alive(ranks.values()), "a process was left behind"
    assert load_checkpoint(run / "checkpoints" / "last.pt")["train_state"]["loop"]["step"] >= 10
