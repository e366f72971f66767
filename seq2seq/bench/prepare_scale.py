"""Preparation at scale: a synthetic corpus of N pairs made from the real corpora (random pairs
of sentence pairs joined, so that SentencePiece and the filters do real work), prepared by
`seq2seq-prepare data=files`, then trained on. Reports pairs/s of each phase, the peak
RSS of preparation, the seconds until training has made its first step, and the peak RSS of a
short training run beside the same run on Multi30k."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .commands import command


def synthetic_corpus(pairs: list[tuple[str, str]], n: int, folder: Path, seed: int = 0) -> dict:
    """N training pairs (two random pairs joined) and small dev/test sets, as plain files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train.fr", "w") as fr, open(folder / "train.en", "w") as en:
        for _ in range(n):
            (f1, e1), (f2, e2) = rng.choice(pairs), rng.choice(pairs)
            fr.write(f"{f1} {f2}\n")
            en.write(f"{e1} {e2}\n")
    for split, size in (("dev", 500), ("test", 500)):
        chosen = rng.sample(pairs, size)
        (folder / f"{split}.fr").write_text("".join(f + "\n" for f, _ in chosen))
        (folder / f"{split}.en").write_text("".join(e + "\n" for _, e in chosen))
    return {"train": [{"name": "synthetic", "src": str(folder / "train.fr"),
                       "tgt": str(folder / "train.en")}],
            "valid": [{"name": "dev", "src": str(folder / "dev.fr"),
                       "tgt": str(folder / "dev.en")}],
            "test": [{"name": "test", "src": str(folder / "test.fr"),
                      "tgt": str(folder / "test.en")}]}


def _overrides(files: dict) -> list[str]:
    def items(specs):
        return "[" + ",".join("{" + ",".join(f"{k}:'{v}'" for k, v in s.items()) + "}"
                              for s in specs) + "]"

    return ["data=files", "data.name=synthetic"] + [f"data.files.{part}={items(files[part])}"
                                                      for part in ("train", "valid", "test")]


def _measured(cmd: list[str], env: dict) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed: {err.decode()[-800:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def prepare_scale(pairs: list[tuple[str, str]], sizes: list[int], threads: int, log,
                  extra: list[str] = ()) -> list[dict]:
    """`extra`: model and train overrides for the training runs (no data= ones)."""
    scratch = Path(tempfile.mkdtemp(prefix="seq2seq-scale-"))  # corpora, caches, runs: removed
    try:
        return _prepare_scale(pairs, sizes, threads, log, extra, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _prepare_scale(pairs: list[tuple[str, str]], sizes: list[int], threads: int, log,
                   extra: list[str], scratch: Path) -> list[dict]:
    out = []
    env = {**os.environ, "SEQ2SEQ_CACHE": str(scratch / "cache")}
    train_cmd = command("train")
    common = [f"train.threads={threads}", "train.max_minutes=0", "train.keep_checkpoints=0",
              "train.precision=fp32"]
    keys = {c.split("=")[0] for c in common} | {"train.max_steps", "train.valid_every"}
    common += [o for o in extra if o.split("=")[0] not in keys and not o.startswith("data")]
    for n in sizes:
        folder = scratch / f"pairs-{n}"
        log(f"  {n:,} synthetic pairs ...")
        files = synthetic_corpus(pairs, n, folder / "corpus")
        over = _overrides(files)
        seconds, rss = _measured([*command("prepare_data"),
                                  *over, f"threads={threads}",
                                  f"hydra.run.dir={folder / 'prep'}"], env)
        cache = Path(env["SEQ2SEQ_CACHE"]) / "prepared"
        meta = json.loads(next(cache.glob("synthetic-*/sizes.json")).read_text())
        t = meta["seconds"]
        start_s, _ = _measured(train_cmd + over + common + [
            "train.max_steps=1", f"hydra.run.dir={folder / 'first'}"], env)
        _, train_rss = _measured(train_cmd + over + common + [
            "train.max_steps=30", "train.valid_every=30", f"hydra.run.dir={folder / 'run'}"],
            env)
        if len(list(cache.glob("synthetic-*"))) != 1:
            raise RuntimeError("training prepared the corpus again instead of reusing it")
        for p in cache.glob("synthetic-*"):
            p.rename(p.with_name(f"done-{n}-{p.name}"))  # keep, but out of the next size's way
        out.append({"pairs": n, "kept": meta["sizes"]["files.synthetic"],
                    "prepare_s": round(seconds, 1), "phase_s": t,
                    "pairs_per_s_without_vocabulary": round(n / max(t["total"] - t["vocabulary"],
                                                                    1e-9)),
                    "pairs_per_s_total": round(n / seconds),
                    "prepare_peak_rss_mb": round(rss),
                    "train_first_step_s": round(start_s, 1),
                    "train_peak_rss_mb": round(train_rss)})
    m30k_over = ["data=multi30k"] + common
    _, m30k_rss = _measured(train_cmd + m30k_over + [
        "train.max_steps=30", "train.valid_every=30",
        f"hydra.run.dir={scratch / 'multi30k-run'}"],
        {**os.environ})
    for row in out:
        row["multi30k_train_peak_rss_mb"] = round(m30k_rss)
    return out
