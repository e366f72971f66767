"""Sequence-level knowledge distillation (Kim & Rush, 2016): a teacher translates the training
corpus (`corpus.py`), and a small student trains on its translations (data=distilled)."""
