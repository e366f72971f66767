import subprocess
import sys

import numpy as np
import pytest
from omegaconf import open_dict

from seq2seq.config import check_section
from seq2seq.data.prepare import load_splits, prepare, train_groups
from seq2seq.errors import Seq2SeqError

from .helpers import ROOT, write_gz


def quiet(*_):
    pass


@pytest.mark.parametrize("data", ["multi30k", "tatoeba", "mixed"])
def test_prepare_each_data_config(make_cfg, data):
    cfg = make_cfg("prepare_data", [f"data={data}"])
    prep = prepare(cfg.data, log=quiet)
    assert not prep.reused
    n_train = len(prep.train["src"]["offsets"]) - 1
    assert n_train == len(prep.train["tgt"]["offsets"]) - 1 > 100
    assert len(prep.valid["src"]["offsets"]) - 1 == len(prep.valid["tgt_text"]) > 0
    assert prep.vocab.src_size <= 300
    again = prepare(cfg.data, log=quiet)
    assert again.reused and again.path == prep.path
    assert np.array_equal(again.train["src"]["ids"], prep.train["src"]["ids"])


def test_changed_setting_rebuilds(make_cfg):
    cfg = make_cfg("prepare_data")
    first = prepare(cfg.data, log=quiet)
    cfg.data.spm.model_type = "unigram"
    second = prepare(cfg.data, log=quiet)
    assert not second.reused and second.path != first.path


def test_mixed_trains_on_both_and_tests_on_both(make_cfg):
    cfg = make_cfg("prepare_data", ["data=mixed"])
    prep = prepare(cfg.data, log=quiet)
    assert set(prep.sizes) == {"multi30k.train", "tatoeba.train", "multi30k.val", "tatoeba.dev",
                               "multi30k.test_2016_flickr", "multi30k.test_2017_flickr",
                               "multi30k.test_2017_mscoco", "tatoeba.test"}
    n_train = len(prep.train["src"]["offsets"]) - 1
    assert n_train == prep.sizes["multi30k.train"] + prep.sizes["tatoeba.train"]


def test_tatoeba_split_has_no_leak(make_cfg):
    cfg = make_cfg("prepare_data", ["data=tatoeba"])
    splits = load_splits(cfg.data, ["tatoeba.train", "tatoeba.dev", "tatoeba.test"])
    train = splits["tatoeba.train"]
    for held in ("tatoeba.dev", "tatoeba.test"):
        assert splits[held]
        for side in (0, 1):
            assert not {p[side] for p in splits[held]} & {p[side] for p in train}


def test_empty_after_filtering_is_an_error(make_cfg):
    cfg = make_cfg("prepare_data", ["data.filter.max_words=1"])
    with pytest.raises(Seq2SeqError, match="multi30k.train is empty after filtering"):
        prepare(cfg.data, log=quiet)


def test_unknown_split_is_an_error(make_cfg):
    cfg = make_cfg("prepare_data")
    with open_dict(cfg):
        cfg.data.valid_splits = ["multi30k.dev"]
    with pytest.raises(Seq2SeqError, match="unknown split 'multi30k.dev'"):
        prepare(cfg.data, log=quiet)


def test_mismatched_corpus_files(make_cfg, tmp_path):
    root = tmp_path / "bad"
    for split in ("train", "val", "test_2016_flickr", "test_2017_flickr", "test_2017_mscoco"):
        write_gz(root / "multi30k" / f"{split}.fr.gz", ["un", "deux"])
        write_gz(root / "multi30k" / f"{split}.en.gz", ["one", "two"])
    write_gz(root / "multi30k" / "val.en.gz", ["one"])
    cfg = make_cfg("prepare_data")
    cfg.data.root = str(root)
    with pytest.raises(Seq2SeqError, match=r"val.fr.gz has 2 lines but .*val.en.gz has 1"):
        prepare(cfg.data, log=quiet)
    prepared = tmp_path / "cache" / "prepared"  # no folder left, complete or not (a lock file
    assert not prepared.exists() or not [p for p in prepared.iterdir() if p.is_dir()]  # may)


def run_script(args, env):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "prepare_data.py"), *args],
                          env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_script_prints_sizes_and_reuses_cache(script_env, tmp_path):
    args = ["data=multi30k", "data.spm.vocab_size=300", f"hydra.run.dir={tmp_path / 'out'}"]
    first = run_script(args, script_env)
    assert first.returncode == 0, first.stderr
    assert "multi30k.train" in first.stdout and "280 pairs" in first.stdout
    assert "vocabulary (joint)" in first.stdout
    second = run_script(args, script_env)
    assert second.returncode == 0 and "reused cached multi30k" in second.stdout


@pytest.mark.slow
def test_script_unknown_data_config_is_one_line(script_env, tmp_path):
    result = run_script(["data=europarl", f"hydra.run.dir={tmp_path / 'out'}"], script_env)
    assert result.returncode != 0
    assert "Could not find 'data/europarl'" in result.stderr
    assert "Traceback" not in result.stderr


def test_corpus_weights_make_sampler_groups(make_cfg):
    cfg = make_cfg("train", ["data=mixed", "data.weights.multi30k=2.5"])
    prep = prepare(cfg.data, log=lambda *_: None)
    (m_start, m_end, m_w), (t_start, t_end, t_w) = train_groups(cfg.data, prep)
    assert (m_start, m_w, t_w) == (0, 2.5, 1.0) and m_end == t_start
    assert m_end - m_start == prep.sizes["multi30k.train"]
    assert t_end - t_start == prep.sizes["tatoeba.train"]
    for bad, message in (("data.weights.tatoeba=0", "must be a number > 0"),
                         ("data.weights.tatoeba=lots", "must be a number > 0"),
                         ("+data.weights.europarl=2", "not a training corpus")):
        with pytest.raises(Seq2SeqError, match=message):
            check_section(make_cfg("train", ["data=mixed", bad]).data, "data")
