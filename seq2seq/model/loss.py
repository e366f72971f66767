"""The output projection fused with label-smoothed cross-entropy, computed in row chunks.

The plain way — logits (N, V), then `F.cross_entropy` — keeps several (N, V) float32 tensors
alive at once (logits, log-probabilities, their gradients): with N ≈ 1,700 target tokens and
V = 8,000 pieces that is over 200 MB per step, streamed through memory several times. Here the
N rows go through in chunks of a few hundred: each chunk's logits are projected, turned into the
loss and — when training — at once into the gradients of the features, the weight and the bias,
so no (N, V) tensor ever exists. The backward pass only scales those saved gradients.
The same idea as "fused linear cross-entropy" kernels (e.g. Liger-Kernel); the loss and the
gradients are those of `F.cross_entropy(x @ W.T + b, y, label_smoothing=eps)` (mean over rows).

With label smoothing eps, the target distribution is q = (1 - eps)·onehot(y) + eps / V, so
    loss_i = logsumexp(z_i) - (1 - eps)·z_iy - (eps / V)·Σ_v z_iv
    dloss_i / dz_i = softmax(z_i) - q
Shapes: N rows (real target tokens), O features, V vocabulary, C rows per chunk.
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 21  # logits per chunk (8 MB in float32): C = CHUNK_ELEMENTS // V rows


def _chunk_rows(vocab: int) -> int:
    return max(16, CHUNK_ELEMENTS // vocab)


class _FusedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, eps: float, with_grad: bool):
        """x (N, O), weight (V, O), bias (V,) or None, target (N,) int64 → mean loss (float32)."""
        N, V = x.size(0), weight.size(0)
        total = x.new_zeros((), dtype=torch.float32)
        grads = None
        if with_grad:
            grad_x = torch.empty_like(x)  # (N, O)
            grad_w = torch.zeros_like(weight, dtype=torch.float32)  # (V, O)
            grad_b = None if bias is None else torch.zeros_like(bias, dtype=torch.float32)
        fused_w = with_grad and not torch.is_autocast_enabled(x.device.type) and \
            x.dtype == grad_w.dtype  # grad_w.addmm_ (no autocast: it would mix dtypes)
        for start in range(0, N, _chunk_rows(V)):
            xc = x[start: start + _chunk_rows(V)]  # (C, O)
            yc = target[start: start + xc.size(0)]  # (C,)
            z = torch.nn.functional.linear(xc, weight, bias).float()  # (C, V); autocast applies
            picked = z.gather(1, yc.unsqueeze(1)).squeeze(1)  # (C,)
            loss = -(1.0 - eps) * picked
            if eps:
                loss = loss - (eps / V) * z.sum(dim=1)
            # logsumexp by hand, so that its exp is the softmax's: one pass over (C, V), not two
            top = z.amax(dim=1, keepdim=True)  # (C, 1)
            p = z.sub_(top).exp_()  # unnormalised softmax, in place: (C, V)
            norm = p.sum(dim=1, keepdim=True)  # (C, 1)
            total += (loss + top.squeeze(1) + norm.log().squeeze(1)).sum()
            if with_grad:
                # (softmax - eps / V) / N, in place; then -(1 - eps) / N at each target
                g = p.mul_(norm.reciprocal_().div_(N))
                if eps:
                    g.sub_(eps / (V * N))
                g.scatter_add_(1, yc.unsqueeze(1), g.new_full((g.size(0), 1), (eps - 1.0) / N))
                grad_x[start: start + xc.size(0)] = torch.mm(g, weight)  # (C, O); autocast applies
                if fused_w:
                    grad_w.addmm_(g.t(), xc)  # (V, O)
                else:
                    grad_w += torch.mm(g.t(), xc).float()  # (V, O); autocast applies
                if grad_b is not None:
                    grad_b += g.sum(dim=0)
        if with_grad:
            grads = (grad_x, grad_w.to(weight.dtype),
                     None if grad_b is None else grad_b.to(bias.dtype))
            ctx.save_for_backward(*[t for t in grads if t is not None])
            ctx.has_bias = grad_b is not None
        ctx.with_grad = with_grad
        return total / max(N, 1)

    @staticmethod
    def backward(ctx, grad_out):
        if not ctx.with_grad:
            raise RuntimeError("fused cross-entropy was computed without gradients "
                               "(called under torch.no_grad)")
        saved = ctx.saved_tensors
        grad_x, grad_w = saved[0] * grad_out, saved[1] * grad_out
        grad_b = saved[2] * grad_out if ctx.has_bias else None
        return grad_x, grad_w, grad_b, None, None, None


def linear_cross_entropy(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         target: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean label-smoothed cross-entropy of the logits `x @ weight.T + bias` against `target`.

    x (N, O) features, weight (V, O), bias (V,) or None, target (N,) int64 → scalar float32.
    Equal to `F.cross_entropy(F.linear(x, weight, bias), target, label_smoothing=...)` in value
    and gradients, without building the (N, V) logits at once.
    """
    with_grad = torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad))
    return _FusedLinearCrossEntropy.apply(x, weight, bias, target, float(label_smoothing),
                                          with_grad)
