"""The decoder: target embeddings → GRU/LSTM → attention → attentional output features.

Two paths, one set of weights:
- `forward`: teacher forcing over a whole target sequence. With Luong or no attention and no
  input feeding (the default), the RNN runs over all T steps in one call and attention is
  computed for all steps at once afterwards. Bahdanau attention and input feeding need the
  previous step's result, so they fall back to a loop over `step`.
- `step`: one token for every sentence in the batch, used by search.

Shapes: B batch, T target steps, S source length, E embedding, H hidden, L layers,
Hm memory (encoder output) size, O output feature size (E when embeddings are tied, else H).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from omegaconf import DictConfig
from torch import nn

from ..data.vocab import PAD
from .attention import BahdanauAttention, LuongAttention
from .encoder import RNN_CELLS, Bridge, Encoder, RNNState


@dataclass
class DecoderState:
    """Everything search carries between steps; `select` reorders/filters the batch."""

    memory: torch.Tensor  # (B, S, Hm) encoder outputs
    keys: torch.Tensor | None  # (B, S, Hk) attention keys, precomputed once; None without attention
    mask: torch.Tensor  # (B, S) bool, True at real source tokens
    hidden: RNNState  # (L, B, H), or (h, c) for LSTM
    feed: torch.Tensor | None  # (B, 1, O) previous output features (input feeding only)

    def reorder_beams(self, index: torch.Tensor) -> DecoderState:
        """Rows `index` of the per-step state only (hidden, feed). Valid when every row moves
        within its own sentence's beams, whose memory, keys and mask are the same."""
        hidden = (tuple(h.index_select(1, index) for h in self.hidden)
                  if isinstance(self.hidden, tuple) else self.hidden.index_select(1, index))
        feed = None if self.feed is None else self.feed.index_select(0, index)
        return replace(self, hidden=hidden, feed=feed)

    def select(self, index: torch.Tensor) -> DecoderState:
        """Rows `index` (K,) int64 of the batch, in that order."""
        return replace(self.reorder_beams(index), memory=self.memory.index_select(0, index),
                       keys=None if self.keys is None else self.keys.index_select(0, index),
                       mask=self.mask.index_select(0, index))


class Decoder(nn.Module):
    def __init__(self, cfg: DictConfig, vocab_size: int, encoder: Encoder):
        """`cfg` is the `model` config: `embed_dim`, `cell`, `dropout`, `tie_embeddings`,
        `decoder.{hidden,layers,input_feeding}`, `attention.{type,score,dim}`."""
        super().__init__()
        dec, att = cfg.decoder, cfg.attention
        memory_dim = encoder.output_dim
        self.embed = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=PAD)
        self.dropout = nn.Dropout(cfg.dropout)
        self.bridge = Bridge(encoder, dec.hidden, dec.layers, cfg.cell)
        self.out_dim = cfg.embed_dim if cfg.tie_embeddings else dec.hidden
        self.attention: nn.Module | None = None
        if att.type == "luong":
            self.attention = LuongAttention(dec.hidden, memory_dim, att.score)
        elif att.type == "bahdanau":
            self.attention = BahdanauAttention(dec.hidden, memory_dim, att.dim)
        self.additive = att.type == "bahdanau"
        self.input_feeding = dec.input_feeding
        rnn_in = cfg.embed_dim + (memory_dim if self.additive else 0) + \
            (self.out_dim if self.input_feeding else 0)
        self.rnn = RNN_CELLS[cfg.cell](rnn_in, dec.hidden, dec.layers, batch_first=True,
                                       dropout=cfg.dropout if dec.layers > 1 else 0.0)
        self.combine = nn.Linear(dec.hidden + (memory_dim if self.attention else 0), self.out_dim)
        self.output = nn.Linear(self.out_dim, vocab_size)
        if cfg.tie_embeddings:
            self.output.weight = self.embed.weight

    @property
    def needs_loop(self) -> bool:
        """Whether teacher forcing must run step by step (Bahdanau or input feeding)."""
        return self.additive or self.input_feeding

    def init_state(self, memory: torch.Tensor, mask: torch.Tensor,
                   enc_final: RNNState) -> DecoderState:
        keys = None if self.attention is None else self.attention.keys(memory)  # (B, S, Hk)
        feed = None
        if self.input_feeding:
            feed = memory.new_zeros(memory.size(0), 1, self.out_dim)  # (B, 1, O)
        return DecoderState(memory, keys, mask, self.bridge(enc_final), feed)

    def _output(self, rnn_out: torch.Tensor, state: DecoderState, context=None):
        """rnn_out (B, T, H) → features (B, T, O) and attention weights (B, T, S) or None."""
        weights = None
        if self.attention is not None and context is None:
            context, weights = self.attention(rnn_out, state.keys, state.memory, state.mask)
        if context is not None:
            rnn_out = torch.cat([context, rnn_out], dim=-1)  # (B, T, Hm + H)
        return self.dropout(torch.tanh(self.combine(rnn_out))), weights  # (B, T, O)

    def step(self, y: torch.Tensor, state: DecoderState):
        """y (B, 1) int64 previous tokens → features (B, 1, O), new state, weights (B, 1, S)."""
        x = self.dropout(self.embed(y))  # (B, 1, E)
        context = weights = None
        if self.additive:
            h = state.hidden[0] if isinstance(state.hidden, tuple) else state.hidden
            context, weights = self.attention(h[-1].unsqueeze(1), state.keys, state.memory,
                                              state.mask)  # (B, 1, Hm), (B, 1, S)
            x = torch.cat([x, context], dim=-1)
        if self.input_feeding:
            x = torch.cat([x, state.feed], dim=-1)
        rnn_out, hidden = self.rnn(x, state.hidden)  # (B, 1, H)
        feats, luong_weights = self._output(rnn_out, state, context)  # (B, 1, O)
        new_state = replace(state, hidden=hidden, feed=feats if self.input_feeding else None)
        return feats, new_state, weights if weights is not None else luong_weights

    def forward(self, tgt_in: torch.Tensor, state: DecoderState) -> torch.Tensor:
        """Teacher forcing. tgt_in (B, T) int64 → features (B, T, O)."""
        if self.needs_loop:
            feats = []
            for t in range(tgt_in.size(1)):
                f, state, _ = self.step(tgt_in[:, t: t + 1], state)
                feats.append(f)
            return torch.cat(feats, dim=1)  # (B, T, O)
        x = self.dropout(self.embed(tgt_in))  # (B, T, E)
        rnn_out, _ = self.rnn(x, state.hidden)  # (B, T, H), the whole sequence in one call
        feats, _ = self._output(rnn_out, state)  # all T attention steps at once
        return feats

    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        """features (..., O) → vocabulary scores (..., V)."""
        return self.output(feats)
