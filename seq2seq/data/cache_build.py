"""Building the prepared data of a data config in a stream, at any corpus size.

1. Validation and test splits are read whole (they are small) and normalised; their French
   sides make the held-out set.
2. Training pairs stream from every training corpus (built-in ones, the user's files) through
   normalisation and the filters (in `threads` worker processes, a chunk of pairs at a time, in
   order); with `data.drop_leaks`, pairs whose French side is held out are dropped, and with
   `data.dedupe`, repeated pairs (a set of 8-byte hashes, in the main process); the kept pairs
   go to a spool file per language.
3. SentencePiece is fitted on the spool (it samples `spm.max_sentences` sentences itself).
4. The spool is encoded in chunks by `threads` worker processes (each reads its chunk's bytes
   from the spool), straight into flat int32 token files plus int64 offsets
   (`train.{src,tgt}.{ids,offsets}.bin`), which training reads a batch at a time
   (`batching.FileSide`): it holds each pair's length, not the text.

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
import sentencepiece as spm
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from ..errors import Seq2SeqError
from .cleaning import keep_pair, normalize, settings
from .sample import sample_pairs
from .user_files import iter_pairs
from .vocab import Vocab, load_spm, seen_target_ids, train_sentencepiece

CHUNK = 50_000  # sentences encoded at once
CLEAN_CHUNK = 20_000  # pairs normalised and filtered at once
Pairs = list[tuple[str, str]]


def _digest(fr: str, en: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{fr}\t{en}".encode(), digest_size=8).digest(),
                          "little")


class Spool:
    """Normalised training pairs on disk, one file per language, one pair per line. It notes
    the byte offset of every `CHUNK`-th line, so that encoding workers read their chunks
    themselves."""

    def __init__(self, folder: Path):
        self.paths = (folder / "spool.fr", folder / "spool.en")
        self.files = [open(p, "wb") for p in self.paths]
        self.count = 0
        self.marks: tuple[list[int], list[int]] = ([0], [0])  # offsets of lines 0, CHUNK, ...
        self._size = [0, 0]

    def add(self, fr_lines: list[bytes], en_lines: list[bytes]) -> None:
        """Append pairs given as UTF-8 lines without their line ends."""
        first = self.count
        self.count += len(fr_lines)
        for side, lines in enumerate((fr_lines, en_lines)):
            if not lines:
                continue
            self.files[side].write(b"\n".join(lines) + b"\n")
            ends = np.cumsum(np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) + 1)
            # line k of the spool starts where line k - 1 ends
            ks = np.arange(-first % CHUNK or CHUNK, len(lines) + 1, CHUNK)
            self.marks[side].extend((self._size[side] + ends[ks - 1]).tolist())
            self._size[side] += int(ends[-1])

    def close(self) -> None:
        for f in self.files:
            f.close()

    def ranges(self, side: int) -> list[tuple[int, int]]:
        """Byte ranges of the chunks of one language: CHUNK lines each, the last one fewer."""
        marks = list(self.marks[side])
        if marks[-1] != self._size[side]:
            marks.append(self._size[side])
        return list(zip(marks[:-1], marks[1:]))

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


class Cleaner:
    """Normalisation, filters and the leak check of a chunk of training pairs (run in worker
    processes for the user's corpora, in this process for the built-in ones, which come
    normalised and filtered already). Returns the kept pairs as UTF-8 lines, their digests
    (for de-duplication, which needs every chunk and stays in the main process) and counts."""

    def __init__(self, cfg: DictConfig, held_out: set[str]):
        self.normalize, self.filters = settings(cfg.normalize), settings(cfg.filter)
        self.held_out, self.dedupe = held_out, cfg.dedupe

    def __call__(self, pairs: Pairs, raw: bool = True) -> tuple:
        fr_out, en_out, digests, filtered, leaks = [], [], [], 0, 0
        norm, filters, held_out = self.normalize, self.filters, self.held_out
        for fr, en in pairs:
            if raw:
                fr, en = normalize(fr, norm), normalize(en, norm)
                if not keep_pair(fr, en, filters):
                    filtered += 1
                    continue
            if fr in held_out:
                leaks += 1
                continue
            if self.dedupe:
                digests.append(_digest(fr, en))
            fr_out.append(fr.encode())
            en_out.append(en.encode())
        return fr_out, en_out, digests, {"filtered": filtered, "leaks": leaks}


_WORKER_CLEANER: Cleaner | None = None  # the Cleaner of a cleaning worker process


def _load_cleaner(cleaner: Cleaner) -> None:
    global _WORKER_CLEANER
    _WORKER_CLEANER = cleaner


def _clean_chunk(pairs: Pairs) -> tuple:
    return _WORKER_CLEANER(pairs)


def _source_pairs(cfg: DictConfig, name: str, builtin: dict[str, Pairs],
                  skipped: list[int]) -> Iterator[tuple[str, str]]:
    """Training pairs of one corpus as read: built-in ones normalised and filtered already;
    with `data.sample`, a random sample of them."""
    if name in builtin:
        pairs = iter(builtin[name])
    else:
        spec = next(s for s in cfg.files.train if s.name == name)
        pairs = iter_pairs(spec, cfg.tsv_bad_lines, skipped)
    n = (cfg.get("sample") or {}).get(name)
    return sample_pairs(pairs, n, cfg.sample_seed, name) if n else pairs


def spool_training_pairs(cfg: DictConfig, names: list[str], builtin: dict[str, Pairs],
                         held_out: set[str], spool: Spool, log, threads: int = 1) -> list[dict]:
    """Stream every training corpus into `spool`; returns per-corpus counts. The user's corpora
    are normalised and filtered in `threads` worker processes, a chunk at a time, in order."""
    seen: set[int] = set()
    stats = []
    cleaner = Cleaner(cfg, held_out if cfg.drop_leaks else set())
    pool = None
    if threads > 1 and any(name not in builtin for name in names):
        pool = multiprocessing.get_context("fork").Pool(threads, _load_cleaner, (cleaner,))
    bar = tqdm(desc="preparing", unit=" pairs", unit_scale=True, disable=None, leave=False)
    try:
        for name in names:
            counts = {"name": name, "read": 0, "kept": 0, "filtered": 0, "leaks": 0,
                      "duplicates": 0, "bad_lines": 0}
            skipped = [0]
            chunks = _pair_chunks(_source_pairs(cfg, name, builtin, skipped), counts)
            if name in builtin:
                cleaned = (cleaner(c, raw=False) for c in chunks)
            elif pool is not None:
                cleaned = _in_order(pool, _clean_chunk, chunks, ahead=2 * threads)
            else:
                cleaned = (cleaner(c) for c in chunks)
            for fr_lines, en_lines, digests, dropped in cleaned:
                for key, value in dropped.items():
                    counts[key] += value
                if cfg.dedupe:
                    fr_lines, en_lines = _new_pairs(fr_lines, en_lines, digests, seen, counts)
                spool.add(fr_lines, en_lines)
                counts["kept"] += len(fr_lines)
                bar.update(len(fr_lines))
            counts["bad_lines"] = skipped[0]
            _report(counts, log)
            stats.append(counts)
    finally:
        if pool is not None:
            pool.terminate()
        bar.close()
        spool.close()
    return stats


def _pair_chunks(pairs: Iterator[tuple[str, str]], counts: dict) -> Iterator[Pairs]:
    while chunk := list(itertools.islice(pairs, CLEAN_CHUNK)):
        counts["read"] += len(chunk)
        yield chunk


def _new_pairs(fr_lines: list[bytes], en_lines: list[bytes], digests: list[int],
               seen: set[int], counts: dict) -> tuple[list[bytes], list[bytes]]:
    """The pairs whose digest has not been seen before (and they are seen now)."""
    keep = []
    for i, d in enumerate(digests):
        if d in seen:
            counts["duplicates"] += 1
        else:
            seen.add(d)
            keep.append(i)
    if len(keep) == len(digests):
        return fr_lines, en_lines
    return [fr_lines[i] for i in keep], [en_lines[i] for i in keep]


def _report(counts: dict, log) -> None:
    if not counts["kept"]:
        raise Seq2SeqError(f"training corpus {counts['name']} is empty after filtering "
                           f"({counts['read']} pairs read); loosen data.filter or check "
                           f"its files")
    dropped = {k: v for k, v in counts.items() if k not in ("name", "read", "kept") and v}
    log(f"  {counts['name']}: {counts['kept']:,} training pairs kept of {counts['read']:,}"
        + (f" (dropped: {', '.join(f'{v:,} {k}' for k, v in dropped.items())})"
           if dropped else ""))


def fit_vocab(cfg: DictConfig, spool: Spool, threads: int, log, given: Vocab | None = None
              ) -> Vocab:
    """SentencePiece fitted on the spool; or the `given` vocabulary (data.spm.vocab_from)."""
    if given is not None:
        log(f"encoding {spool.count:,} training pairs with the vocabulary of "
            f"{cfg.spm.vocab_from} (data.spm.vocab_from; not refitted)")
        return given.with_target_ids(None)
    log(f"fitting SentencePiece ({cfg.spm.model_type}, {cfg.spm.vocab_size} pieces, "
        f"{'joint' if cfg.spm.joint else 'separate'}) on {spool.count:,} training pairs")
    if cfg.spm.joint:
        return Vocab(train_sentencepiece(spool.interleaved(), cfg.spm, threads))
    return Vocab(train_sentencepiece(spool.lines(0), cfg.spm, threads),
                 train_sentencepiece(spool.lines(1), cfg.spm, threads))


def encode_spool(vocab: Vocab, spool: Spool, folder: Path, threads: int) -> np.ndarray:
    """train.{src,tgt}.ids.bin (int32 pieces, all sentences back to back) and
    train.{src,tgt}.offsets.bin (int64, n + 1 values) from the spool, a chunk at a time, in
    `threads` worker processes that read their chunks from the spool themselves (chunks come
    back in order). Returns how often each target piece occurs."""
    counts = np.zeros(vocab.tgt.get_piece_size(), dtype=np.int64)
    with tqdm(total=spool.count, desc="encoding", unit=" pairs", unit_scale=True,
              disable=None, leave=False) as bar:
        for side, prefix, model in _sides(vocab):
            _encode_side(model, spool, side, folder / prefix, threads, [None],
                         counts if side == 1 else None, bar)
    return counts


def encode_sampled(vocab: Vocab, spool: Spool, folder: Path, threads: int,
                   sampling: DictConfig) -> np.ndarray:
    """`sampling.copies` sampled segmentations of every training pair (data.subword_sampling;
    SentencePiece's sampling: BPE-dropout for BPE models, subword regularisation for unigram
    ones) as train.sampled.{src,tgt}.{ids,offsets}.bin: copy k of pair i is sequence
    k * n + i. Each chunk is sampled from its own seed, so the result does not depend on the
    number of worker processes. A side that `sampling.sides` leaves out is repeated plain.
    Returns how often each target piece occurs in the copies."""
    counts = np.zeros(vocab.tgt.get_piece_size(), dtype=np.int64)
    with tqdm(total=spool.count * sampling.copies, desc="sampling segmentations",
              unit=" pairs", unit_scale=True, disable=None, leave=False) as bar:
        for side, prefix, model in _sides(vocab):
            sampled = sampling.sides in ("both", ("src", "tgt")[side])
            draws = [(sampling.alpha, sampling.nbest_size, [sampling.seed, side, k])
                     if sampled else None for k in range(sampling.copies)]
            _encode_side(model, spool, side, folder / prefix.replace("train.", "train.sampled."),
                         threads, draws, counts if side == 1 else None, bar)
    return counts


def _sides(vocab: Vocab) -> tuple:
    return ((0, "train.src", vocab.src_model),
            (1, "train.tgt", vocab.tgt_model or vocab.src_model))


def _encode_side(model: bytes, spool: Spool, side: int, prefix: Path, threads: int,
                 draws: list, counts: np.ndarray | None, bar) -> None:
    """Encode one language of the spool once per entry of `draws` (None: plain; or (alpha,
    nbest_size, seed) to sample), the copies back to back in `<prefix>.{ids,offsets}.bin`;
    target pieces are counted into `counts`."""
    work = ((str(spool.paths[side]), a, b, None if draw is None else
             (draw[0], draw[1], [*draw[2], chunk]))
            for draw in draws for chunk, (a, b) in enumerate(spool.ranges(side)))
    if threads > 1:  # fork: the workers need only SentencePiece and numpy
        pool = multiprocessing.get_context("fork").Pool(threads, _load_worker, (model,))
        encoded = _in_order(pool, _encode_range, work, ahead=2 * threads)
    else:
        pool = None
        _load_worker(model)
        encoded = (_encode_range(w) for w in work)
    try:
        end = 0
        with open(f"{prefix}.ids.bin", "wb") as ids_f, open(f"{prefix}.offsets.bin", "wb") as off_f:
            off_f.write(np.zeros(1, dtype=np.int64).tobytes())
            for flat, lengths in encoded:
                ids_f.write(flat.tobytes())
                if counts is not None:
                    counts += np.bincount(flat, minlength=len(counts))
                off_f.write((end + np.cumsum(lengths)).tobytes())
                end += int(lengths.sum())
                bar.update(len(lengths) / 2)
    finally:
        if pool is not None:
            pool.terminate()


def _to_output_ids(vocab: Vocab, folder: Path, chunk: int) -> None:
    """Rewrite train.tgt.ids.bin (and train.sampled.tgt.ids.bin where there is one) in place, a
    chunk at a time, from piece ids to `vocab`'s output ids."""
    for name in ("train.tgt.ids.bin", "train.sampled.tgt.ids.bin"):
        if not (folder / name).exists() or not (folder / name).stat().st_size:
            continue
        ids = np.memmap(folder / name, mode="r+", dtype=np.int32)
        for start in range(0, len(ids), chunk):
            ids[start: start + chunk] = vocab.to_output_ids(ids[start: start + chunk])
        ids.flush()
        del ids


