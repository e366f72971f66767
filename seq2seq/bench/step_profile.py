"""Where one training step's time goes: the benchmark's `profile` phase.

A real training step (the model, the loss, the optimizer and batches of the train section) is
cut at its phase boundaries: each phase's outputs are detached into leaves that need gradients,
so that its forward and its backward can be timed alone, and the backward runs phase by phase
in reverse, each from the gradients the later phase left on its leaves. The sum is one ordinary
step (the same arithmetic; the cuts cost only a few tensor views). Phases:

- encoder: source embeddings and the (bi)directional RNN;
- bridge + keys: the decoder's initial state from the encoder's final one, and the attention
  keys (once per sentence);
- decoder RNN: target embeddings and the decoder RNN over all target steps;
- attention + combine: attention over the encoder outputs and the attentional output layer;
- output layer + loss: the fused projection and cross-entropy, whose forward pass also
  computes its gradients (its backward only scales them);
- optimizer: gradient clipping and the (fused) Adam update;
- moving average: the update of the weights' moving average (`train.ema_decay`).

Models that decode step by step in training (Bahdanau attention, input feeding) time their
decoder as one phase ("decoder loop"). Beside the times: how many oneDNN kernels were created
per step (oneDNN's verbose log, read from this process's stdout while the steps run): a new
batch shape makes new kernels where oneDNN runs the matmuls (bf16; fp32 goes to MKL/BLAS).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace

import torch
from omegaconf import DictConfig

from ..data.vocab import PAD
from ..model.loss import linear_cross_entropy
from ..training.precision import autocast, backward_precision


def _leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().requires_grad_()


def _leaves(state):
    """A leaf copy of an RNN state (h, or (h, c) for LSTM)."""
    return tuple(_leaf(s) for s in state) if isinstance(state, tuple) else _leaf(state)


def _grad(leaf: torch.Tensor) -> torch.Tensor:
    return leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)


def _flat(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


class _Timer:
    def __init__(self, device: str):
        self.device, self.times = device, {}

    def __call__(self, name: str, start: float) -> float:
        if self.device == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.times[name] = self.times.get(name, 0.0) + now - start
        return now


def profiled_step(model, optimizer, batch, label_smoothing: float, clip: float, precision: str,
                  device: str, ema=None) -> dict[str, float]:
    """One training update of `model` on `batch` (and of its moving average `ema`), timed by
    phase: {phase: seconds}; the forward of phase X is "X", its backward "X backward"."""
    enc, dec = model.encoder, model.decoder
    tick = _Timer(device)
    optimizer.zero_grad(set_to_none=True)
    t = time.perf_counter()
    with autocast(device, precision):
        memory, final = enc(batch.src, batch.src_lens)  # (B, S, D*H), (L*D, B, H)
        t = tick("encoder", t)
        memory_in, final_in = _leaf(memory), _leaves(final)
        start = dec.init_state(memory_in, batch.src != PAD, final_in)
        t = tick("bridge + keys", t)
        state = replace(start, hidden=_leaves(start.hidden),
                        keys=None if start.keys is None else _leaf(start.keys))
        if dec.needs_loop:
            feats = dec(batch.tgt_in, state)  # (B, T, O), step by step
            t = tick("decoder loop", t)
            rnn_out = rnn_in = None
        else:
            x = dec.dropout(dec.embed(batch.tgt_in))  # (B, T, E)
            rnn_out, _ = dec.rnn(x, state.hidden)  # (B, T, H)
            t = tick("decoder RNN", t)
            rnn_in = _leaf(rnn_out)
            feats, _ = dec._output(rnn_in, state)  # (B, T, O)
            t = tick("attention + combine", t)
        feats_in = _leaf(feats)
        real = batch.tgt_out != PAD
        out = dec.output
        loss = linear_cross_entropy(feats_in[real], out.weight, out.bias, batch.tgt_out[real],
                                    label_smoothing)
    t = tick("output layer + loss", t)
    with backward_precision(precision):
        loss.backward()
        t = tick("output layer + loss backward", t)
        feats.backward(feats_in.grad)
        t = tick("decoder loop backward" if rnn_out is None else "attention + combine backward",
                 t)
        if rnn_out is not None:
            rnn_out.backward(rnn_in.grad)
            t = tick("decoder RNN backward", t)
        joined = [(o, i) for o, i in zip([start.keys, *_flat(start.hidden)],
                                         [state.keys, *_flat(state.hidden)]) if o is not None]
        torch.autograd.backward([o for o, _ in joined], [_grad(i) for _, i in joined])
        t = tick("bridge + keys backward", t)
        torch.autograd.backward([memory, *_flat(final)],
                                [_grad(i) for i in [memory_in, *_flat(final_in)]])
    t = tick("encoder backward", t)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(params, clip or float("inf"))
    optimizer.step()
    t = tick("optimizer", t)
    if ema is not None:
        ema.update_parameters(model)
        tick("moving average", t)
    return tick.times


@contextlib.contextmanager
def _stdout_to(path: str):
    """File descriptor 1 (where oneDNN's C++ code prints) into `path` for the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _count_kernel_creations(run_steps) -> int:
    """oneDNN primitives created (cache misses) while `run_steps()` runs."""
    mkldnn = torch.backends.mkldnn
    if not mkldnn.is_available():
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "onednn.log")
        with _stdout_to(log), mkldnn.verbose(mkldnn.VERBOSE_ON):
            run_steps()
        with open(log, errors="replace") as f:
            return sum("create:cache_miss" in line for line in f)


def step_profile(cfg: DictConfig, precision: str, warmup: int, steps: int,
                 device: str = "cpu") -> dict:
    """Median seconds per phase of `steps` profiled training steps (after `warmup`), their
    sum, and the oneDNN kernels created per step over a further `steps` steps."""
    from ..training.ema import ema_model
    from ..training.optim import build_optimizer
    from .phases import _model_and_batches

    t = cfg.train
    _, model, data, batches = _model_and_batches(cfg, device)
    optimizer = build_optimizer(model.parameters(), t)
    ema = ema_model(model, t.ema_decay) if t.ema_decay else None
    position = {"i": 0}

    def one() -> tuple[dict, int]:
        batch = data.collate(batches[position["i"] % len(batches)]).to(device)
        position["i"] += 1
        return profiled_step(model, optimizer, batch, t.label_smoothing, t.clip_grad_norm,
                             precision, device, ema), batch.n_tokens

    for _ in range(warmup):
        one()
    timed = [one() for _ in range(steps)]
    names = list(timed[0][0])
    median = {n: statistics.median(times[n] for times, _ in timed) for n in names}
    step_s = statistics.median(sum(times.values()) for times, _ in timed)
    tokens = statistics.median(n for _, n in timed)
    created = _count_kernel_creations(lambda: [one() for _ in range(steps)]) \
        if device == "cpu" else None
    return {"phases_ms": {n: round(s * 1000, 2) for n, s in median.items()},
            "step_ms": round(step_s * 1000, 1), "target_tokens_per_step": tokens,
            "tokens_per_s": tokens / step_s, "steps": steps,
            "onednn_kernels_per_step": None if created is None else round(created / steps, 1)}
