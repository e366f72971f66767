"""The benchmark's step profile (seq2seq/bench/step_profile.py): a profiled step is an ordinary
training update, cut into phases (no timings are asserted)."""

import copy

import pytest
import torch

from seq2seq.bench.phases import _model_and_batches
from seq2seq.bench.step_profile import profiled_step
from seq2seq.training.loop import TrainingLoss, train_step
from seq2seq.training.optim import build_optimizer


@pytest.mark.parametrize("model", [
    [],  # biGRU, Luong attention: the decoder RNN runs over all steps at once
    ["model=lstm_attention"],  # (h, c) states
    ["model.attention.type=bahdanau"],  # the decoder loops over steps
    ["model.attention.type=none"],  # no attention keys
])
def test_a_profiled_step_is_an_ordinary_update(make_cfg, model):
    cfg = make_cfg("train", [*model, "model.dropout=0", "train.clip_grad_norm=0.5"])
    _, reference, data, batches = _model_and_batches(cfg, "cpu")
    profiled = copy.deepcopy(reference)
    t = cfg.train
    batch = data.collate(batches[0])
    opt_a = build_optimizer(reference.parameters(), t)
    opt_b = build_optimizer(profiled.parameters(), t)
    train_step(TrainingLoss(reference, t.label_smoothing), opt_a, [batch], t, "fp32")
    times = profiled_step(profiled, opt_b, batch, t.label_smoothing, t.clip_grad_norm, "fp32",
                          "cpu")
    for (name, a), b in zip(reference.named_parameters(), profiled.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    loop = "attention.type=bahdanau" in " ".join(model)
    expected = {"encoder", "bridge + keys", "output layer + loss", "optimizer"} | (
        {"decoder loop"} if loop else {"decoder RNN", "attention + combine"})
    assert expected | {f"{n} backward" for n in expected - {"optimizer"}} == set(times)
    assert all(s >= 0 for s in times.values())
