"""A GRU layer for training on the CPU: every direction in one matrix product per time step,
and the weight gradients as a few large products after the backward loop.

`nn.GRU` on the CPU runs a C++ loop of GRU cells with autograd recording each step's dozen
operations, and its backward computes the recurrent weight's gradient as one small product per
step plus T−1 additions. Here one autograd function covers the whole sequence of D directions
(the encoder's forward and backward direction run side by side, as one batched product):

- forward: the input projections of all steps in one batched product, then per step one
  batched product h·W_hhᵀ for every direction and the gate arithmetic in place
  (r, z = σ(·); n = tanh(gi_n + r ∘ gh_n); h' = n + z ∘ (h − n)), keeping r, z, n and gh_n;
- backward: per step (in reverse) the gate gradients and one batched product for the state's
  gradient; then the gradients of W_ih, W_hh, the biases and the input, each one product (or
  sum) over all T·B rows at once.

The parameters are `nn.GRU`'s own (the same names and layout: checkpoints, int8 and ONNX
export are unchanged), stacked per call. Shapes: D directions, T steps, B batch, In input,
H hidden; gate order r, z, n as in `nn.GRU`.
"""

from __future__ import annotations

import os

import torch

ENV = "SEQ2SEQ_FUSED_GRU"  # "0": nn.GRU everywhere


class _GRUSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        """x (D, T, B, In) time-major, h0 (D, B, H), w_ih (D, 3H, In), w_hh (D, 3H, H), b_ih and
        b_hh (D, 3H) → outputs (D, T, B, H)."""
        D, T, B, In = x.shape
        H = w_hh.size(2)
        gi = torch.baddbmm(b_ih.unsqueeze(1), x.reshape(D, T * B, In), w_ih.transpose(1, 2))
        gi = gi.view(D, T, B, 3 * H)
        states = x.new_empty(D, T + 1, B, H)  # states[:, t] = h before step t; [:, 0] = h0
        states[:, 0] = h0
        rz = x.new_empty(D, T, B, 2 * H)  # σ of the reset and update gates
        n = x.new_empty(D, T, B, H)  # the candidate state
        gh_n = x.new_empty(D, T, B, H)  # W_hn h + b_hn, which r scales
        w_hh_t, b_hh = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
        for t in range(T):
            h = states[:, t]  # (D, B, H)
            gh = torch.baddbmm(b_hh, h, w_hh_t)  # (D, B, 3H)
            torch.add(gi[:, t, :, :2 * H], gh[..., :2 * H], out=rz[:, t]).sigmoid_()
            gh_n[:, t] = gh[..., 2 * H:]
            torch.addcmul(gi[:, t, :, 2 * H:], rz[:, t, :, :H], gh_n[:, t], out=n[:, t]).tanh_()
            torch.sub(h, n[:, t], out=states[:, t + 1])
            states[:, t + 1].mul_(rz[:, t, :, H:]).add_(n[:, t])  # n + z (h - n)
        ctx.save_for_backward(x, w_ih, w_hh, states, rz, n, gh_n)
        return states[:, 1:]

    @staticmethod
    def backward(ctx, grad_out):
        """grad_out (D, T, B, H) → gradients of x, h0, w_ih, w_hh, b_ih, b_hh."""
        x, w_ih, w_hh, states, rz, n, gh_n = ctx.saved_tensors
        D, T, B, In = x.shape
        H = w_hh.size(2)
        d_gi = x.new_empty(D, T, B, 3 * H)  # gradients of the gates' input parts
        d_gh = x.new_empty(D, T, B, 3 * H)  # ... and of their recurrent parts
        dh = x.new_zeros(D, B, H)
        for t in range(T - 1, -1, -1):
            dh = dh + grad_out[:, t]
            r, z, nt = rz[:, t, :, :H], rz[:, t, :, H:], n[:, t]
            dn = (dh - dh * z) * (1 - nt * nt)  # through h' = (1 - z) n + z h, then tanh
            d_gi[:, t, :, 2 * H:] = dn
            torch.mul(dn, r, out=d_gh[:, t, :, 2 * H:])
            torch.mul(dn * gh_n[:, t], r * (1 - r), out=d_gi[:, t, :, :H])  # reset gate
            torch.mul(dh * (states[:, t] - nt), z * (1 - z), out=d_gi[:, t, :, H:2 * H])
            d_gh[:, t, :, :2 * H] = d_gi[:, t, :, :2 * H]  # r and z: the same pre-activation
            dh = torch.baddbmm(dh * z, d_gh[:, t], w_hh)  # (D, B, H)
        d_gi, d_gh = d_gi.view(D, T * B, 3 * H), d_gh.view(D, T * B, 3 * H)
        dx = torch.bmm(d_gi, w_ih).view(D, T, B, In)
        d_w_ih = torch.bmm(d_gi.transpose(1, 2), x.reshape(D, T * B, In))  # (D, 3H, In)
        d_w_hh = torch.bmm(d_gh.transpose(1, 2), states[:, :T].reshape(D, T * B, H))
        return dx, dh, d_w_ih, d_w_hh, d_gi.sum(1), d_gh.sum(1)


def gru_sequence(x: torch.Tensor, h0: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
                 b_ih: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """D GRU directions over x (D, T, B, In), each with its own weights (stacked along the
    first dimension) and initial state h0 (D, B, H) → outputs (D, T, B, H)."""
    return _GRUSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh)


def usable(x: torch.Tensor) -> bool:
    """Whether the fused layer runs here: training on the CPU in fp32 (under bf16 autocast
    `nn.GRU` stays, since autocast would cast inside the loop), unless the environment says
    SEQ2SEQ_FUSED_GRU=0 (the benchmark's comparison with `nn.GRU`)."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and torch.is_grad_enabled() \
        and not torch.is_autocast_enabled("cpu") and os.environ.get(ENV, "1") != "0"
