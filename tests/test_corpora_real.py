"""Checks on the real corpora: they need SEQ2SEQ_DATA (CI sets it to ../shared/data)."""

import os
from pathlib import Path

import pytest

from seq2seq.config.schema import MULTI30K_SPLITS
from seq2seq.data import corpora
from seq2seq.data.prepare import load_splits

DATA = os.environ.get("SEQ2SEQ_DATA")
pytestmark = pytest.mark.skipif(not DATA, reason="SEQ2SEQ_DATA is not set: no real corpora")


def test_multi30k_files_match_the_published_release():
    import hashlib

    for split in MULTI30K_SPLITS:
        for lang in ("fr", "en"):
            spec = corpora.multi30k_file(split, lang)
            data = (Path(DATA) / spec.relpath).read_bytes()
            assert hashlib.sha256(data).hexdigest() == spec.sha256
            assert len(corpora.read_lines(Path(DATA) / spec.relpath)) == spec.lines


def test_real_tatoeba_split_sizes_and_no_leak(make_cfg):
    cfg = make_cfg("prepare_data", ["data=tatoeba"], tiny=False)
    cfg.data.root = DATA
    splits = load_splits(cfg.data, ["tatoeba.train", "tatoeba.dev", "tatoeba.test"])
    train, dev, test = (splits[f"tatoeba.{s}"] for s in ("train", "dev", "test"))
    assert 2900 <= len(dev) <= 3100 and 2900 <= len(test) <= 3100
    assert len(train) > 150_000
    for side in (0, 1):
        seen = {p[side] for p in train}
        assert not any(p[side] in seen for p in dev + test)
