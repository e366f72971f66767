"""Building the prepared data of a data config in a stream, at any corpus size.

1. Validation and test splits are read whole (they are small) and normalised; their French
   sides make the held-out set.
2. Training pairs stream from every training corpus (built-in ones, the user's files) through
   normalisation and the filters; with `data.drop_leaks`, pairs whose French side is held out
   are dropped, and with `data.dedupe`, repeated pairs (a set of 8-byte hashes); the kept pairs
   go to a spool file per language.
3. SentencePiece is fitted on the spool (it samples `spm.max_sentences` sentences itself).
4. The spool is encoded in chunks by `threads` worker processes, straight into flat int32
   token files plus int64 offsets (`train.{src,tgt}.{ids,offsets}.bin`), which training reads
   memory-mapped: it holds offsets and lengths per pair, not the text.

Only the hash set (8 bytes and some per training pair) and a few chunks are ever in memory. For the
built-in corpora the result is exactly what reading everything into memory gives.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .errors import Seq2SeqError
from .sources import iter_pairs
from .text import keep_pair, normalize_pairs, settings
from .vocab import Vocab, load_spm, train_sentencepiece

CHUNK = 50_000  # pairs encoded at once
Pairs = list[tuple[str, str]]


def _digest(fr: str, en: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{fr}\t{en}".encode(), digest_size=8).digest(),
                          "little")


class Spool:
    """Normalised training pairs on disk, one file per language, one pair per line."""

    def __init__(self, folder: Path):
        self.paths = (folder / "spool.fr", folder / "spool.en")
        self.files = [open(p, "wb") for p in self.paths]
        self.count = 0

    def add(self, fr: str, en: str) -> None:
        self.files[0].write(fr.encode() + b"\n")
        self.files[1].write(en.encode() + b"\n")
        self.count += 1

    def close(self) -> None:
        for f in self.files:
            f.close()

    def lines(self, side: int) -> Iterator[str]:
        """Lines of one language; only '\\n' ends a line (a sentence may hold other breaks)."""
        with open(self.paths[side], "rb") as f:
            for raw in f:
                yield raw[:-1].decode()

    def interleaved(self) -> Iterator[str]:
        """fr0, en0, fr1, en1, ...: the order a joint vocabulary is fitted on."""
        for fr, en in zip(self.lines(0), self.lines(1)):
            yield fr
            yield en

    def delete(self) -> None:
        for p in self.paths:
            p.unlink(missing_ok=True)


def _source_pairs(cfg: DictConfig, name: str, builtin: dict[str, Pairs],
                  skipped: list[int]) -> Iterator[tuple[str, str]]:
    """Normalised training pairs of one training corpus, before the filters."""
    if name in builtin:  # a built-in corpus, already normalised and filtered in memory
        yield from builtin[name]
        return
    spec = next(s for s in cfg.files.train if s.name == name)
    yield from normalize_pairs(iter_pairs(spec, cfg.tsv_bad_lines, skipped), cfg.normalize)


def spool_training_pairs(cfg: DictConfig, names: list[str], builtin: dict[str, Pairs],
                         held_out: set[str], spool: Spool, log) -> list[dict]:
    """Stream every training corpus into `spool`; returns per-corpus counts."""
    seen: set[int] = set()
    stats = []
    filters, drop_leaks, dedupe = settings(cfg.filter), cfg.drop_leaks, cfg.dedupe
    bar = tqdm(desc="preparing", unit=" pairs", unit_scale=True, disable=None, leave=False)
    for name in names:
        counts = {"name": name, "read": 0, "kept": 0, "filtered": 0, "leaks": 0,
                  "duplicates": 0, "bad_lines": 0}
        skipped = [0]
        in_memory = name in builtin  # built-in corpora come filtered already
        for fr, en in _source_pairs(cfg, name, builtin, skipped):
            counts["read"] += 1
            if counts["read"] % 10_000 == 0:
                bar.update(10_000)
            if not in_memory and not keep_pair(fr, en, filters):
                counts["filtered"] += 1
                continue
            if drop_leaks and fr in held_out:
                counts["leaks"] += 1
                continue
            if dedupe:
                d = _digest(fr, en)
                if d in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(d)
            spool.add(fr, en)
            counts["kept"] += 1
        counts["bad_lines"] = skipped[0]
        if not counts["kept"]:
            raise Seq2SeqError(f"training corpus {name} is empty after filtering "
                               f"({counts['read']} pairs read); loosen data.filter or check "
                               f"its files")
        stats.append(counts)
        dropped = {k: v for k, v in counts.items() if k not in ("name", "read", "kept") and v}
        log(f"  {name}: {counts['kept']:,} training pairs kept of {counts['read']:,}"
            + (f" (dropped: {', '.join(f'{v:,} {k}' for k, v in dropped.items())})"
               if dropped else ""))
    bar.close()
    spool.close()
    return stats


def fit_vocab(cfg: DictConfig, spool: Spool, threads: int, log) -> Vocab:
    log(f"fitting SentencePiece ({cfg.spm.model_type}, {cfg.spm.vocab_size} pieces, "
        f"{'joint' if cfg.spm.joint else 'separate'}) on {spool.count:,} training pairs")
    if cfg.spm.joint:
        return Vocab(train_sentencepiece(spool.interleaved(), cfg.spm, threads))
    return Vocab(train_sentencepiece(spool.lines(0), cfg.spm, threads),
                 train_sentencepiece(spool.lines(1), cfg.spm, threads))


def encode_spool(vocab: Vocab, spool: Spool, folder: Path, threads: int) -> None:
    """train.{src,tgt}.ids.bin (int32 pieces, all sentences back to back) and
    train.{src,tgt}.offsets.bin (int64, n + 1 values) from the spool, a chunk at a time, in
    `threads` worker processes (chunks come back in order)."""
    bar = tqdm(total=spool.count, desc="encoding", unit=" pairs", unit_scale=True,
               disable=None, leave=False)
    models = ((0, "train.src", vocab.src_model), (1, "train.tgt", vocab.tgt_model or
                                                  vocab.src_model))
    for side, prefix, model in models:
        chunks = _chunks(spool.lines(side))
        if threads > 1:  # fork: the workers need only SentencePiece and numpy
            pool = multiprocessing.get_context("fork").Pool(threads, _load_worker, (model,))
            encoded = _in_order(pool, chunks, ahead=2 * threads)
        else:
            pool, proc = None, load_spm(model)
            encoded = (_encode_chunk(c, proc) for c in chunks)
        try:
            end = 0
            with open(folder / f"{prefix}.ids.bin", "wb") as ids_f, \
                    open(folder / f"{prefix}.offsets.bin", "wb") as off_f:
                off_f.write(np.zeros(1, dtype=np.int64).tobytes())
                for flat, lengths in encoded:
                    ids_f.write(flat.tobytes())
                    off_f.write((end + np.cumsum(lengths)).tobytes())
                    end += int(lengths.sum())
                    bar.update(len(lengths) / 2)
        finally:
            if pool is not None:
                pool.terminate()
    bar.close()


def _in_order(pool, chunks: Iterator[list[str]], ahead: int) -> Iterator[tuple]:
    """Encoded chunks in input order, with at most `ahead` in flight (bounded memory, unlike
    Pool.imap, which reads its whole input)."""
    pending: collections.deque = collections.deque()
    for chunk in chunks:
        pending.append(pool.apply_async(_encode_chunk, (chunk,)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _chunks(lines: Iterator[str]) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(lines, CHUNK)):
        yield chunk


_WORKER_SPM = None  # the SentencePiece model of an encoding worker process


def _load_worker(model: bytes) -> None:
    global _WORKER_SPM
    _WORKER_SPM = load_spm(model)


def _encode_chunk(lines: list[str], proc=None) -> tuple[np.ndarray, np.ndarray]:
    """(flat int32 ids, int64 lengths) of a chunk of sentences."""
    encoded = (proc or _WORKER_SPM).encode(lines)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    flat = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int32,
                       count=int(lengths.sum()))
    return flat, lengths


def load_train_arrays(folder: Path) -> dict:
    """The encoded training data, memory-mapped: {"src": {"ids", "offsets"}, "tgt": ...}."""
    out = {}
    for side, prefix in (("src", "train.src"), ("tgt", "train.tgt")):
        out[side] = {key: np.memmap(folder / f"{prefix}.{key}.bin", mode="r",
                                    dtype=np.int32 if key == "ids" else np.int64)
                     for key in ("ids", "offsets")}
    return out


def encode_split(vocab: Vocab, pairs: Pairs) -> dict:
    from .data import pack

    return {"src": pack(vocab.encode_src([f for f, _ in pairs])),
            "tgt": pack(vocab.encode_tgt([e for _, e in pairs])),
            "src_text": [f for f, _ in pairs], "tgt_text": [e for _, e in pairs]}


def build(cfg: DictConfig, folder: Path, held: dict[str, Pairs], train_names: list[str],
          builtin_train: dict[str, Pairs], threads: int, log) -> dict:
    """Write the training arrays into `folder`; return the metadata (vocabulary, encoded
    validation data, sizes, per-corpus counts) that goes beside them."""
    start = time.perf_counter()
    held_out = {f for pairs in held.values() for f, _ in pairs} if cfg.drop_leaks else set()
    spool = Spool(folder)
    try:
        stats = spool_training_pairs(cfg, train_names, builtin_train, held_out, spool, log)
        spooled = time.perf_counter()
        vocab = fit_vocab(cfg, spool, threads, log)
        fitted = time.perf_counter()
        encode_spool(vocab, spool, folder, threads)
    finally:
        spool.close()
        spool.delete()
    valid = [p for n in cfg.valid_splits for p in held[n]]
    sizes = {f"{s['name']}.train" if s["name"] in builtin_train else f"files.{s['name']}":
             s["kept"] for s in stats}
    sizes.update({n: len(p) for n, p in held.items()})
    total = time.perf_counter() - start
    return {"vocab": vocab.to_dict(), "valid": encode_split(vocab, valid), "sizes": sizes,
            "train_corpora": [[s["name"], s["kept"]] for s in stats], "stats": stats,
            "config": OmegaConf.to_container(cfg, resolve=True),
            "seconds": {"total": round(total, 1), "read_filter": round(spooled - start, 1),
                        "vocabulary": round(fitted - spooled, 1),
                        "encode": round(time.perf_counter() - fitted, 1)}}