def keep_seen_target_pieces(vocab: Vocab, counts: np.ndarray, folder: Path, log,
                            chunk: int = 1 << 24) -> Vocab:
    """Restrict the output vocabulary to the target pieces that occur (`counts`, from
    `encode_spool`); train.tgt.ids.bin is rewritten in place, a chunk at a time, as ids of that
    smaller list."""
    out = vocab.with_target_ids(seen_target_ids(counts))
    _to_output_ids(out, folder, chunk)
    log(f"output vocabulary: the {out.tgt_size:,} of {len(counts):,} pieces that occur in the "
        f"English training text (data.spm.target_pieces=seen)")
    return out


def keep_given_target_pieces(vocab: Vocab, target_ids: list[int] | None, counts: np.ndarray,
                             folder: Path, log, chunk: int = 1 << 24) -> Vocab:
    """The output vocabulary of a given vocabulary (a checkpoint's) kept as it is: target
    pieces outside it become UNK in train.tgt.ids.bin (rewritten in place), and the log says how
    many tokens that is."""
    out = vocab.with_target_ids(target_ids)
    if target_ids is None:
        return out
    outside = np.ones(len(counts), dtype=bool)
    outside[target_ids] = False
    lost, total = int(counts[outside].sum()), int(counts.sum())
    _to_output_ids(out, folder, chunk)
    log(f"output vocabulary: the checkpoint's {out.tgt_size:,} pieces; {lost:,} of {total:,} "
        f"target tokens ({100 * lost / max(total, 1):.2f} %) use pieces outside it and become "
        f"<unk>")
    return out


