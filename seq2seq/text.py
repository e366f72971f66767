"""Text normalisation and training-pair filters (pure functions, no torch)."""

from __future__ import annotations

import unicodedata

from omegaconf import DictConfig


def normalize(text: str, cfg: DictConfig) -> str:
    """Unicode normal form and whitespace: `cfg` is `data.normalize`."""
    if cfg.unicode != "none":
        text = unicodedata.normalize(cfg.unicode, text)
    if cfg.strip_control:  # NUL, escape sequences, ...; tabs and newlines count as whitespace
        text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    if cfg.collapse_whitespace:
        text = " ".join(text.split())  # str.split() knows NBSP, tabs, thin spaces, ...
    return text


def keep_pair(src: str, tgt: str, cfg: DictConfig) -> bool:
    """Whether a training pair passes the filters in `data.filter`."""
    ns, nt = len(src.split()), len(tgt.split())
    if ns == 0 or nt == 0:
        return False
    if max(ns, nt) > cfg.max_words:
        return False
    return max(ns, nt) / min(ns, nt) <= cfg.max_ratio
