"""The data pipeline, in the order it runs:

- `corpora.py`: the built-in corpora (Multi30k, Tatoeba): where they live, download, checks.
- `user_files.py`: the user's own parallel files and TSVs, read as streams.
- `cleaning.py`: text normalisation and the training-pair filters.
- `splits.py`: a leak-free train/dev/test split for corpora without one (Tatoeba).
- `prepare.py`: the cached, locked preparation of a data config (`prepare`, `load_splits`).
- `cache_build.py`: its streaming build: filter, de-duplicate, drop leaks, fit SentencePiece,
  encode into flat token arrays.
- `vocab.py`: SentencePiece vocabularies (no torch).
- `batching.py`: pairs read from the prepared arrays, weights, token-budget batches, `Batch`.
- `testsets.py`: sacreBLEU's WMT test sets by name.
"""
