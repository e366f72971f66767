"""Corpus-level BLEU, chrF and TER with sacreBLEU, each with its reproducibility signature."""

from __future__ import annotations

from collections.abc import Sequence

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
