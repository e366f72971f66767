"""Corpora → normalised, filtered, split sentence pairs → SentencePiece → encoded, cached data.

Split names are `<corpus>.<split>`: `multi30k.train|val|test_2016_flickr|test_2017_flickr|
test_2017_mscoco` and `tatoeba.train|dev|test`. The prepared data lives in
`<cache_dir>/prepared/<name>-<key>/data.pt`, where the key hashes every setting that changes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from . import corpora
from .data import pack
from .errors import Seq2SeqError
from .splits import split_groups
from .text import keep_pair, normalize
from .vocab import Vocab, train_sentencepiece

FORMAT_VERSION = 3
CORPORA = ("multi30k", "tatoeba")
SPLITS = {
    "multi30k": ("train",) + corpora.MULTI30K_SPLITS[1:],
    "tatoeba": ("train", "dev", "test"),
}

Pairs = list[tuple[str, str]]  # (French, English)


def check_data_config(cfg: DictConfig) -> None:
    """Fail early, in one line, on a data config that names unknown corpora or splits."""
    unknown = [c for c in cfg.corpora if c not in CORPORA]
    if unknown or not cfg.corpora:
        raise Seq2SeqError(f"data.corpora={list(cfg.corpora)}: choose from {list(CORPORA)}")
    for name in list(cfg.valid_splits) + list(cfg.test_splits):
        corpus, _, split = name.partition(".")
        if split not in SPLITS.get(corpus, ()):
            known = [f"{c}.{s}" for c in CORPORA for s in SPLITS[c] if s != "train"]
            raise Seq2SeqError(f"unknown split '{name}' in data config; known: {known}")
    if cfg.spm.model_type not in ("bpe", "unigram"):
        raise Seq2SeqError(f"data.spm.model_type={cfg.spm.model_type}: choose bpe or unigram")


def data_root(cfg: DictConfig) -> Path:
    return Path(os.path.expanduser(cfg.root))


def _normalized_pairs(cfg: DictConfig, corpus: str) -> dict[str, Pairs]:
    """Normalised, unfiltered pairs of every split of one corpus."""
    root = data_root(cfg)

    def norm(pairs):
        return [(normalize(f, cfg.normalize), normalize(e, cfg.normalize)) for f, e in pairs]

    if corpus == "multi30k":
        out = {}
        for split in corpora.MULTI30K_SPLITS:
            fr, en = (corpora.ensure_multi30k(root, split, lang, cfg.urls.multi30k, cfg.download)
                      for lang in ("fr", "en"))
            out[split] = norm(corpora.read_parallel(fr, en))
        return out
    path = corpora.ensure_tatoeba(root, cfg.urls.tatoeba, cfg.download)
    pairs = norm(corpora.read_tatoeba(path))
    s = cfg.tatoeba_split
    train, dev, test = split_groups(pairs, s.dev_size, s.test_size, s.max_group, s.seed)
    return {name: [pairs[i] for i in idx]
            for name, idx in (("train", train), ("dev", dev), ("test", test))}


def load_splits(cfg: DictConfig, names: list[str]) -> dict[str, Pairs]:
    """Normalised pairs of the named splits (`corpus.split`); "<corpus>.train" is filtered."""
    check_data_config(cfg)
    out: dict[str, Pairs] = {}
    for corpus in dict.fromkeys(n.partition(".")[0] for n in names):
        splits = _normalized_pairs(cfg, corpus)
        for name in names:
            c, _, split = name.partition(".")
            if c == corpus:
                pairs = splits[split]
                out[name] = [p for p in pairs if keep_pair(*p, cfg.filter)] \
                    if split == "train" else pairs
    return out


# ---------------------------------------------------------------------------------------------
# Prepared (encoded) data and its cache


@dataclass
class Prepared:
    """Encoded training and validation data plus the vocabulary; see `prepare`."""

    path: Path  # the cache folder
    vocab: Vocab
    train: dict  # {"src": packed ids, "tgt": packed ids, "corpora": [[name, pairs], ...]}
    valid: dict  # the same, plus "src_text" and "tgt_text": lists of str
    sizes: dict  # split name -> number of pairs
    reused: bool  # True when read from the cache


def train_groups(cfg: DictConfig, prep: Prepared) -> list[tuple[int, int, float]]:
    """(start, end, weight) of each training corpus in the prepared data, for the sampler;
    weights come from `data.weights` (1 where not given)."""
    weights = dict(cfg.get("weights") or {})
    for name, w in weights.items():
        if name not in cfg.corpora:
            raise Seq2SeqError(f"data.weights.{name}: not a training corpus of data={cfg.name} "
                               f"({list(cfg.corpora)})")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
            raise Seq2SeqError(f"data.weights.{name}={w}: must be a positive number")
    groups, start = [], 0
    for name, count in prep.train["corpora"]:
        groups.append((start, start + count, float(weights.get(name, 1))))
        start += count
    return groups


def cache_key(cfg: DictConfig) -> str:
    """Hash of everything that changes the prepared data (not paths or URLs)."""
    relevant = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k])
                else cfg[k] for k in ("corpora", "normalize", "filter", "tatoeba_split",
                                      "valid_splits", "test_splits", "spm")}
    relevant["format"] = FORMAT_VERSION
    root = data_root(cfg)
    relevant["files"] = sorted(
        (str(p.relative_to(root)), p.stat().st_size)
        for c in cfg.corpora for p in (root / c).glob("*.gz")) if root.exists() else []
    blob = json.dumps(relevant, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _encode(vocab: Vocab, pairs: Pairs) -> dict:
    return {"src": pack(vocab.encode_src([f for f, _ in pairs])),
            "tgt": pack(vocab.encode_tgt([e for _, e in pairs]))}


def _build(cfg: DictConfig, threads: int, log) -> dict:
    train_names = [f"{c}.train" for c in cfg.corpora]
    names = train_names + list(cfg.valid_splits) + list(cfg.test_splits)
    splits = load_splits(cfg, list(dict.fromkeys(names)))
    train = [p for n in train_names for p in splits[n]]
    valid = [p for n in cfg.valid_splits for p in splits[n]]
    for name, pairs in splits.items():
        if not pairs:
            raise Seq2SeqError(f"split {name} is empty after filtering; loosen data.filter "
                               f"or check the corpus files in {data_root(cfg)}")
    log(f"fitting SentencePiece ({cfg.spm.model_type}, {cfg.spm.vocab_size} pieces, "
        f"{'joint' if cfg.spm.joint else 'separate'}) on {len(train)} training pairs")
    if cfg.spm.joint:
        vocab = Vocab(train_sentencepiece([x for p in train for x in p], cfg.spm, threads))
    else:
        vocab = Vocab(train_sentencepiece([f for f, _ in train], cfg.spm, threads),
                      train_sentencepiece([e for _, e in train], cfg.spm, threads))
    valid_enc = _encode(vocab, valid)
    valid_enc["src_text"] = [f for f, _ in valid]
    valid_enc["tgt_text"] = [e for _, e in valid]
    sizes = {n: len(p) for n, p in splits.items()}
    train_enc = _encode(vocab, train)
    train_enc["corpora"] = [[n.partition(".")[0], len(splits[n])] for n in train_names]
    return {"format": FORMAT_VERSION, "vocab": vocab.to_dict(), "train": train_enc,
            "valid": valid_enc, "sizes": sizes,
            "config": OmegaConf.to_container(cfg, resolve=True)}


def prepare(cfg: DictConfig, threads: int = 1, force: bool = False, log=print) -> Prepared:
    """Prepared data for `cfg` (the `data` config group): from the cache, or built and cached."""
    check_data_config(cfg)
    cache = Path(os.path.expanduser(cfg.cache_dir)) / "prepared"
    folder = cache / f"{cfg.name}-{cache_key(cfg)}"
    file = folder / "data.pt"
    reused = file.exists() and not force
    if not reused:
        start = time.perf_counter()
        blob = _build(cfg, threads, log)
        tmp = None
        try:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cache, prefix=f".{folder.name}."))
            torch.save(blob, tmp / "data.pt")
            (tmp / "sizes.json").write_text(json.dumps(blob["sizes"], indent=2) + "\n")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        except OSError as err:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise Seq2SeqError(f"cannot write prepared data under {cache} ({err.strerror}); "
                               f"set data.cache_dir or SEQ2SEQ_CACHE to a writable folder")
        log(f"prepared {folder} in {time.perf_counter() - start:.1f}s")
    blob = torch.load(file, weights_only=True)
    return Prepared(folder, Vocab.from_dict(blob["vocab"]), blob["train"], blob["valid"],
                    blob["sizes"], reused)
