"""Several checkpoints as one translator: ensemble decoding and checkpoint averaging.

- `Ensemble`: at every search step, the models' next-token distributions are averaged
  (log of the mean probability); each model keeps its own encoder states. It has the interface
  search expects (`encode`, `step_log_probs`), so greedy and beam search run unchanged.
- `average_checkpoints`: the element-wise mean of the weights of checkpoints of one training
  run (e.g. its last few validations) — one model, as fast as any other, often a little better.
  With weights, an interpolation: a fine-tuned model and the checkpoint it started from,
  e.g. 0.7 / 0.3, keep more of what the start knew for a little of what fine-tuning gained
  (WiSE-FT, Wortsman et al. 2022).
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


def average_checkpoints(paths: Sequence, weights: Sequence[float] | None = None) -> dict:
    """A checkpoint (without training state) whose weights are the mean of `paths`' weights,
    or their weighted mean (`weights`, one per path, normalised to sum to 1); config and
    vocabulary of the first, which all must share."""
    if not paths:
        raise Seq2SeqError("no checkpoints to average")
    coef = mixing_weights(weights, len(paths))
    ckpts = [load_checkpoint(p) for p in paths]
    check_same_vocabulary(ckpts, paths)
    for ckpt, path in zip(ckpts[1:], paths[1:]):
        if ckpt["config"]["model"] != ckpts[0]["config"]["model"]:
            raise Seq2SeqError(f"checkpoint {path} has another model config than {paths[0]}; "
                               f"only checkpoints of one model can be averaged (an ensemble "
                               f"can mix them)")
    mixed, seen = {}, {}  # tied weights (the same memory) stay one tensor in the average
    for key, first in ckpts[0]["model"].items():
        tied = seen.setdefault(tensor_identity(first), key)
        if tied != key:
            mixed[key] = mixed[tied]
        elif first.is_floating_point():
            stacked = torch.stack([c["model"][key].float() for c in ckpts])  # (M, *shape)
            mixed[key] = torch.tensordot(coef, stacked, dims=1).to(first.dtype)
        else:
            mixed[key] = first
    metrics = {"averaged": [str(p) for p in paths], "weights": coef.tolist(),
               "steps": [(c.get("metrics") or {}).get("step") for c in ckpts]}
    return {"model": mixed, "config": ckpts[0]["config"], "vocab": ckpts[0]["vocab"],
            "train_state": None, "metrics": metrics}


def mixing_weights(weights: Sequence[float] | None, n: int) -> torch.Tensor:
    """(n,) float32 coefficients summing to 1: equal without `weights`, else `weights`
    normalised; a wrong count, a negative weight or a zero sum is a one-line error."""
    if weights is None:
        return torch.full((n,), 1.0 / n)
    if len(weights) != n:
        raise Seq2SeqError(f"{len(weights)} weights for {n} checkpoints; give one weight per "
                           f"checkpoint")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise Seq2SeqError(f"weights {list(weights)} must be finite, ≥ 0 and not all 0")
    coef = torch.tensor([float(w) for w in weights], dtype=torch.float64)
    return (coef / coef.sum()).float()


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
