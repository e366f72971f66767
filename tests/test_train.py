import json

import pytest
import torch

from seq2seq.checkpoint import load_checkpoint
from seq2seq.errors import Seq2SeqError
from seq2seq.train import train


def quiet(*_):
    pass


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_writes_checkpoints_and_metrics(make_cfg, tmp_path, precision):
    cfg = make_cfg("train", ["train.max_steps=60", "train.valid_every=30",
                             f"train.precision={precision}"])
    lines: list[str] = []
    summary = train(cfg, tmp_path / "run", log=lines.append)
    assert any("280 training pairs" in line for line in lines)
    assert summary["step"] == 60 and summary["stop_reason"] == "reached max_steps=60", summary
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [30, 60]
    assert {"valid_loss", "valid_bleu", "train_loss", "lr", "tokens_per_s"} <= set(rows[0])
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    for name in ("best.pt", "last.pt"):
        assert load_checkpoint(tmp_path / "run" / "checkpoints" / name)["model"]


def test_several_validation_sets_are_scored_together_and_each(make_cfg, tmp_path):
    cfg = make_cfg("train", ["data=mixed", "train.max_steps=10", "train.valid_every=10"])
    train(cfg, tmp_path, log=quiet)
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(row["valid_bleu_sets"]) == {"multi30k.val", "tatoeba.dev"}
    assert all(0 <= b <= 100 for b in row["valid_bleu_sets"].values())
    assert (tmp_path / "curves.png").stat().st_size > 0


@pytest.mark.parametrize("model", ["gru_attention", "gru_bahdanau"])
def test_resume_reproduces_an_uninterrupted_run(make_cfg, tmp_path, model):
    # budget decays over max_steps, which differs between the runs: a budget-free schedule
    common = [f"model={model}", "train.valid_every=20", "train.batch_tokens=200",
              "train.schedule=warmup_decay", "train.warmup_steps=10"]
    full = make_cfg("train", common + ["train.max_steps=50"])
    train(full, tmp_path / "full", log=quiet)
    first = make_cfg("train", common + ["train.max_steps=27"])  # stops mid-epoch
    train(first, tmp_path / "a", log=quiet)
    rest = make_cfg("train", common + ["train.max_steps=50",
                                       f"train.resume={tmp_path / 'a/checkpoints/last.pt'}"])
    train(rest, tmp_path / "b", log=quiet)
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")["model"]
    b = load_checkpoint(tmp_path / "b/checkpoints/last.pt")["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_resume_with_another_model_is_refused(make_cfg, trained, tmp_path):
    cfg = make_cfg("train", ["model=lstm_attention", f"train.resume={trained}"])
    with pytest.raises(Seq2SeqError, match="another model config"):
        train(cfg, tmp_path, log=quiet)


def test_resume_with_another_vocabulary_is_refused(make_cfg, trained, tmp_path):
    cfg = make_cfg("train", ["data.spm.model_type=unigram", f"train.resume={trained}"])
    with pytest.raises(Seq2SeqError, match="another vocabulary"):
        train(cfg, tmp_path, log=quiet)


def test_non_finite_losses_are_skipped_then_stop(make_cfg, tmp_path, monkeypatch):
    from seq2seq.model import Seq2Seq

    real = Seq2Seq.loss
    calls = {"n": 0}

    def sometimes_nan(self, batch, label_smoothing=0.0):
        calls["n"] += 1
        loss = real(self, batch, label_smoothing)
        return loss * float("nan") if self.training and calls["n"] in (3, 4) else loss

    monkeypatch.setattr(Seq2Seq, "loss", sometimes_nan)
    cfg = make_cfg("train", ["train.max_steps=10", "train.valid_every=10"])
    summary = train(cfg, tmp_path / "ok", log=quiet)
    assert summary["step"] == 10
    params = load_checkpoint(tmp_path / "ok/checkpoints/last.pt")["model"]
    assert all(torch.isfinite(v).all() for v in params.values())

    monkeypatch.setattr(Seq2Seq, "loss", lambda self, b, ls=0.0: real(self, b, ls) * float("inf"))
    cfg = make_cfg("train", ["train.max_steps=50", "train.max_bad_steps=5"])
    with pytest.raises(Seq2SeqError, match="training diverged: 5 non-finite losses in a row"):
        train(cfg, tmp_path / "bad", log=quiet)


@pytest.mark.parametrize("override,message", [
    ("train.batch_tokens=0", "train.batch_tokens=0: must be a positive integer"),
    ("train.optimizer=sgd", "train.optimizer=sgd"),
    ("train.schedule=cosine", "train.schedule=cosine"),
])
def test_bad_train_configs(make_cfg, tmp_path, override, message):
    with pytest.raises(Seq2SeqError, match=message):
        train(make_cfg("train", [override]), tmp_path, log=quiet)
