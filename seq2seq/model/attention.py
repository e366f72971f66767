"""Attention over encoder outputs: Luong (dot, general) and Bahdanau (additive).

Both share one interface: `keys(memory)` once per sentence batch, then
`forward(query, keys, memory, mask)` for any number of query steps at once.
Shapes: B batch, T query steps, S source length, Hq query size, Hm memory size.
"""

from __future__ import annotations

import torch
from torch import nn


def _attend(scores: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
    """Softmax over real source positions, then the weighted sum of memory."""
    scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))  # (B, T, S)
    weights = torch.softmax(scores, dim=-1)  # (B, T, S), exactly 0 on padding
    context = torch.bmm(weights.to(memory.dtype), memory)  # (B, T, Hm)
    return context, weights


class LuongAttention(nn.Module):
    """Multiplicative attention of Luong, Pham & Manning (2015), "Effective Approaches to
    Attention-based Neural Machine Translation", §3.1: score(h_t, h_s) = h_t·h_s ("dot") or
    h_t·W h_s ("general"). The query is the decoder's current output, so all target steps can
    be scored at once after the decoder RNN has run over the whole sequence."""

    def __init__(self, query_dim: int, memory_dim: int, score: str):
        super().__init__()
        self.score = score
        self.proj = nn.Linear(memory_dim, query_dim, bias=False) if score == "general" else None

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (B, S, Hm) → keys (B, S, Hq)."""
        return memory if self.proj is None else self.proj(memory)

    def forward(self, query, keys, memory, mask):
        """query (B, T, Hq), keys (B, S, Hq), memory (B, S, Hm), mask (B, S) bool (True = real).

        Returns context (B, T, Hm) and weights (B, T, S)."""
        scores = torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)
        return _attend(scores, memory, mask)


class BahdanauAttention(nn.Module):
    """Additive attention of Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by
    Jointly Learning to Align and Translate", §3.1 and appendix A.1.2:
    score(s_{t-1}, h_s) = v·tanh(W s_{t-1} + U h_s). The query is the previous decoder state,
    so the decoder must run step by step."""

    def __init__(self, query_dim: int, memory_dim: int, attn_dim: int):
        super().__init__()
        self.key_proj = nn.Linear(memory_dim, attn_dim, bias=False)
        self.query_proj = nn.Linear(query_dim, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (B, S, Hm) → keys (B, S, A), precomputed once."""
        return self.key_proj(memory)

    def forward(self, query, keys, memory, mask):
        """query (B, T, Hq), keys (B, S, A), memory (B, S, Hm), mask (B, S) bool."""
        q = self.query_proj(query).unsqueeze(2)  # (B, T, 1, A)
        scores = self.v(torch.tanh(q + keys.unsqueeze(1))).squeeze(-1)  # (B, T, S)
        return _attend(scores, memory, mask)
