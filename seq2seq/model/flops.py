"""Analytic FLOPs of the encoder–decoder, counted as matrix multiplications (2 per
multiply-add), the standard convention; elementwise work is left out.

Forward FLOPs per target token, for a batch whose sentences average `src_per_tgt` source tokens
per target token and `src_len` source tokens per sentence (G = 3 gates for GRU, 4 for LSTM;
D directions; E embedding; He, Hd encoder/decoder hidden; Hm = D·He; O output features; V vocab):

    encoder     src_per_tgt · D · 2·G·He·(E + He)
    keys        src_per_tgt · 2·Hm·Hd                 (Luong general; Bahdanau: 2·Hm·A)
    decoder     2·G·Hd·(E_in + Hd)                    (E_in adds Hm for Bahdanau, O for feeding)
    attention   2·src_len·(Hd + Hm)                   (scores and context; Bahdanau adds 2·Hd·A
                                                       per step and 2·A per source position)
    combine     2·(Hm + Hd)·O                         (no Hm without attention)
    output      2·O·V

Training = 3 × forward (the backward pass costs two forward passes).
"""

from __future__ import annotations

from omegaconf import DictConfig


def forward_flops_per_target_token(cfg: DictConfig, vocab: int, src_per_tgt: float,
                                   src_len: float) -> float:
    G = 3 if cfg.cell == "gru" else 4
    D = 2 if cfg.encoder.bidirectional else 1
    E, He, Hd, Le, Ld = (cfg.embed_dim, cfg.encoder.hidden, cfg.decoder.hidden,
                         cfg.encoder.layers, cfg.decoder.layers)
    Hm = D * He
    O = E if cfg.tie_embeddings else Hd  # noqa: E741 (the letter used in the formula)
    att = cfg.attention.type
    enc = D * 2 * G * He * (E + He) + (Le - 1) * D * 2 * G * He * (Hm + He)
    keys = 0.0
    if att == "luong" and cfg.attention.score == "general":
        keys = 2 * Hm * Hd
    elif att == "bahdanau":
        keys = 2 * Hm * cfg.attention.dim
    e_in = E + (Hm if att == "bahdanau" else 0) + (O if cfg.decoder.input_feeding else 0)
    dec = 2 * G * Hd * (e_in + Hd) + (Ld - 1) * 2 * G * Hd * (2 * Hd)
    attention = 0.0
    if att != "none":
        attention = 2 * src_len * (Hd + Hm)
    if att == "bahdanau":
        attention += 2 * Hd * cfg.attention.dim + 2 * src_len * cfg.attention.dim
    combine = 2 * ((Hm if att != "none" else 0) + Hd) * O
    output = 2 * O * vocab
    return src_per_tgt * (enc + keys) + dec + attention + combine + output


def train_flops_per_target_token(cfg: DictConfig, vocab: int, src_per_tgt: float,
                                 src_len: float) -> float:
    return 3 * forward_flops_per_target_token(cfg, vocab, src_per_tgt, src_len)
