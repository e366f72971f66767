"""The encoder–decoder model and `build_model`, which checks the config before building.

Shape letters, used in every module: B batch, S source length, T target length, E embedding,
H hidden, L layers, V vocabulary, O output feature size. Every tensor is batch-first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from ..config import check_section
from ..data.batching import Batch
from ..data.vocab import PAD
from ..errors import Seq2SeqError
from .decoder import Decoder, DecoderState
from .encoder import Encoder
from .loss import linear_cross_entropy


class Seq2Seq(nn.Module):
    """Encoder RNN over French pieces, decoder RNN with attention emitting English pieces."""

    def __init__(self, cfg: DictConfig, src_vocab: int, tgt_vocab: int):
        super().__init__()
        self.encoder = Encoder(cfg, src_vocab)
        self.decoder = Decoder(cfg, tgt_vocab, self.encoder)

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor) -> DecoderState:
        """src (B, S) int64, src_lens (B,) → the decoder's initial state (encoder run once)."""
        memory, final = self.encoder(src, src_lens)  # (B, S, D*H)
        mask = src != PAD  # (B, S)
        return self.decoder.init_state(memory, mask, final)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Teacher-forced output features (B, T, O) for `batch`."""
        state = self.encode(batch.src, batch.src_lens)
        return self.decoder(batch.tgt_in, state)

    def step_log_probs(self, y: torch.Tensor, state: DecoderState):
        """One search step. y (n, 1) int64 previous tokens → log-probabilities (n, V) float32,
        the new state, and attention weights (n, 1, S) or None."""
        feats, state, weights = self.decoder.step(y, state)  # (n, 1, O)
        return F.log_softmax(self.decoder.logits(feats[:, 0]).float(), dim=-1), state, weights

    def loss(self, batch: Batch, label_smoothing: float = 0.0) -> torch.Tensor:
        """Mean cross-entropy per real target token (a scalar, float32).

        The output projection runs only on real (non-PAD) positions (N = batch.n_tokens rows),
        fused with the loss in row chunks (see `model/loss.py`): no (N, V) logits are kept.
        """
        feats = self(batch)  # (B, T, O)
        real = batch.tgt_out != PAD  # (B, T)
        out = self.decoder.output
        return linear_cross_entropy(feats[real], out.weight, out.bias, batch.tgt_out[real],
                                    label_smoothing)  # (N, O) features → scalar


def build_model(cfg: DictConfig, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """A freshly initialised model for the `model` config and vocabulary sizes."""
    check_section(cfg, "model")
    if src_vocab <= 4 or tgt_vocab <= 4:
        raise Seq2SeqError(f"vocabulary sizes {src_vocab}/{tgt_vocab} are too small")
    return Seq2Seq(cfg, src_vocab, tgt_vocab)
