"""The encoder–decoder model and `build_model`, which checks the config before building.

Shape letters, used in every module: B batch, S source length, T target length, E embedding,
H hidden, L layers, V vocabulary, O output feature size. Every tensor is batch-first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from .data import Batch
from .decoder import Decoder, DecoderState
from .encoder import RNN_CELLS, Encoder
from .errors import Seq2SeqError
from .loss import linear_cross_entropy
from .vocab import PAD


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
        fused with the loss in row chunks (see `loss.py`): no (N, V) logits are kept.
        """
        feats = self(batch)  # (B, T, O)
        real = batch.tgt_out != PAD  # (B, T)
        out = self.decoder.output
        return linear_cross_entropy(feats[real], out.weight, out.bias, batch.tgt_out[real],
                                    label_smoothing)  # (N, O) features → scalar


def check_model_config(cfg: DictConfig) -> None:
    """One clear line for a model config that cannot be built."""
    if cfg.cell not in RNN_CELLS:
        raise Seq2SeqError(f"model.cell={cfg.cell}: choose one of {sorted(RNN_CELLS)}")
    att = cfg.attention
    if att.type not in ("none", "luong", "bahdanau"):
        raise Seq2SeqError(f"model.attention.type={att.type}: choose none, luong or bahdanau")
    if att.type == "luong" and att.score not in ("dot", "general"):
        raise Seq2SeqError(f"model.attention.score={att.score}: choose dot or general")
    sizes = {"model.embed_dim": cfg.embed_dim, "model.encoder.hidden": cfg.encoder.hidden,
             "model.encoder.layers": cfg.encoder.layers, "model.decoder.hidden": cfg.decoder.hidden,
             "model.decoder.layers": cfg.decoder.layers, "model.attention.dim": att.dim}
    for key, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise Seq2SeqError(f"{key}={value}: must be a positive integer")
    if not 0.0 <= cfg.dropout < 1.0:
        raise Seq2SeqError(f"model.dropout={cfg.dropout}: must be in [0, 1)")
    memory = cfg.encoder.hidden * (2 if cfg.encoder.bidirectional else 1)
    if att.type == "luong" and att.score == "dot" and memory != cfg.decoder.hidden:
        raise Seq2SeqError(f"dot attention needs decoder.hidden ({cfg.decoder.hidden}) equal to "
                           f"the encoder output size ({memory}); use attention.score=general")
    if cfg.decoder.input_feeding and att.type == "none":
        raise Seq2SeqError("model.decoder.input_feeding needs attention; set attention.type")


def build_model(cfg: DictConfig, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """A freshly initialised model for the `model` config and vocabulary sizes."""
    check_model_config(cfg)
    if src_vocab <= 4 or tgt_vocab <= 4:
        raise Seq2SeqError(f"vocabulary sizes {src_vocab}/{tgt_vocab} are too small")
    return Seq2Seq(cfg, src_vocab, tgt_vocab)
