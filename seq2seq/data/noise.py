"""Source-side noise for training (`train.source_noise`): whole words dropped and words moved a
few places (Lample et al. 2018, "Unsupervised machine translation using monolingual corpora
only"), so that the model learns not to lean on every source word being where its training
captions put it. Works on SentencePiece ids: a word is a piece that opens with "▁" and the
pieces that follow it. Drawn from a generator the caller seeds (per batch), so training with
noise stays reproducible and resumes exactly. Validation, evaluation and translation never
see noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sentencepiece as spm

WORD_START = "\u2581"  # SentencePiece's "▁": the piece opens a word


class SourceNoise:
    """`drop`: probability of dropping each word (a sentence keeps at least one);
    `shuffle`: words move at most this many places (0: word order kept)."""

    def __init__(self, sp: spm.SentencePieceProcessor, drop: float, shuffle: int):
        self.drop, self.shuffle = drop, shuffle
        n = sp.get_piece_size()
        # (n,) bool: pieces that open a word; control and byte pieces do not
        self.opens = np.array([sp.id_to_piece(i).startswith(WORD_START) for i in range(n)])

    @property
    def active(self) -> bool:
        return self.drop > 0 or self.shuffle > 0

    def __call__(self, sentences: Sequence[list[int]], rng: np.random.Generator
                 ) -> list[list[int]]:
        return [self.sentence(s, rng) for s in sentences]

    def sentence(self, ids: list[int], rng: np.random.Generator) -> list[int]:
        if len(ids) < 2:
            return ids
        arr = np.asarray(ids, dtype=np.int64)
        starts = np.flatnonzero(self.opens[arr])
        if len(starts) == 0 or starts[0] != 0:
            starts = np.concatenate([[0], starts])
        words = np.split(arr, starts[1:])  # (W,) pieces per word
        order = np.arange(len(words))
        if self.drop > 0 and len(words) > 1:
            keep = rng.random(len(words)) >= self.drop
            if not keep.any():
                keep[rng.integers(len(words))] = True
            order = order[keep]
        if self.shuffle > 0 and len(order) > 1:
            # each word's position plus uniform [0, shuffle + 1) noise, sorted: no word moves
            # more than `shuffle` places
            keys = np.arange(len(order)) + rng.uniform(0, self.shuffle + 1, len(order))
            order = order[np.argsort(keys, kind="stable")]
        return np.concatenate([words[i] for i in order]).tolist()
