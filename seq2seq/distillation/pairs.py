"""The training pairs of a data config, as training reads them: each corpus normalised,
filtered and (with `data.sample`) sampled, in the order of `training_corpora`."""

from __future__ import annotations

from collections.abc import Iterator

from omegaconf import DictConfig

from ..data.cleaning import keep_pair, normalize_pairs, settings
from ..data.prepare import file_sources, load_splits, training_corpora
from ..data.sample import sample_pairs
from ..data.user_files import iter_pairs


def _corpus(cfg: DictConfig, name: str) -> Iterator[tuple[str, str]]:
    n = (cfg.get("sample") or {}).get(name)
    if name in cfg.corpora:  # built-in: read whole (small), normalised and filtered
        pairs = iter(load_splits(cfg, [f"{name}.train"])[f"{name}.train"])
        return sample_pairs(pairs, n, cfg.sample_seed, name) if n else pairs
    spec = next(s for s in file_sources(cfg, "train") if s.name == name)
    pairs = iter_pairs(spec, cfg.tsv_bad_lines)
    if n:
        pairs = sample_pairs(pairs, n, cfg.sample_seed, name)
    filters = settings(cfg.filter)
    return (p for p in normalize_pairs(pairs, cfg.normalize) if keep_pair(*p, filters))


def training_pairs(cfg: DictConfig) -> Iterator[tuple[str, tuple[str, str]]]:
    """(corpus name, (French, English)) of every training pair of `cfg` (the data config)."""
    for name in training_corpora(cfg):
        for pair in _corpus(cfg, name):
            yield name, pair


def identity(cfg: DictConfig) -> dict:
    """The settings that decide which pairs `training_pairs` gives (not paths of caches)."""
    from omegaconf import OmegaConf

    keys = ("corpora", "normalize", "filter", "tatoeba_split", "sample", "sample_seed",
            "tsv_bad_lines")
    out = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k])
           else cfg[k] for k in keys if k in cfg}
    out["files"] = [OmegaConf.to_container(s) for s in file_sources(cfg, "train")]
    return out
