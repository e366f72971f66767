"""Text normalisation and training-pair filters (pure functions, no torch)."""

from __future__ import annotations

import re
import unicodedata

from omegaconf import DictConfig

# Control characters (Unicode category Cc) that are not whitespace: NUL, BEL, ESC, DEL, C1 codes.
# Whitespace controls (tab, newlines, \x1c-\x1f, \x85) are left to whitespace collapsing.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def normalize(text: str, cfg: DictConfig) -> str:
    """Unicode normal form and whitespace: `cfg` is `data.normalize`."""
    if cfg.unicode != "none":
        text = unicodedata.normalize(cfg.unicode, text)
    if cfg.strip_control:
        text = _CONTROL.sub("", text)
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
