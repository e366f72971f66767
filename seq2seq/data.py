"""Encoded sentence pairs, a token-budget batch sampler with length bucketing, and `Batch`."""

from __future__ import annotations

import itertools
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

    The ids may be torch tensors or numpy arrays, memory-mapped ones included: only the
    per-pair starts and lengths are held in memory (12 bytes a side per pair), and `collate`
    reads the pieces of just the pairs of its batch.
    """

    def __init__(self, src: dict, tgt: dict, max_len: int):
        self.src_ids, self.tgt_ids = _numpy(src["ids"]), _numpy(tgt["ids"])
        self.src_start, self.src_len = _spans(src["offsets"], max_len)
        self.tgt_start, self.tgt_len = _spans(tgt["offsets"], max_len)
        self._sizes = np.maximum(self.src_len, self.tgt_len + 1)

    def __len__(self) -> int:
        return len(self._sizes)

    def sizes(self) -> np.ndarray:
        """Padded cost of each pair in a batch: its longer side, target counted with BOS/EOS."""
        return self._sizes

    @staticmethod
    def _ids(ids: np.ndarray, starts: np.ndarray, lens: np.ndarray, idx) -> list[list[int]]:
        return [ids[a: a + n].tolist() for a, n in zip(starts[idx].tolist(), lens[idx].tolist())]

    def collate(self, indices: Sequence[int]) -> Batch:
        idx = np.asarray(indices, dtype=np.int64)
        src_ids = self._ids(self.src_ids, self.src_start, self.src_len, idx)
        tgt_ids = self._ids(self.tgt_ids, self.tgt_start, self.tgt_len, idx)
        src, src_lens = pad(src_ids)
        tgt_in, _ = pad([[BOS] + t for t in tgt_ids])
        tgt_out, _ = pad([t + [EOS] for t in tgt_ids])
        return Batch(src, src_lens, tgt_in, tgt_out, int((tgt_out != PAD).sum()))


def _numpy(a) -> np.ndarray:
    return a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _spans(offsets, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts (int64) and lengths cut to `max_len` (int32) of each sequence."""
    off = _numpy(offsets).astype(np.int64, copy=False)
    return np.array(off[:-1]), np.minimum(np.diff(off), max_len).astype(np.int32)


Group = tuple[int, int, float]  # indices [start, end) of one corpus, and its sampling weight


class Batches(Sequence):
    """An epoch's batches as one flat index array plus boundaries: a few bytes per pair, even
    for millions of pairs. Items are lists of pair indices; slices are lists of those."""

    def __init__(self, flat: np.ndarray, bounds: np.ndarray):
        self.flat, self.bounds = flat, bounds  # batch k: flat[bounds[k]:bounds[k + 1]]

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.flat[self.bounds[k]: self.bounds[k + 1]].tolist()

    def __eq__(self, other) -> bool:
        if isinstance(other, Batches):
            return (np.array_equal(self.flat, other.flat)
                    and np.array_equal(self.bounds, other.bounds))
        return list(self) == list(other)

    __hash__ = None


class TokenBatchSampler:
    """Batches whose padded size (rows x longest side) stays within `max_tokens`.

    Each epoch: take every index once — or, with `groups`, each corpus's indices `weight` times
    (2.5: every pair twice, and a random half of them a third time) — shuffle them with
    (seed, epoch), cut them into pools of `pool` batches' worth, sort each pool by length so that
    similar lengths share a batch (little padding), cut the pool into batches, then shuffle the
    batch order. Deterministic for a given seed and epoch; works from the lengths alone, in
    numpy arrays (no Python object per pair).
    """

    def __init__(self, sizes: Sequence[int], max_tokens: int, seed: int, shuffle: bool = True,
                 pool: int = 100, groups: Sequence[Group] | None = None):
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.max_tokens = max_tokens
        self.seed = seed
        self.shuffle = shuffle
        self.pool = pool
        self.groups = list(groups) if groups else [(0, len(self.sizes), 1.0)]
        self._last: tuple[int, Batches] | None = None  # the last epoch asked for

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """Every index of the epoch (repeated by its corpus's weight), not yet shuffled."""
        parts = [np.zeros(0, dtype=np.int64)]
        for start, end, weight in self.groups:
            whole, part = int(weight), weight - int(weight)
            parts += [np.arange(start, end, dtype=np.int64)] * whole
            if part > 0:
                picked = rng.choice(end - start, round(part * (end - start)), replace=False)
                parts.append(np.sort(picked) + start)
        return np.concatenate(parts)

    def batches(self, epoch: int) -> Batches:
        if self._last is None or self._last[0] != epoch:
            self._last = (epoch, self._batches(epoch))
        return self._last[1]

    def _batches(self, epoch: int) -> Batches:
        rng = np.random.default_rng([self.seed, epoch])
        order = self.epoch_indices(rng)
        if self.shuffle:
            rng.shuffle(order)
        mean = float(self.sizes.mean()) if len(self.sizes) else 0.0
        pool_len = max(1, int(self.pool * self.max_tokens / max(mean, 1)))
        flat, bounds = [], [0]
        for start in range(0, len(order), pool_len):
            chunk = order[start: start + pool_len]
            chunk = chunk[np.argsort(self.sizes[chunk], kind="stable")]
            flat.append(chunk)
            bounds += [bounds[-1] + end for end in self._cut(self.sizes[chunk].tolist())]
        flat_ids = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        starts, ends = np.array(bounds[:-1]), np.array(bounds[1:])
        if self.shuffle:
            perm = rng.permutation(len(starts))
            starts, ends = starts[perm], ends[perm]
            flat_ids = (np.concatenate([flat_ids[a:b] for a, b in zip(starts, ends)])
                        if len(starts) else flat_ids)
        new_bounds = np.zeros(len(starts) + 1, dtype=np.int64)
        new_bounds[1:] = np.cumsum(ends - starts)
        return Batches(flat_ids, new_bounds)

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
