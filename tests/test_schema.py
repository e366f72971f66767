"""The config schema: every shipped config passes it, every bad value is one line naming the key,
the value and what is allowed — from the library and from the commands, before any corpus is
read."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from seq2seq.config import check_config, check_section, compose_config, load_config_file
from seq2seq.errors import Seq2SeqError

from .helpers import CONF, TINY


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("job,overrides", [
    ("train", []), ("train", ["train=best", "model=gru_large"]), ("train", ["train=quick"]),
    ("prepare_data", ["data=files"]), ("evaluate", ["checkpoint=x.pt", "decode=beam5"]),
    ("evaluate", ["checkpoint=[a.pt,b.pt]"]), ("analyze", ["checkpoints=[a.pt]"]),
] + [("train", [f"model={m}"]) for m in options("model")]
  + [("prepare_data", [f"data={d}"]) for d in options("data")])
def test_shipped_configs_pass(job, overrides):
    check_config(compose_config(job, overrides), job)


def test_serve_config_passes():
    check_config(load_config_file("serve.yaml"), "serve")


BAD = [
    ("model.cell=rnn", "model.cell=rnn: choose one of ['gru', 'lstm']"),
    ("train.schedule=cosine", "train.schedule=cosine: choose one of ['constant', 'plateau', "
                              "'warmup_decay', 'budget']"),
    ("train.lr=0", "train.lr=0: must be a number > 0"),
    ("decode.beam_size=-1", "decode.beam_size=-1: must be a positive integer"),
    ("decode.n_best=3", "decode.n_best=3: must be at most decode.beam_size (1)"),
    ("train.max_steps=-1", "train.max_steps=-1: must be an integer >= 0"),
    ("train.batch_tokens=1.5", "train.batch_tokens=1.5: must be a positive integer"),
    ("train.ema_decay=1", "train.ema_decay=1: must be in [0, 1)"),
    ("train.plateau_factor=0", "train.plateau_factor=0: must be in (0, 1]"),
    ("train.betas=[0.9,1.2]", "train.betas[1]=1.2: must be in [0, 1)"),
    ("train.precision=fp8", "train.precision=fp8: choose one of"),
    ("train.optimizer=sgd", "train.optimizer=sgd: choose one of ['adam', 'adamw']"),
    ("train.device=tpu", "train.device=tpu: choose one of ['auto', 'cpu', 'cuda']"),
    ("train.dist_backend=mpi", "train.dist_backend=mpi: choose one of"),
    ("train.max_minutes=0", "train.schedule=budget decays over the budget"),
    ("model.dropout=1.5", "model.dropout=1.5: must be in [0, 1)"),
    ("model.encoder.bidirectional=maybe", "model.encoder.bidirectional=maybe: must be true or "
                                          "false"),
    ("model.attention.type=cosine", "model.attention.type=cosine: choose one of"),
    ("data.spm.model_type=wordpiece", "data.spm.model_type=wordpiece: choose one of"),
    ("data.corpora=[europarl]", "data.corpora[0]=europarl: choose one of ['multi30k', "
                                "'tatoeba']"),
    ("data.weights.tatoeba=0", "data.weights.tatoeba=0: must be a number > 0"),
    ("+data.weights.europarl=2", "data.weights.europarl: not a training corpus"),
    ("data.valid_splits=[]", "data.valid_splits is empty"),
    ("data.test_splits=[wmt.test]", "unknown split 'wmt.test'"),
    ("data.normalize.unicode=NFD", "data.normalize.unicode=NFD: choose one of"),
    ("+train.lrate=0.1", "train.lrate: unknown setting"),
]


@pytest.mark.parametrize("override,message", BAD)
def test_bad_values_are_named_with_what_is_allowed(override, message):
    with pytest.raises(Seq2SeqError) as err:
        check_config(compose_config("train", [override]), "train")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_sections_are_checked_alone_with_their_prefix():
    cfg = compose_config("train", ["model.embed_dim=0"])
    with pytest.raises(Seq2SeqError, match="model.embed_dim=0: must be a positive integer"):
        check_section(cfg.model, "model")
    check_section(cfg.data, "data")


def test_file_entries_are_checked():
    files = "data.files.train=[{name:a,src:a.fr}]"
    with pytest.raises(Seq2SeqError, match=r"data.files.train\[0\] \(a\): give src and tgt"):
        check_config(compose_config("prepare_data", ["data=files", files]), "prepare_data")
    columns = "data.files.test=[{name:t,tsv:t.tsv,columns:[fr,de]}]"
    with pytest.raises(Seq2SeqError, match=r"columns=\['fr', 'de'\]"):
        check_config(compose_config("prepare_data", ["data=files", columns]), "prepare_data")
    typo = "data.files.valid=[{name:d,src:d.fr,tgt:d.en,lang:fr}]"
    with pytest.raises(Seq2SeqError, match=r"data.files.valid\[0\].lang: unknown setting"):
        check_config(compose_config("prepare_data", ["data=files", typo]), "prepare_data")


def test_a_missing_required_value_names_it():
    cfg = compose_config("evaluate")
    with pytest.raises(Seq2SeqError, match="checkpoint is required: give checkpoint=..."):
        check_config(cfg, "evaluate")


def test_serve_settings_are_checked():
    cfg = OmegaConf.merge(load_config_file("serve.yaml"), {"port": 70000})
    with pytest.raises(Seq2SeqError, match=r"port=70000: must be a port number \(1-65535\)"):
        check_config(cfg, "serve")


@pytest.mark.slow
@pytest.mark.parametrize("override,message", [
    ("model.cell=rnn", "error: model.cell=rnn: choose one of ['gru', 'lstm']"),
    ("train.schedule=cosine", "error: train.schedule=cosine: choose one of"),
    ("train.lr=0", "error: train.lr=0: must be a number > 0"),
    ("decode.beam_size=-1", "error: decode.beam_size=-1: must be a positive integer"),
])
def test_the_command_stops_before_reading_any_corpus(tmp_path, override, message):
    """One line, exit 2, and nothing written to the cache (where a corpus read would land)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {**os.environ, "SEQ2SEQ_DATA": str(tmp_path / "no-data"),
           "SEQ2SEQ_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-m", "seq2seq.cli.train", *TINY, override,
                        f"hydra.run.dir={tmp_path / 'run'}"], env=env, capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == message or r.stderr.startswith(message)
    assert len(r.stderr.strip().splitlines()) == 1
    assert list(cache.iterdir()) == [] and not (tmp_path / "run").exists()
