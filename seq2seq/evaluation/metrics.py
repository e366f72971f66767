"""Corpus-level BLEU, chrF and TER with sacreBLEU, each with its reproducibility signature; how
well the model's confidence ranks its translations (Spearman's rank correlation with
sentence-level chrF)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sacrebleu.metrics import BLEU, CHRF, TER


def bleu(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Detokenized corpus BLEU (sacreBLEU defaults: 13a tokenizer, exp smoothing)."""
    return BLEU().corpus_score(list(hyps), [list(refs)]).score


def score_all(hyps: Sequence[str], refs: Sequence[str]) -> dict:
    """BLEU, chrF and TER with their signatures: {"bleu": .., "bleu_signature": .., ...}."""
    out = {}
    for name, metric in (("bleu", BLEU()), ("chrf", CHRF()), ("ter", TER())):
        result = metric.corpus_score(list(hyps), [list(refs)])
        out[name] = round(result.score, 2)
        out[f"{name}_signature"] = str(metric.get_signature())
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / np.bincount(inverse))[inverse]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (NaN with fewer than 3 pairs or a constant side)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def confidence_correlation(confidences: Sequence[float | None], hyps: Sequence[str],
                           refs: Sequence[str]) -> float:
    """Spearman correlation between sentence confidence and sentence chrF (sentences with a
    confidence only): how well the confidence finds the bad translations."""
    chrf = CHRF()
    pairs = [(c, chrf.sentence_score(h, [r]).score)
             for c, h, r in zip(confidences, hyps, refs) if c is not None]
    return spearman([c for c, _ in pairs], [s for _, s in pairs])
