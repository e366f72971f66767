"""Scoring: `metrics.py` (sacreBLEU BLEU, chrF and TER with signatures), `evaluate.py` (test sets
of a checkpoint), `report.py` (the results table from evaluation runs) and `analyze.py` (BLEU by
sentence length, the worst sentences)."""
