"""Whole commands the benchmark runs and measures from outside: a phase in its own process, the
translate command (start-up included), streaming through it, and training under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def command(module: str) -> list[str]:
    """A command of the package (`seq2seq.cli.<module>`) run by this interpreter: what
    `seq2seq-<verb>` runs, from a clone or an installed package alike."""
    return [sys.executable, "-m", f"seq2seq.cli.{module}"]


def run_phase(name: str, args: dict, threads: int, env: dict | None = None) -> dict:
    """Run one phase in a subprocess; its JSON result plus its own peak RSS in MB, minor page
    faults and system / user CPU seconds (of the whole subprocess)."""
    cmd = [sys.executable, "-m", "seq2seq.bench", name, json.dumps(args), str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark phase {name} failed (exit "
                           f"{os.waitstatus_to_exitcode(status)})")
    result = json.loads(out)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["minor_faults"] = usage.ru_minflt
    result["system_s"], result["user_s"] = round(usage.ru_stime, 1), round(usage.ru_utime, 1)
    return result


def translate_cmd(model: list[str], threads: int, *options: str) -> list[str]:
    """seq2seq-translate with `model` (["--checkpoint", X] or ["--onnx", DIR])."""
    return [*command("translate"), *model, "--threads", str(threads), *options]


def translate_command(model: list[str], src: Path, beam: int, threads: int) -> float:
    """Wall seconds of the whole `seq2seq-translate --input` command (start-up included)."""
    cmd = translate_cmd(model, threads, "--beam-size", str(beam), "--input", str(src),
                        "--output", os.devnull)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def startup_seconds(model: list[str], threads: int) -> float:
    """Wall seconds of translating one short sentence: mostly imports and loading the model."""
    start = time.perf_counter()
    subprocess.run(translate_cmd(model, threads, "Un chat."), check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def stream_rss(checkpoint: str, lines: int, threads: int) -> dict:
    """Peak RSS and time of `seq2seq-translate` reading `lines` short lines from a pipe."""
    cmd = translate_cmd(["--checkpoint", checkpoint], threads, "--batch-size", "256")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    sentences = [b"Un chien court.\n", b"Une femme lit un livre.\n", b"Deux enfants jouent.\n"]
    for i in range(lines):
        proc.stdin.write(sentences[i % 3])
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("seq2seq-translate failed while streaming")
    return {"lines": lines, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "seconds": round(time.perf_counter() - start, 1)}


def torchrun_throughput(overrides: list[str], ranks: int, threads: int, steps: int) -> dict:
    """Target tokens/s of the train command with `ranks` processes (torchrun, gloo) or one plain
    process, over `steps` steps after as many warm-up steps (from its metrics.jsonl)."""
    run = Path(tempfile.mkdtemp(prefix="seq2seq-ddp-"))
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
              f"--nproc_per_node={ranks}"] if ranks > 1 else [sys.executable]
    mine = [f"train.threads={threads}", f"train.max_steps={2 * steps}",
            f"train.valid_every={steps}", "train.max_minutes=0", "train.keep_checkpoints=0",
            "train.precision=fp32", f"hydra.run.dir={run}"]
    keys = {m.split("=")[0] for m in mine}
    kept = [o for o in overrides if o.split("=")[0] not in keys]  # Hydra refuses a key twice
    cmd = [*launch, "-m", "seq2seq.cli.train", *kept, *mine]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return {"ranks": ranks, "threads_per_rank": threads,
            "tokens_per_s": rows[1]["tokens_per_s"]}  # the second window: warm
