"""Corpora → normalised, filtered, split sentence pairs → SentencePiece → encoded, cached data.

Split names are `<corpus>.<split>`: `multi30k.train|val|test_2016_flickr|test_2017_flickr|
test_2017_mscoco`, `tatoeba.train|dev|test`, and `files.<name>` for the user's validation and
test corpora (`data.files`, see `user_files.py`). The prepared data lives in
`<cache_dir>/prepared/<name>-<key>/` (meta.pt and memory-mapped training arrays, see
`cache_build.py`), where the key hashes every setting and input file that changes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..checkpoint import load_checkpoint
from ..config import check_section
from ..config.schema import MULTI30K_SPLITS
from ..errors import Seq2SeqError
from . import corpora
from .cache_build import build, load_train_arrays
from .cleaning import keep_pair, normalize_pairs, settings
from .splits import split_groups
from .user_files import iter_pairs, resolve
from .vocab import Vocab

logger = logging.getLogger(__name__)

FORMAT_VERSION = 4
META = "meta.pt"  # vocabulary, validation data, sizes; training arrays lie beside it

Pairs = list[tuple[str, str]]  # (French, English)


def file_sources(cfg: DictConfig, part: str) -> list:
    """The user's corpora of `data.files.<part>` (train, valid or test); none without files."""
    files = cfg.get("files") or {}
    return list(files.get(part) or [])


def data_root(cfg: DictConfig) -> Path:
    return Path(os.path.expanduser(cfg.root))


def _normalized_pairs(cfg: DictConfig, corpus: str) -> dict[str, Pairs]:
    """Normalised, unfiltered pairs of every split of one corpus."""
    root = data_root(cfg)

    def norm(pairs):
        return list(normalize_pairs(pairs, cfg.normalize))

    if corpus == "multi30k":
        out = {}
        for split in MULTI30K_SPLITS:
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
    """Normalised pairs of the named splits (`corpus.split`, or `files.<name>` for a validation
    or test corpus of the user's); "<corpus>.train" is filtered. Read whole: for the small
    built-in corpora and held-out sets (training files stream, see `cache_build.py`)."""
    check_section(cfg, "data")
    out: dict[str, Pairs] = {}
    specs = {f"files.{s.name}": s for p in ("valid", "test") for s in file_sources(cfg, p)}
    for name in names:
        if name in specs:
            out[name] = list(normalize_pairs(
                iter_pairs(specs[name], cfg.get("tsv_bad_lines", "error")), cfg.normalize))
    filters = settings(cfg.filter)
    for corpus in dict.fromkeys(n.partition(".")[0] for n in names if n not in specs):
        splits = _normalized_pairs(cfg, corpus)
        for name in names:
            c, _, split = name.partition(".")
            if c == corpus:
                pairs = splits[split]
                out[name] = [p for p in pairs if keep_pair(*p, filters)] \
                    if split == "train" else pairs
    return out


# ---------------------------------------------------------------------------------------------
# Prepared (encoded) data and its cache


@dataclass
class Prepared:
    """Encoded training and validation data plus the vocabulary; see `prepare`."""

    path: Path  # the cache folder
    vocab: Vocab
    train: dict  # {"src": packed ids, "tgt": packed ids, "corpora": [[name, pairs], ...]},
    # with data.subword_sampling also "sampled": {"src", "tgt", "copies"} (copies x pairs)
    valid: dict  # the same, plus "src_text" and "tgt_text": lists of str
    sizes: dict  # split name -> number of pairs
    reused: bool  # True when read from the cache


def training_corpora(cfg: DictConfig) -> list[str]:
    """Names of the training corpora, in the order their pairs lie in the prepared data."""
    return list(cfg.corpora) + [s.name for s in file_sources(cfg, "train")]


def train_groups(cfg: DictConfig, prep: Prepared) -> list[tuple[int, int, float]]:
    """(start, end, weight) of each training corpus in the prepared data, for the sampler;
    weights come from `data.weights` (1 where not given)."""
    weights = dict(cfg.get("weights") or {})
    groups, start = [], 0
    for name, count in prep.train["corpora"]:
        groups.append((start, start + count, float(weights.get(name, 1))))
        start += count
    return groups


def given_vocab(cfg: DictConfig) -> Vocab | None:
    """The vocabulary of the checkpoint `data.spm.vocab_from` names (None: fit one)."""
    path = cfg.spm.get("vocab_from")
    return Vocab.from_dict(load_checkpoint(path)["vocab"]) if path else None


def vocab_digest(vocab: Vocab) -> str:
    """A short hash of a vocabulary: its SentencePiece model(s) and output piece list."""
    h = hashlib.sha256(vocab.src_model)
    h.update(vocab.tgt_model or b"")
    h.update(json.dumps(vocab.target_ids).encode())
    return h.hexdigest()[:12]


