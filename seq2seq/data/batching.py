"""Encoded sentence pairs, a token-budget batch sampler with length bucketing, and `Batch`."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .vocab import BOS, EOS, PAD


@dataclass
class Batch:
    """A padded batch, batch-first. B batch, S source length, T target length (with BOS/EOS)."""

    src: torch.Tensor  # (B, S) int64, PAD-padded
    src_lens: torch.Tensor  # (B,) int64, on CPU
    tgt_in: torch.Tensor  # (B, T) int64: BOS y1 .. yn, PAD-padded
    tgt_out: torch.Tensor  # (B, T) int64: y1 .. yn EOS, PAD-padded
    n_tokens: int  # real target tokens (non-PAD in tgt_out)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """The batch on `device`; to a GPU through pinned memory, without waiting when
        `non_blocking`."""
        if torch.device(device).type == "cpu":
            return self

        def move(t: torch.Tensor) -> torch.Tensor:
            return (t.pin_memory() if non_blocking else t).to(device, non_blocking=non_blocking)

        return Batch(move(self.src), self.src_lens, move(self.tgt_in), move(self.tgt_out),
                     self.n_tokens)


def pad(seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(padded (B, max_len) int64, lengths (B,) int64) from lists of ids."""
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), max(int(lens.max()), 1)), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out, lens


def pack(seqs: Sequence[Sequence[int]]) -> dict:
    """Sequences of ids as one flat int32 tensor plus offsets: {"ids": (N,), "offsets": (n+1,)}.
    Compact in memory and on disk, and instant to load."""
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    offsets = torch.zeros(len(seqs) + 1, dtype=torch.long)
    offsets[1:] = lens.cumsum(0)
    ids = torch.tensor(list(itertools.chain.from_iterable(seqs)), dtype=torch.int32)
    return {"ids": ids, "offsets": offsets}


class PairDataset:
    """Packed (see `pack`) source and target ids, truncated to `max_len` pieces per side.

    The ids and offsets may be torch tensors or numpy arrays, in memory, or memory maps of the
    prepared training files: then only each pair's padded size is held in memory (a 2- or
    4-byte integer), and `collate` reads the offsets and pieces of just the pairs of its batch
    from the files (see `FileSide`), so memory does not grow with the corpus.
    """

    def __init__(self, src: dict, tgt: dict, max_len: int):
        self.src, self.tgt = _side(src, max_len), _side(tgt, max_len)
        n = len(self.src)
        dtype = np.uint16 if max_len < np.iinfo(np.uint16).max else np.int32
        self._sizes = np.empty(n, dtype=dtype)
        for start in range(0, n, CHUNK_PAIRS):  # in chunks: no corpus-sized temporaries
            end = min(start + CHUNK_PAIRS, n)
            np.maximum(self.src.lengths(start, end), self.tgt.lengths(start, end) + 1,
                       out=self._sizes[start:end], casting="unsafe")

    def __len__(self) -> int:
        return len(self._sizes)

    def sizes(self) -> np.ndarray:
        """Padded cost of each pair in a batch: its longer side, target counted with BOS/EOS."""
        return self._sizes

    def collate(self, indices: Sequence[int], noise=None) -> Batch:
        """The batch of pairs `indices`; `noise`: a function of the source id lists (training's
        source noise, see noise.py)."""
        idx = np.asarray(indices, dtype=np.int64)
        src_ids, tgt_ids = self.src.read(idx), self.tgt.read(idx)
        if noise is not None:
            src_ids = noise(src_ids)
        src, src_lens = pad(src_ids)
        tgt_in, _ = pad([[BOS] + t for t in tgt_ids])
        tgt_out, _ = pad([t + [EOS] for t in tgt_ids])
        return Batch(src, src_lens, tgt_in, tgt_out, int((tgt_out != PAD).sum()))


CHUNK_PAIRS = 1 << 20  # pairs whose sizes are computed at once


