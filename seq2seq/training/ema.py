"""An exponential moving average (EMA) of the weights, which validation, checkpoints and
decoding use instead of the raw training weights (`train.ema_decay`).

PyTorch's `AveragedModel` keeps the copy; the decay warms up as in TensorFlow's
`ExponentialMovingAverage(num_updates=...)`: update n uses min(decay, (1 + n) / (10 + n)), so the
average is not held back by the random initial weights early in a short run. The same idea as
Marian's `--exponential-smoothing` and fairseq's `--ema-decay`: while the learning rate is
high, the average of the recent weights translates better than the last of them.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel


def ema_model(model: torch.nn.Module, decay: float) -> AveragedModel:
    """A copy of `model` that `update_parameters(model)` moves towards `model` after each step."""

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor):
        k = int(n)  # one read of the count (on a GPU, one sync)
        d = min(decay, (1 + k) / (10 + k))
        torch._foreach_lerp_(averaged, current, 1 - d)

    return AveragedModel(model, multi_avg_fn=update)


def ema_state(ema: AveragedModel) -> dict:
    """What a checkpoint needs to continue the average exactly (besides the averaged weights,
    which it stores as its model)."""
    return {"updates": int(ema.n_averaged)}


def load_ema(ema: AveragedModel, weights: dict, state: dict) -> None:
    ema.module.load_state_dict(weights)
    ema.n_averaged.fill_(state["updates"])