def cache_key(cfg: DictConfig, given: Vocab | None = None) -> str:
    """Hash of everything that changes the prepared data (not paths or URLs). With a `given`
    vocabulary, its digest stands for the SentencePiece settings."""
    keys = ("corpora", "normalize", "filter", "tatoeba_split", "valid_splits", "test_splits",
            "spm", "files", "dedupe", "drop_leaks", "tsv_bad_lines")
    relevant = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k])
                else cfg[k] for k in keys if k in cfg}
    relevant["spm"].pop("vocab_from", None)
    if given is not None:
        relevant["spm"] = {"given_vocab": vocab_digest(given)}
    if cfg.get("sample"):
        relevant["sample"] = [dict(cfg.sample), cfg.sample_seed]
    sampling = cfg.get("subword_sampling")
    if sampling is not None and sampling.copies:  # (off: the key of data prepared without it)
        relevant["subword_sampling"] = OmegaConf.to_container(sampling, resolve=True)
    relevant["format"] = FORMAT_VERSION
    root = data_root(cfg)
    relevant["corpus_files"] = sorted(
        (str(p.relative_to(root)), p.stat().st_size)
        for c in cfg.corpora for p in (root / c).glob("*.gz")) if root.exists() else []
    relevant["user_files"] = sorted(  # the user's files: where, how large, when changed
        (str(path), path.stat().st_size, path.stat().st_mtime_ns)
        for part in ("train", "valid", "test") for spec in file_sources(cfg, part)
        for key in ("src", "tgt", "tsv") if spec.get(key)
        for path in [resolve(spec[key])] if path.exists())
    blob = json.dumps(relevant, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _build(cfg: DictConfig, folder: Path, threads: int, log, given: Vocab | None) -> dict:
    held_names = list(dict.fromkeys(list(cfg.valid_splits) + list(cfg.test_splits)))
    builtin = load_splits(cfg, [f"{c}.train" for c in cfg.corpora] + held_names)
    for name, pairs in builtin.items():
        if not pairs:
            raise Seq2SeqError(f"split {name} is empty after filtering; loosen data.filter "
                               f"or check the corpus files in {data_root(cfg)}")
    held = {n: builtin[n] for n in held_names}
    train_builtin = {c: builtin[f"{c}.train"] for c in cfg.corpora}
    return build(cfg, folder, held, training_corpora(cfg), train_builtin, threads, log, given)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if missing) between processes on this machine: two
    runs that need the same prepared data build it once."""
    import fcntl

    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def prepare(cfg: DictConfig, threads: int = 1, force: bool = False, log=None,
            vocab: Vocab | None = None) -> Prepared:
    """Prepared data for `cfg` (the `data` config group): from the cache, or built and cached.
    `vocab`: the vocabulary of `data.spm.vocab_from` when the caller has read it already.

    Built in a temporary folder beside its final place and renamed into place when complete, so
    a crash leaves nothing half-built; concurrent runs wait for one another (a file lock) and
    the later ones reuse what the first built.
    """
    check_section(cfg, "data")
    log = log or logger.info
    given = vocab or given_vocab(cfg)
    cache = Path(os.path.expanduser(cfg.cache_dir)) / "prepared"
    folder = cache / f"{cfg.name}-{'vocab-' if given else ''}{cache_key(cfg, given)}"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise Seq2SeqError(f"cannot write prepared data under {cache} ({err.strerror}); "
                           f"set data.cache_dir or SEQ2SEQ_CACHE to a writable folder")
    with _lock(cache / f".{folder.name}.lock"):
        reused = (folder / META).exists() and not force
        if not reused:
            _build_into(cfg, cache, folder, threads, log, given)
    meta = torch.load(folder / META, weights_only=True)
    train = {**load_train_arrays(folder), "corpora": meta["train_corpora"]}
    if meta.get("sampled_copies"):
        train["sampled"] = {**load_train_arrays(folder, "train.sampled"),
                            "copies": meta["sampled_copies"]}
    return Prepared(folder, Vocab.from_dict(meta["vocab"]), train, meta["valid"],
                    meta["sizes"], reused)


def _build_into(cfg: DictConfig, cache: Path, folder: Path, threads: int, log,
                given: Vocab | None) -> None:
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=f".{folder.name}."))
    try:
        meta = _build(cfg, tmp, threads, log, given)
        meta["format"] = FORMAT_VERSION
        torch.save(meta, tmp / META)
        (tmp / "sizes.json").write_text(json.dumps(
            {"sizes": meta["sizes"], "corpora": meta["stats"], "seconds": meta["seconds"]},
            indent=2) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise Seq2SeqError(f"cannot write prepared data under {cache} ({err.strerror}); "
                           f"set data.cache_dir or SEQ2SEQ_CACHE to a writable folder")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"prepared {folder} in {time.perf_counter() - start:.1f}s")
