"""A deterministic, leak-free train/dev/test split for corpora without an official one.

Tatoeba often gives one English sentence several French translations and vice versa. Splitting by
line would put "I see." in train and test alike, so pairs are joined into connected groups (two
pairs belong together when they share their French or their English side) and whole groups are
assigned to a split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def connected_groups(pairs: Sequence[tuple[str, str]]) -> list[list[int]]:
    """Indices of `pairs` grouped so that pairs sharing a source or a target side are together."""
    parent = list(range(len(pairs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[tuple[int, str], int] = {}
    for i, (src, tgt) in enumerate(pairs):
        for key in ((0, src), (1, tgt)):
            j = first_seen.setdefault(key, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(len(pairs)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def split_groups(
    pairs: Sequence[tuple[str, str]], dev_size: int, test_size: int, max_group: int, seed: int
) -> tuple[list[int], list[int], list[int]]:
    """(train, dev, test) indices; dev and test hold whole groups of at most `max_group` pairs.

    Groups are visited in an order fixed by a hash of (seed, group's first pair), so the split
    depends only on the data and the seed, not on the Python version or hash randomisation.
    """

    def order(group: list[int]) -> str:
        src, tgt = pairs[group[0]]
        return hashlib.sha1(f"{seed}\t{src}\t{tgt}".encode()).hexdigest()

    train: list[int] = []
    dev: list[int] = []
    test: list[int] = []
    for group in sorted(connected_groups(pairs), key=order):
        if len(group) <= max_group and len(dev) < dev_size:
            dev.extend(group)
        elif len(group) <= max_group and len(test) < test_size:
            test.extend(group)
        else:
            train.extend(group)
    return sorted(train), sorted(dev), sorted(test)
