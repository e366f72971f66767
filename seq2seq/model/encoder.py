"""Source embeddings and a (bi)directional GRU/LSTM over sentences of different lengths.

Two ways to keep padding out of the states of real tokens, one set of weights (`self.rnn`):
- on the CPU, a GRU runs each layer and direction in one call over the padded batch, the
  backward direction reading every sentence reversed within its own length, so that padding
  only ever comes after real tokens. Each call projects the inputs of all steps in one matrix
  product, then steps only the recurrent one, at a fixed batch size. In training (fp32) both
  directions of a layer run as one fused autograd function (`fused_gru.py`): one batched
  product per step for the two of them, and the weight gradients as a few large products;
- otherwise (LSTM, whose final cell state the outputs do not show; CUDA, where cuDNN takes
  packed batches whole) the RNN runs over packed sequences, which on the CPU recompute the
  input projection at every step, at that step's batch size (about 1.3x slower here).

Shapes: B batch, S source length, E embedding, H hidden per direction, D directions, L layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..data.vocab import PAD
from . import fused_gru

RNN_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}

RNNState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # h, or (h, c) for LSTM


class Encoder(nn.Module):
    """Embedding → dropout → GRU/LSTM; padding never reaches the states of real tokens."""

    def __init__(self, cfg: DictConfig, vocab_size: int):
        """`cfg` is the `model` config; the encoder reads `embed_dim`, `cell`, `dropout` and
        `encoder.{hidden,layers,bidirectional}`."""
        super().__init__()
        enc = cfg.encoder
        self.embed = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=PAD)
        self.dropout = nn.Dropout(cfg.dropout)
        self.rnn = RNN_CELLS[cfg.cell](cfg.embed_dim, enc.hidden, enc.layers, batch_first=True,
                                       bidirectional=enc.bidirectional,
                                       dropout=cfg.dropout if enc.layers > 1 else 0.0)
        self.hidden = enc.hidden
        self.layers = enc.layers
        self.directions = 2 if enc.bidirectional else 1
        # one-layer, one-direction shells (no storage, not submodules) that run a layer and
        # direction of `self.rnn` with its weights (see `_by_direction`)
        self._shells = tuple(nn.GRU(cfg.embed_dim if layer == 0 else self.output_dim,
                                    enc.hidden, 1, batch_first=True, device="meta")
                             for layer in range(enc.layers)) if cfg.cell == "gru" else None

    @property
    def output_dim(self) -> int:
        return self.directions * self.hidden

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor) -> tuple[torch.Tensor, RNNState]:
        """src: (B, S) int64, src_lens: (B,) int64 on CPU.

        Returns outputs (B, S, D*H), zero at padded positions, and the final state
        (L*D, B, H) — a pair (h, c) for LSTM — taken at each sentence's last real token.
        """
        x = self.dropout(self.embed(src))  # (B, S, E)
        # a plain nn.GRU on the CPU (int8 quantization swaps in a module without these weights)
        if self._shells is not None and x.device.type == "cpu" and type(self.rnn) is nn.GRU:
            return self._by_direction(x, src_lens)
        packed = pack_padded_sequence(x, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out, final  # (B, S, D*H), (L*D, B, H)

    def _by_direction(self, x: torch.Tensor, src_lens: torch.Tensor):
        """The GRU's layers and directions one call each over the padded batch x (B, S, E);
        the same outputs and final state as the packed run."""
        B, S, _ = x.shape
        lens = src_lens.to(x.device).unsqueeze(1)  # (B, 1)
        t = torch.arange(S, device=x.device).unsqueeze(0)  # (1, S)
        flip = torch.where(t < lens, lens - 1 - t, t)  # (B, S): reversed within each length
        real = (t < lens).unsqueeze(-1)  # (B, S, 1)
        last = (lens - 1).unsqueeze(-1).expand(B, 1, self.hidden)  # (B, 1, H)
        finals = []
        directions = ("", "_reverse")[: self.directions]
        for layer, shell in enumerate(self._shells):
            if layer:
                x = F.dropout(x, self.rnn.dropout, self.training)  # between layers, as nn.GRU
            if fused_gru.usable(x):  # training on the CPU: every direction in one call
                outs = self._fused_layer(x, layer, directions, flip)
            else:
                outs = [self._direction(x, layer, suffix, shell, flip) for suffix in directions]
            for d, out in enumerate(outs):  # the backward direction's final state is at 0
                finals.append((out.gather(1, last) if d == 0 else out[:, :1]).squeeze(1))
            x = torch.cat(outs, dim=-1) * real  # (B, S, D*H), zero at padded positions
        return x, torch.stack(finals)  # (L*D, B, H) in nn.GRU's order

    def _weights(self, layer: int, suffix: str) -> dict[str, torch.Tensor]:
        return {name: getattr(self.rnn, f"{name}_l{layer}{suffix}")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}

    def _direction(self, x, layer: int, suffix: str, shell: nn.GRU, flip) -> torch.Tensor:
        """One direction of one layer through nn.GRU: x (B, S, In) → (B, S, H), sentence order."""
        weights = {f"{k}_l0": v for k, v in self._weights(layer, suffix).items()}
        if not suffix:
            return functional_call(shell, weights, (x,))[0]
        return _take_steps(functional_call(shell, weights, (_take_steps(x, flip),))[0], flip)

    def _fused_layer(self, x, layer: int, directions, flip) -> list[torch.Tensor]:
        """Every direction of one layer in one fused call (see `fused_gru.py`): x (B, S, In) →
        one (B, S, H) per direction, in sentence order."""
        two = len(directions) == 2
        inputs = [x, _take_steps(x, flip)] if two else [x]
        xs = torch.stack(inputs).transpose(1, 2).contiguous()  # (D, S, B, In), time-major
        w = [self._weights(layer, suffix) for suffix in directions]
        stacked = {k: torch.stack([d[k] for d in w]) for k in w[0]}  # (D, ...) each
        h0 = x.new_zeros(len(directions), x.size(0), self.hidden)  # (D, B, H)
        out = fused_gru.gru_sequence(xs, h0, stacked["weight_ih"], stacked["weight_hh"],
                                     stacked["bias_ih"], stacked["bias_hh"]).transpose(1, 2)
        return [out[0], _take_steps(out[1], flip)] if two else [out[0]]


def _take_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, S, F), index (B, S) → y with y[b, t] = x[b, index[b, t]]."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(-1)))


class Bridge(nn.Module):
    """Final encoder state(s) → the decoder's initial state: tanh(W [h_fwd; h_bwd] + b).

    Works for GRU and LSTM (h and c each get their own projection), one or two directions, and
    different layer counts: the decoder's L_dec layers take the encoder's top L_dec layers, and the
    top encoder layer is repeated when the decoder has more layers than the encoder.
    """

    def __init__(self, encoder: Encoder, dec_hidden: int, dec_layers: int, cell: str):
        super().__init__()
        self.enc_layers, self.directions = encoder.layers, encoder.directions
        self.dec_layers = dec_layers
        self.h = nn.Linear(encoder.output_dim, dec_hidden)
        self.c = nn.Linear(encoder.output_dim, dec_hidden) if cell == "lstm" else None

    def _merge(self, state: torch.Tensor, proj: nn.Linear) -> torch.Tensor:
        _, B, H = state.shape  # (L_enc*D, B, H)
        x = state.view(self.enc_layers, self.directions, B, H)
        x = x.permute(0, 2, 1, 3).reshape(self.enc_layers, B, -1)  # (L_enc, B, D*H)
        if self.enc_layers >= self.dec_layers:
            x = x[-self.dec_layers:]
        else:
            extra = x[-1:].expand(self.dec_layers - self.enc_layers, -1, -1)
            x = torch.cat([x, extra], dim=0)  # (L_dec, B, D*H)
        return torch.tanh(proj(x))  # (L_dec, B, H_dec)

    def forward(self, final: RNNState) -> RNNState:
        if self.c is None:
            return self._merge(final, self.h)
        h, c = final
        return self._merge(h, self.h), self._merge(c, self.c)