class PackedSide:
    """One side's packed sequences, cut to `max_len` pieces: subclasses say where the offsets
    and ids come from (`offsets(start, end)`: offsets[start:end]; `ids(start, n)`)."""

    n: int
    max_len: int

    def __len__(self) -> int:
        return self.n

    def lengths(self, start: int, end: int) -> np.ndarray:
        """Lengths of sequences [start, end), cut to max_len (int64)."""
        return np.minimum(np.diff(self.offsets(start, end + 1)), self.max_len)

    def read(self, idx: np.ndarray) -> list[list[int]]:
        out = []
        for i in idx.tolist():
            a, b = self.offsets(i, i + 2).tolist()
            out.append(self.ids(a, min(b - a, self.max_len)))
        return out


class ArraySide(PackedSide):
    """In memory: ids (N,) and offsets (n + 1,)."""

    def __init__(self, ids, offsets, max_len: int):
        self._ids = _numpy(ids)
        self._offsets = _numpy(offsets).astype(np.int64, copy=False)
        self.n, self.max_len = len(self._offsets) - 1, max_len

    def offsets(self, start: int, end: int) -> np.ndarray:
        return self._offsets[start:end]

    def ids(self, start: int, n: int) -> list[int]:
        return self._ids[start: start + n].tolist()


class FileSide(PackedSide):
    """In the prepared files (int32 ids, int64 offsets), read with `pread`.

    Neither file is memory-mapped: reading a few hundred short random spans of a memory map per
    step makes the kernel map the pages around each one into the process (fault-around), so
    that after some steps over a large corpus the whole file counts in its RSS. `pread` copies
    just the bytes asked for. The descriptors are opened per process (forked and spawned
    workers open their own).
    """

    def __init__(self, ids: np.memmap, offsets: np.memmap, max_len: int):
        self.files = ((ids.filename, ids.offset), (offsets.filename, offsets.offset))
        self.n, self.max_len = len(offsets) - 1, max_len
        self._fds: tuple[int, int, int] | None = None  # (pid, ids descriptor, offsets one)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fds": None}

    def _pread(self, which: int, itemsize: int, dtype, start: int, count: int) -> np.ndarray:
        """`count` items from item `start` of file `which` (0: ids, 1: offsets)."""
        if self._fds is None or self._fds[0] != os.getpid():
            self._fds = (os.getpid(), *(os.open(path, os.O_RDONLY) for path, _ in self.files))
        data = os.pread(self._fds[1 + which], itemsize * count,
                        self.files[which][1] + itemsize * start)
        return np.frombuffer(data, dtype=dtype)

    def offsets(self, start: int, end: int) -> np.ndarray:
        return self._pread(1, 8, np.int64, start, end - start)

    def ids(self, start: int, n: int) -> list[int]:
        return self._pread(0, 4, np.int32, start, n).tolist()

    def __del__(self):
        if self._fds is not None and self._fds[0] == os.getpid():
            for fd in self._fds[1:]:
                os.close(fd)


def _side(packed: dict, max_len: int) -> PackedSide:
    """Memory maps of whole files are read as files; anything else as arrays."""
    ids, offsets = packed["ids"], packed["offsets"]
    if _whole_file(ids) and _whole_file(offsets) and ids.dtype == np.int32 \
            and offsets.dtype == np.int64:
        return FileSide(ids, offsets, max_len)
    return ArraySide(ids, offsets, max_len)


def _whole_file(a) -> bool:
    """Whether `a` is a memory map of all of a file's data after its offset (not a slice)."""
    return (isinstance(a, np.memmap) and a.ndim == 1 and bool(a.filename)
            and os.path.getsize(a.filename) == a.offset + a.nbytes)


def _numpy(a) -> np.ndarray:
    return a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


Group = tuple[int, int, float]  # indices [start, end) of one corpus, and its sampling weight


class Batches(Sequence):
    """An epoch's batches as one flat index array plus where each batch lies in it: a few bytes
    per pair, even for millions of pairs. Items are lists of pair indices; slices are lists of
    those."""

    def __init__(self, flat: np.ndarray, starts: np.ndarray, ends: np.ndarray):
        self.flat, self.starts, self.ends = flat, starts, ends  # batch k: flat[starts[k]:ends[k]]

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.flat[self.starts[k]: self.ends[k]].tolist()

    def __eq__(self, other) -> bool:
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None


