"""`data.sample`: a seeded random sample of a training corpus, taken in one pass over a stream
of any length (reservoir sampling) and given back in the corpus's own order."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Iterator


def sample_pairs(pairs: Iterable, n: int, seed: int, name: str = "") -> Iterator:
    """`n` items of `pairs` drawn uniformly at random (all of them when there are fewer), in
    their original order. Holds only the `n` kept items; the draw depends on `seed` and on the
    corpus `name` (so that two corpora sampled with one seed are not sampled alike)."""
    rng = random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))
    kept: list = []
    for i, item in enumerate(pairs):
        if i < n:
            kept.append((i, item))
        else:
            j = rng.randrange(i + 1)
            if j < n:
                kept[j] = (i, item)
    kept.sort(key=lambda x: x[0])
    return (item for _, item in kept)
