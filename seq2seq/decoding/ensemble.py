"""Several checkpoints as one translator: ensemble decoding and checkpoint averaging.

- `Ensemble`: at every search step, the models' next-token distributions are averaged
  (log of the mean probability); each model keeps its own encoder states. It has the interface
  search expects (`encode`, `step_log_probs`), so greedy and beam search run unchanged.
- `average_checkpoints`: the element-wise mean of the weights of checkpoints of one training
  run (e.g. its last few validations) — one model, as fast as any other, often a little better.
Both require the same vocabulary; averaging also requires the same model config.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..checkpoint import load_checkpoint, tensor_identity
from ..errors import Seq2SeqError
from ..model.decoder import DecoderState
from ..model.encoder_decoder import Seq2Seq


@dataclass
class EnsembleState:
    """One decoder state per model, reordered together."""

    states: list[DecoderState]

    def select(self, index: torch.Tensor) -> EnsembleState:
        return EnsembleState([s.select(index) for s in self.states])

    def reorder_beams(self, index: torch.Tensor) -> EnsembleState:
        return EnsembleState([s.reorder_beams(index) for s in self.states])


class Ensemble(nn.Module):
    """Models sharing a target vocabulary, decoded together."""

    def __init__(self, models: Sequence[Seq2Seq]):
        super().__init__()
        self.models = nn.ModuleList(models)

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor) -> EnsembleState:
        return EnsembleState([m.encode(src, src_lens) for m in self.models])

    def step_log_probs(self, y: torch.Tensor, state: EnsembleState):
        """y (n, 1) → log of the mean of the models' probabilities (n, V), new state, and the
        first model's attention weights (n, 1, S)."""
        outs = [m.step_log_probs(y, s) for m, s in zip(self.models, state.states)]
        logp = torch.stack([o[0] for o in outs])  # (M, n, V)
        mean = torch.logsumexp(logp, dim=0) - math.log(len(outs))  # (n, V)
        return mean, EnsembleState([o[1] for o in outs]), outs[0][2]


def check_same_vocabulary(ckpts: Sequence[dict], paths: Sequence) -> None:
    for ckpt, path in zip(ckpts[1:], paths[1:]):
        if ckpt["vocab"] != ckpts[0]["vocab"]:
            raise Seq2SeqError(f"checkpoint {path} has another vocabulary than {paths[0]}; "
                               f"ensembles and averages need models trained on the same pieces")


def average_checkpoints(paths: Sequence) -> dict:
    """A checkpoint (without training state) whose weights are the mean of `paths`' weights;
    config and vocabulary of the first, which all must share."""
    if not paths:
        raise Seq2SeqError("no checkpoints to average")
    ckpts = [load_checkpoint(p) for p in paths]
    check_same_vocabulary(ckpts, paths)
    for ckpt, path in zip(ckpts[1:], paths[1:]):
        if ckpt["config"]["model"] != ckpts[0]["config"]["model"]:
            raise Seq2SeqError(f"checkpoint {path} has another model config than {paths[0]}; "
                               f"only checkpoints of one model can be averaged (an ensemble "
                               f"can mix them)")
    weights, seen = {}, {}  # tied weights (the same memory) stay one tensor in the average
    for key, first in ckpts[0]["model"].items():
        tied = seen.setdefault(tensor_identity(first), key)
        if tied != key:
            weights[key] = weights[tied]
        elif first.is_floating_point():
            weights[key] = torch.stack([c["model"][key].float() for c in ckpts]).mean(0).to(
                first.dtype)
        else:
            weights[key] = first
    metrics = {"averaged": [str(p) for p in paths],
               "steps": [(c.get("metrics") or {}).get("step") for c in ckpts]}
    return {"model": weights, "config": ckpts[0]["config"], "vocab": ckpts[0]["vocab"],
            "train_state": None, "metrics": metrics}


def select_checkpoints(run_dir, last: int | None = None, best: int | None = None) -> list:
    """The step checkpoints (`checkpoints/step-*.pt`) of a training run: the `last` most recent
    or the `best` by validation BLEU, oldest first."""
    from pathlib import Path

    folder = Path(run_dir) / "checkpoints"
    found = sorted(folder.glob("step-*.pt"))
    if not found:
        raise Seq2SeqError(f"no step checkpoints in {folder}; train with "
                           f"train.keep_checkpoints > 0, or name the checkpoints yourself")
    if (last is None) == (best is None):
        raise Seq2SeqError("choose the last N or the best N checkpoints, not both")
    n = last if last is not None else best
    if n < 1:
        raise Seq2SeqError(f"cannot average {n} checkpoints; give N >= 1")
    if last is not None:
        return found[-n:]
    scored = [(load_checkpoint(p)["metrics"].get("valid_bleu", float("-inf")), p) for p in found]
    chosen = {p for _, p in sorted(scored, key=lambda x: -x[0])[:n]}
    return [p for p in found if p in chosen]
