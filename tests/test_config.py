"""Every config composes, and every model preset builds and runs."""

import os
from pathlib import Path

import pytest

from seq2seq.config import check_section
from seq2seq.data.prepare import data_root
from seq2seq.model.encoder_decoder import build_model

from .helpers import CONF


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("model", options("model"))
def test_every_model_preset_builds(make_cfg, model):
    cfg = make_cfg("train", [f"model={model}"])
    assert cfg.model.name == model
    build_model(cfg.model, 50, 50)


@pytest.mark.parametrize("data", options("data"))
def test_every_data_config_is_valid(make_cfg, data):
    cfg = make_cfg("prepare_data", [f"data={data}"], tiny=False)
    assert cfg.data.name == data
    check_section(cfg.data, "data")


@pytest.mark.parametrize("name", ["train", "evaluate", "prepare_data"])
@pytest.mark.parametrize("train", options("train"))
@pytest.mark.parametrize("decode", options("decode"))
def test_top_level_configs_compose(make_cfg, name, train, decode):
    overrides = {"train": [f"train={train}", f"decode={decode}"],
                 "evaluate": [f"decode={decode}", "checkpoint=x.pt"], "prepare_data": []}[name]
    cfg = make_cfg(name, overrides, tiny=False)
    assert cfg.data.spm.vocab_size == 8000


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    from hydra import compose, initialize_config_dir

    monkeypatch.setenv("SEQ2SEQ_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("SEQ2SEQ_CACHE", str(tmp_path / "c"))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train")
    assert cfg.data.root == str(tmp_path / "d") and cfg.data.cache_dir == str(tmp_path / "c")
    monkeypatch.delenv("SEQ2SEQ_DATA")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train")
    assert cfg.data.root == "~/.cache/seq2seq/data"
    assert data_root(cfg.data) == Path(os.path.expanduser("~/.cache/seq2seq/data"))


@pytest.mark.parametrize("overrides, dropout, minutes, enc_layers, ema", [
    ([], 0.1, 20, 1, 0.995),                            # the model's own dropout and depth
    (["train=quick"], 0.1, 4, 1, 0.995),
    (["train=best"], 0.1, 90, 3, 0.0),                  # the 90-minute recipe sets its own
    (["train=best", "model=gru_large"], 0.1, 90, 3, 0.0),
    (["train=best", "model.dropout=0.2"], 0.2, 90, 3, 0.0),  # the command line still wins
    (["train=best", "model.encoder.layers=1"], 0.1, 90, 1, 0.0),
    (["train=best", "train.ema_decay=0.998"], 0.1, 90, 3, 0.998),
])
def test_recipes_set_their_budget_dropout_and_depth(make_cfg, overrides, dropout, minutes,
                                                    enc_layers, ema):
    cfg = make_cfg("train", overrides, tiny=False)
    assert (cfg.model.dropout, cfg.train.max_minutes) == (dropout, minutes)
    assert cfg.model.encoder.layers == enc_layers
    assert cfg.train.ema_decay == ema
    assert cfg.train.name == (overrides[0].split("=")[1] if overrides else "default")