class TokenBatchSampler:
    """Batches whose padded size (rows x longest side) stays within `max_tokens`.

    Each epoch: take every index once — or, with `groups`, each corpus's indices `weight` times
    (2.5: every pair twice, and a random half of them a third time) — with `copies` > 1 (the
    sizes are then those of `copies` segmentations of each pair, copy k of pair i at k * n + i)
    each index drawn goes to one of its pair's copies at random — shuffle them with
    (seed, epoch), cut them into pools of `pool` batches' worth, sort each pool by length so that
    similar lengths share a batch (little padding), cut the pool into batches, then shuffle the
    batch order. Deterministic for a given seed and epoch; works from the lengths alone, in
    numpy arrays (no Python object per pair).
    """

    def __init__(self, sizes: Sequence[int], max_tokens: int, seed: int, shuffle: bool = True,
                 pool: int = 100, groups: Sequence[Group] | None = None, copies: int = 1):
        self.sizes = np.asarray(sizes)  # kept in its own integer type (2 bytes a pair, often)
        self.copies = copies
        self.pairs = len(self.sizes) // copies  # n: pairs, each with `copies` segmentations
        if self.sizes.dtype.kind not in "iu":
            self.sizes = self.sizes.astype(np.int64)
        # pair indices: 4 bytes each where they fit
        self.index_dtype = np.int32 if len(self.sizes) < np.iinfo(np.int32).max else np.int64
        self.max_tokens = max_tokens
        self.seed = seed
        self.shuffle = shuffle
        self.pool = pool
        self.groups = list(groups) if groups else [(0, self.pairs, 1.0)]
        self._last: tuple[int, Batches] | None = None  # the last epoch asked for

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """Every index of the epoch (repeated by its corpus's weight), not yet shuffled."""
        parts = [np.zeros(0, dtype=self.index_dtype)]
        for start, end, weight in self.groups:
            whole, part = int(weight), weight - int(weight)
            parts += [np.arange(start, end, dtype=self.index_dtype)] * whole
            if part > 0:
                picked = rng.choice(end - start, round(part * (end - start)), replace=False)
                parts.append((np.sort(picked) + start).astype(self.index_dtype))
        return np.concatenate(parts)

    def batches(self, epoch: int) -> Batches:
        if self._last is None or self._last[0] != epoch:
            self._last = (epoch, self._batches(epoch))
        return self._last[1]

    def _batches(self, epoch: int) -> Batches:
        rng = np.random.default_rng([self.seed, epoch])
        order = self.epoch_indices(rng)
        if self.copies > 1:  # a segmentation for each draw of a pair
            order += (self.pairs * rng.integers(self.copies, size=len(order))).astype(order.dtype)
        if self.shuffle:
            rng.shuffle(order)
        mean = float(self.sizes.mean()) if len(self.sizes) else 0.0
        pool_len = max(1, int(self.pool * self.max_tokens / max(mean, 1)))
        bounds = [0]
        for start in range(0, len(order), pool_len):
            pool = order[start: start + pool_len]  # a view: sorted in place
            pool[:] = pool[np.argsort(self.sizes[pool], kind="stable")]
            bounds += [start + end for end in self._cut(self.sizes[pool].tolist())]
        starts, ends = np.array(bounds[:-1], dtype=np.int64), np.array(bounds[1:], dtype=np.int64)
        if self.shuffle:  # the batches in random order; the pairs stay where they are
            perm = rng.permutation(len(starts))
            starts, ends = starts[perm], ends[perm]
        return Batches(order, starts, ends)

    def _cut(self, lens: list[int]) -> Iterator[int]:
        """Ends of the batches of one pool, `lens` ascending: each batch takes the most pairs
        whose padded size (count x the last, longest) fits `max_tokens`; at least one."""
        i, n = 0, len(lens)
        while i < n:
            lo, hi = i + 1, n  # the largest end j with lens[j - 1] * (j - i) <= max_tokens
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if lens[mid - 1] * (mid - i) <= self.max_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            yield lo
            i = lo
