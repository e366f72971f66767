"""Source embeddings and a (bi)directional GRU/LSTM run over packed sequences.

Shapes: B batch, S source length, E embedding, H hidden per direction, D directions, L layers.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .vocab import PAD

RNN_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}

RNNState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # h, or (h, c) for LSTM


class Encoder(nn.Module):
    """Embedding → dropout → GRU/LSTM. Packing keeps padding out of the states of real tokens."""

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

    @property
    def output_dim(self) -> int:
        return self.directions * self.hidden

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor) -> tuple[torch.Tensor, RNNState]:
        """src: (B, S) int64, src_lens: (B,) int64 on CPU.

        Returns outputs (B, S, D*H), zero at padded positions, and the final state
        (L*D, B, H) — a pair (h, c) for LSTM — taken at each sentence's last real token.
        """
        S = src.size(1)
        x = self.dropout(self.embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, D*H)
        return out, final


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
