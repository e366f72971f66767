"""A training run's checkpoints: `best.pt` and `last.pt` (with the state to resume exactly),
`step-N.pt` (weights only, for averaging and ensembles), and resuming from `last.pt`."""

from __future__ import annotations

import random

import torch
from omegaconf import OmegaConf

from ..checkpoint import save_checkpoint
from .ema import ema_state, load_ema
from .state import LoopState, Run


def step_checkpoint_name(step: int) -> str:
    return f"step-{step:07d}.pt"


def _payload(run: Run, train_state: dict | None, metrics: dict) -> dict:
    """A checkpoint: the decoded weights, the resolved config, the vocabulary (SentencePiece
    models included), the training state (or None) and the validation row."""
    return {"model": run.decoded.state_dict(),
            "config": OmegaConf.to_container(run.cfg, resolve=True),
            "vocab": run.prep.vocab.to_dict(), "train_state": train_state, "metrics": metrics}


def save(run: Run, name: str, metrics: dict) -> None:
    """Write `<ckpt_dir>/<name>` (rank 0 only) with everything a resume needs."""
    state = {"optimizer": run.optimizer.state_dict(), "schedule": run.schedule.state_dict(),
             "loop": run.st.to_dict(), "torch_rng": torch.get_rng_state(),
             "rng_per_rank": run.rng_states, "python_rng": random.getstate()}
    if run.ema is not None:  # "model" holds the average; the training weights travel apart
        state.update(weights=run.model.state_dict(), ema=ema_state(run.ema))
    save_checkpoint(_payload(run, state, metrics), run.ckpt_dir / name)


def keep_step_checkpoint(run: Run, row: dict) -> None:
    """Weights of this validation as `step-<step>.pt`, for averaging and ensembles; of those,
    only the last `keep_checkpoints` and the best `keep_checkpoints` stay on disk."""
    st, k = run.st, run.tcfg.keep_checkpoints
    save_checkpoint(_payload(run, None, row), run.ckpt_dir / step_checkpoint_name(st.step))
    kept = [s for s in st.kept if s[0] != st.step] + [[st.step, row["valid_bleu"]]]
    last = {s for s, _ in kept[-k:]}
    best = {s for s, _ in sorted(kept, key=lambda x: -x[1])[:k]}
    for step, _ in kept:
        if step not in last | best:
            (run.ckpt_dir / step_checkpoint_name(step)).unlink(missing_ok=True)
    st.kept = [s for s in kept if s[0] in last | best]


def restore(run: Run, resume: dict) -> None:
    """Weights, optimizer, schedule, loop counters and random state from a `last.pt`."""
    ts = resume["train_state"]
    run.model.load_state_dict(ts["weights"] if "weights" in ts else resume["model"])
    if run.ema is not None and "ema" in ts:
        load_ema(run.ema, resume["model"], ts["ema"])
    run.optimizer.load_state_dict(ts["optimizer"])
    run.schedule.load_state_dict(ts["schedule"])
    run.st = LoopState.from_dict(ts["loop"])
    states = ts.get("rng_per_rank") or [ts["torch_rng"]]
    if run.dist.rank < len(states):
        torch.set_rng_state(states[run.dist.rank])
    else:  # more ranks than the run that wrote it: fresh, distinct streams for the new ones
        torch.manual_seed(run.tcfg.seed + 7919 * run.dist.rank + run.st.step)
    random.setstate(ts["python_rng"])
    run.log(f"resumed from {run.tcfg.resume} at step {run.st.step} (epoch {run.st.epoch + 1})")
