"""The fixtures: the toy corpus on disk, shrunk configs pointed at it, and one tiny trained
checkpoint for the translate/evaluate tests (helpers.py has what they are made of)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import DictConfig

from .helpers import TINY, TINY_TRAIN, compose_config, write_toy_root


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    return write_toy_root(tmp_path_factory.mktemp("data"))


@pytest.fixture
def make_cfg(toy_root, tmp_path):
    def make(name: str = "train", overrides: list[str] = (), tiny: bool = True) -> DictConfig:
        extra = []
        if tiny:
            extra = [o for o in TINY if name != "prepare_data" or o.startswith("data")]
            if name == "train":
                extra += TINY_TRAIN
            if any(o.startswith("data=") for o in overrides):  # the caller picks the data
                extra = [o for o in extra if not o.startswith("data=")]
        return compose_config(name, toy_root, tmp_path / "cache", extra + list(overrides))
    return make


@pytest.fixture(scope="session")
def trained(toy_root, tmp_path_factory) -> Path:
    """A tiny model trained for a few hundred steps on the toy corpus: its best.pt."""
    from seq2seq.training.loop import train

    run = tmp_path_factory.mktemp("run")
    cfg = compose_config("train", toy_root, run / "cache",
                         TINY + TINY_TRAIN + ["train.max_steps=300", "train.valid_every=100"])
    train(cfg, run, log=lambda *_: None)
    return run / "checkpoints" / "best.pt"


@pytest.fixture
def script_env(toy_root, tmp_path) -> dict:
    """Environment for running the scripts in a subprocess against the toy corpus."""
    env = dict(os.environ)
    env.update(SEQ2SEQ_DATA=str(toy_root), SEQ2SEQ_CACHE=str(tmp_path / "cache"),
               PYTHONIOENCODING="utf-8")
    return env