def _in_order(pool, func, items: Iterator, ahead: int) -> Iterator:
    """`func` of each item, run in `pool`, in input order, with at most `ahead` in flight
    (bounded memory, unlike Pool.imap, which reads its whole input)."""
    pending: collections.deque = collections.deque()
    for item in items:
        pending.append(pool.apply_async(func, (item,)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


_WORKER_SPM = None  # the SentencePiece model of an encoding worker process


def _load_worker(model: bytes) -> None:
    global _WORKER_SPM
    _WORKER_SPM = load_spm(model)


def _encode_range(where: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(flat int32 ids, int64 lengths) of the spool lines in bytes [start, end) of a file;
    plain, or sampled with (alpha, nbest_size, seed words)."""
    path, start, end, draw = where
    with open(path, "rb") as f:
        f.seek(start)
        lines = f.read(end - start).decode()[:-1].split("\n")  # "\n" ends a line
    # one thread: the worker processes are the parallelism
    if draw is None:
        encoded = _WORKER_SPM.encode(lines, num_threads=1)
    else:
        alpha, nbest_size, seed = draw
        # SentencePiece's generator is reseeded per call: the chunk's segmentations follow
        # from its seed alone
        spm.set_random_generator_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
        encoded = _WORKER_SPM.encode(lines, num_threads=1, enable_sampling=True, alpha=alpha,
                                     nbest_size=nbest_size)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    flat = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int32,
                       count=int(lengths.sum()))
    return flat, lengths


def load_train_arrays(folder: Path, prefix: str = "train") -> dict:
    """The encoded training data, memory-mapped: {"src": {"ids", "offsets"}, "tgt": ...};
    prefix "train.sampled": the sampled segmentations (see `encode_sampled`)."""
    out = {}
    for side in ("src", "tgt"):
        out[side] = {key: np.memmap(folder / f"{prefix}.{side}.{key}.bin", mode="r",
                                    dtype=np.int32 if key == "ids" else np.int64)
                     for key in ("ids", "offsets")}
    return out


def encode_split(vocab: Vocab, pairs: Pairs) -> dict:
    from .batching import pack

    return {"src": pack(vocab.encode_src([f for f, _ in pairs])),
            "tgt": pack(vocab.encode_tgt([e for _, e in pairs])),
            "src_text": [f for f, _ in pairs], "tgt_text": [e for _, e in pairs]}


def build(cfg: DictConfig, folder: Path, held: dict[str, Pairs], train_names: list[str],
          builtin_train: dict[str, Pairs], threads: int, log, given: Vocab | None = None
          ) -> dict:
    """Write the training arrays into `folder`; return the metadata (vocabulary, encoded
    validation data, sizes, per-corpus counts) that goes beside them. With a `given`
    vocabulary (a checkpoint's), the data is encoded with it instead of a fitted one."""
    start = time.perf_counter()
    held_out = {f for pairs in held.values() for f, _ in pairs} if cfg.drop_leaks else set()
    sampling = cfg.get("subword_sampling")
    copies = sampling.copies if sampling is not None else 0
    spool = Spool(folder)
    try:
        stats = spool_training_pairs(cfg, train_names, builtin_train, held_out, spool, log,
                                     threads)
        spooled = time.perf_counter()
        vocab = fit_vocab(cfg, spool, threads, log, given)
        fitted = time.perf_counter()
        counts = encode_spool(vocab, spool, folder, threads)
        if copies:
            counts += encode_sampled(vocab, spool, folder, threads, sampling)
            log(f"sampled {copies} segmentations of each training pair "
                f"(data.subword_sampling, alpha {sampling.alpha})")
        if given is not None:
            vocab = keep_given_target_pieces(vocab, given.target_ids, counts, folder, log)
        elif cfg.spm.target_pieces == "seen":
            vocab = keep_seen_target_pieces(vocab, counts, folder, log)
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
            "sampled_copies": copies,
            "config": OmegaConf.to_container(cfg, resolve=True),
            "seconds": {"total": round(total, 1), "read_filter": round(spooled - start, 1),
                        "vocabulary": round(fitted - spooled, 1),
                        "encode": round(time.perf_counter() - fitted, 1)}}
