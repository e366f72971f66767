"""The fused GRU (seq2seq/model/fused_gru.py) equals nn.GRU in outputs and gradients, alone and
inside the encoder (uni- and bidirectional, several layers, padding, variable lengths)."""

import pytest
import torch
from omegaconf import OmegaConf

from seq2seq.model import fused_gru
from seq2seq.model.encoder import Encoder


def grads(outputs, inputs, seed=0):
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o.shape, generator=g) for o in outputs]
    loss = sum((o * w).sum() for o, w in zip(outputs, weights))
    return torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("directions", [1, 2])
def test_the_fused_sequence_equals_nn_gru(directions):
    torch.manual_seed(0)
    B, T, In, H = 5, 7, 6, 8
    grus = [torch.nn.GRU(In, H, batch_first=True) for _ in range(directions)]
    x = torch.randn(directions, B, T, In, requires_grad=True)
    h0 = torch.randn(directions, B, H, requires_grad=True)
    params = [p for g in grus for p in g.parameters()]
    expected = [g(x[d], h0[d].unsqueeze(0))[0] for d, g in enumerate(grus)]  # (B, T, H) each
    stack = [torch.stack([getattr(g, f"{n}_l0") for g in grus])
             for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    out = fused_gru.gru_sequence(x.transpose(1, 2), h0, *stack).transpose(1, 2)  # (D, B, T, H)
    for d in range(directions):
        torch.testing.assert_close(out[d], expected[d], rtol=1e-5, atol=1e-6)
    want = grads(expected, [x, h0, *params])
    got = grads(list(out), [x, h0, *params])
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layers,bidirectional", [(1, True), (2, True), (1, False), (2, False)])
def test_the_encoder_trains_the_same_with_the_fused_layer(monkeypatch, layers, bidirectional):
    cfg = OmegaConf.create({"embed_dim": 12, "cell": "gru", "dropout": 0.0,
                            "encoder": {"hidden": 10, "layers": layers,
                                        "bidirectional": bidirectional}})
    torch.manual_seed(1)
    enc = Encoder(cfg, 30)
    lens = torch.tensor([9, 4, 1, 7, 9, 2])
    src = torch.randint(4, 30, (6, 9))
    src[torch.arange(9) >= lens.unsqueeze(1)] = 0  # padding after each sentence
    params = list(enc.parameters())

    def run():
        memory, final = enc(src, lens)
        return [memory, final], grads([memory, final], params)

    used = []
    real_usable = fused_gru.usable
    monkeypatch.setattr(fused_gru, "usable", lambda x: used.append(real_usable(x)) or used[-1])
    (memory, final), fused_grads = run()
    assert used and all(used)  # training on the CPU in fp32: the fused layer ran
    monkeypatch.setattr(fused_gru, "usable", lambda x: False)
    (memory_ref, final_ref), ref_grads = run()
    torch.testing.assert_close(memory, memory_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(final, final_ref, rtol=1e-5, atol=1e-6)
    assert memory[2, 1:].abs().sum() == 0  # padding stays zero
    for (name, _), a, b in zip(enc.named_parameters(), fused_grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_inference_and_bf16_autocast_keep_nn_gru(monkeypatch):
    x = torch.randn(2, 3, 4)
    assert fused_gru.usable(x)
    monkeypatch.setenv("SEQ2SEQ_FUSED_GRU", "0")  # the benchmark's comparison
    assert not fused_gru.usable(x)
    monkeypatch.delenv("SEQ2SEQ_FUSED_GRU")
    with torch.no_grad():
        assert not fused_gru.usable(x)
    with torch.autocast("cpu", torch.bfloat16):
        assert not fused_gru.usable(x)
    assert not fused_gru.usable(x.double())
