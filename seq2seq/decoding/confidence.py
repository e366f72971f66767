"""How sure the model is of a translation: the sentence's mean token log-probability (</s>
included), and each output word's probability, the geometric mean of its pieces'
probabilities (a word is the pieces from one word-start mark to the next, as in the output
text)."""

from __future__ import annotations

import math

from .alignment import word_of_pieces
from .core import Translation


def sentence_confidence(t: Translation) -> float | None:
    """Mean log-probability per token of the best translation (0 is certain); None for an
    empty input or a search that did not record token scores."""
    scores = t.hypothesis.token_scores
    if not scores:
        return None
    return sum(scores) / len(scores)


def word_probabilities(t: Translation, tgt_pieces: list[str]) -> list[float]:
    """For each word of the best translation (its `tgt_pieces`), a probability in (0, 1]."""
    scores = t.hypothesis.token_scores
    if not scores or not tgt_pieces:
        return []
    owner = word_of_pieces(tgt_pieces)
    sums = [0.0] * (owner[-1] + 1)
    counts = [0] * len(sums)
    for w, lp in zip(owner, scores):  # the </s> score has no word
        sums[w] += lp
        counts[w] += 1
    return [math.exp(s / c) if c else 0.0 for s, c in zip(sums, counts)]
