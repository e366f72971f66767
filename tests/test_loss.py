"""The fused output projection + cross-entropy equals the plain computation, chunked or not."""

import pytest
import torch
import torch.nn.functional as F

from seq2seq.model import loss as fused


def _inputs(n: int, o: int, v: int, bias: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, o, generator=g, requires_grad=True)  # (N, O)
    w = (torch.randn(v, o, generator=g) * 0.3).requires_grad_()  # (V, O)
    b = (torch.randn(v, generator=g) * 0.1).requires_grad_() if bias else None  # (V,)
    y = torch.randint(0, v, (n,), generator=g)  # (N,)
    return x, w, b, y


def _grads(loss, params):
    return torch.autograd.grad(loss, [p for p in params if p is not None])


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("chunk", [1 << 10, 1 << 21])  # several chunks / one chunk
def test_value_and_gradients_match_cross_entropy(monkeypatch, eps, bias, chunk):
    monkeypatch.setattr(fused, "CHUNK_ELEMENTS", chunk)
    x, w, b, y = _inputs(n=75, o=16, v=40, bias=bias)
    got = fused.linear_cross_entropy(x, w, b, y, eps)
    want = F.cross_entropy(F.linear(x, w, b), y, label_smoothing=eps)
    torch.testing.assert_close(got, want)
    for g, r in zip(_grads(got * 3.0, (x, w, b)), _grads(want * 3.0, (x, w, b))):
        torch.testing.assert_close(g, r)


def test_large_logits_stay_finite():
    x, w, b, y = _inputs(n=20, o=8, v=30, bias=True)
    x = (x.detach() * 200).requires_grad_()  # logits in the thousands: exp would overflow
    got = fused.linear_cross_entropy(x, w, b, y, 0.1)
    want = F.cross_entropy(F.linear(x, w, b), y, label_smoothing=0.1)
    assert torch.isfinite(got)
    torch.testing.assert_close(got, want)
    assert all(torch.isfinite(g).all() for g in _grads(got, (x, w, b)))


def test_without_gradients_gives_the_same_value():
    x, w, b, y = _inputs(n=50, o=16, v=40, bias=True)
    with torch.no_grad():
        got = fused.linear_cross_entropy(x, w, b, y, 0.1)
    torch.testing.assert_close(got, F.cross_entropy(F.linear(x, w, b), y, label_smoothing=0.1))


def test_bf16_autocast_is_close_to_fp32(monkeypatch):
    monkeypatch.setattr(fused, "CHUNK_ELEMENTS", 1 << 10)
    x, w, b, y = _inputs(n=64, o=16, v=40, bias=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = fused.linear_cross_entropy(x, w, b, y, 0.1)
        grads = _grads(got, (x, w, b))
    want = F.cross_entropy(F.linear(x, w, b), y, label_smoothing=0.1)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=2e-2, rtol=2e-2)
    for g, r in zip(grads, _grads(want, (x, w, b))):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, r, atol=5e-3, rtol=5e-2)
