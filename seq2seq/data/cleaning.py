"""Text normalisation and training-pair filters (pure functions, no torch)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from types import SimpleNamespace

from omegaconf import DictConfig, OmegaConf

# Control characters (Unicode category Cc) that are not whitespace: NUL, BEL, ESC, DEL, C1 codes.
# Whitespace controls (tab, newlines, \x1c-\x1f, \x85) are left to whitespace collapsing.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def settings(node) -> SimpleNamespace:
    """A config node (or dict) as a plain namespace: `normalize` and `keep_pair` run per line,
    and each attribute read of a DictConfig costs microseconds."""
    if isinstance(node, SimpleNamespace):
        return node
    return SimpleNamespace(**(OmegaConf.to_container(node, resolve=True)
                              if OmegaConf.is_config(node) else dict(node)))


def normalize_pairs(pairs: Iterable[tuple[str, str]], cfg) -> Iterator[tuple[str, str]]:
    """`normalize` on both sides of each pair, `cfg` being `data.normalize`."""
    s = settings(cfg)
    for fr, en in pairs:
        yield normalize(fr, s), normalize(en, s)


def one_line(text: str) -> str:
    """Output pieces may decode to line breaks (byte fallback); they would break line counts."""
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


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
