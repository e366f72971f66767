"""Against forgetting while fine-tuning: pull the weights back toward where they started.

L2-SP (Li, Grandvalet & Davoine 2018, "Explicit Inductive Bias for Transfer Learning with
Convolutional Networks"), used for NMT domain adaptation by Miceli Barone et al. (2017),
"Regularization techniques for fine-tuning in neural machine translation": a penalty
(strength / 2)·‖θ − θ₀‖² toward the starting weights θ₀. Applied decoupled from Adam's update,
as AdamW decays toward zero: after each update every weight moves `lr × strength` of the way
back to its start, so that the pull does not shrink where Adam's per-weight scaling is large.
"""

from __future__ import annotations

import torch

from ..errors import Seq2SeqError


class Anchor:
    """The starting weights θ₀ (`start`: a checkpoint's state dict) of `model`'s parameters."""

    def __init__(self, model: torch.nn.Module, start: dict, strength: float):
        self.strength = strength
        self.params, self.start = [], []
        for name, p in model.named_parameters():
            if name not in start:
                raise Seq2SeqError(f"train.anchor: the starting checkpoint has no weight {name}")
            self.params.append(p)
            self.start.append(start[name].to(device=p.device, dtype=p.dtype))

    @torch.no_grad()
    def pull(self, lr: float) -> None:
        """θ ← θ − lr·strength·(θ − θ₀), every parameter, after an update at rate `lr`."""
        torch._foreach_lerp_(self.params, self.start, min(lr * self.strength, 1.0))
