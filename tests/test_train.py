import json

import pytest
import torch

from seq2seq.checkpoint import load_checkpoint
from seq2seq.errors import Seq2SeqError
from seq2seq.training.loop import train

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers


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


@pytest.mark.parametrize("model,ema", [("gru_attention", 0), ("gru_bahdanau", 0),
                                       ("gru_attention", 0.9)])
def test_resume_reproduces_an_uninterrupted_run(make_cfg, tmp_path, model, ema):
    # budget decays over max_steps, which differs between the runs: a budget-free schedule
    common = [f"model={model}", "train.valid_every=20", "train.batch_tokens=200",
              "train.schedule=warmup_decay", "train.warmup_steps=10", f"train.ema_decay={ema}"]
    full = make_cfg("train", common + ["train.max_steps=50"])
    train(full, tmp_path / "full", log=quiet)
    first = make_cfg("train", common + ["train.max_steps=27"])  # stops mid-epoch
    train(first, tmp_path / "a", log=quiet)
    rest = make_cfg("train", common + ["train.max_steps=50",
                                       f"train.resume={tmp_path / 'a/checkpoints/last.pt'}"])
    train(rest, tmp_path / "b", log=quiet)
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "b/checkpoints/last.pt")
    weights = [("model", a["model"], b["model"])]
    if ema:  # the average is the model; the training weights resume too
        weights.append(("weights", a["train_state"]["weights"], b["train_state"]["weights"]))
        assert a["train_state"]["ema"] == b["train_state"]["ema"] == {"updates": 50}
    for _, x, y in weights:
        for key in x:
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=0)


def test_ema_warms_up_then_keeps_its_decay():
    from seq2seq.training.ema import ema_model

    layer = torch.nn.Linear(2, 1, bias=False)
    ema = ema_model(layer, decay=0.25)
    seen = []
    for value in (1.0, 3.0, 7.0, 11.0):
        layer.weight.data.fill_(value)
        ema.update_parameters(layer)
        seen.append(ema.module.weight[0, 0].item())
    # update 1 copies; update n > 1 keeps min(0.25, n/(9+n)) of the average: 2/11, then 0.25
    w2 = 2 / 11 * 1.0 + 9 / 11 * 3.0
    w3 = 0.25 * w2 + 0.75 * 7.0
    assert seen == pytest.approx([1.0, w2, w3, 0.25 * w3 + 0.75 * 11.0])


def test_ema_checkpoints_decode_the_average(make_cfg, tmp_path):
    cfg = make_cfg("train", ["train.max_steps=30", "train.valid_every=30", "train.ema_decay=0.99"])
    train(cfg, tmp_path, log=quiet)
    ckpt = load_checkpoint(tmp_path / "checkpoints/last.pt")
    raw, avg = ckpt["train_state"]["weights"], ckpt["model"]
    assert raw.keys() == avg.keys()
    assert any(not torch.equal(raw[k], avg[k]) for k in raw)
    step = load_checkpoint(tmp_path / "checkpoints/step-0000030.pt")["model"]
    assert all(torch.equal(step[k], avg[k]) for k in avg)


def test_resume_with_another_model_is_refused(make_cfg, trained, tmp_path):
    cfg = make_cfg("train", ["model=lstm_attention", f"train.resume={trained}"])
    with pytest.raises(Seq2SeqError, match="another model config"):
        train(cfg, tmp_path, log=quiet)


def test_resume_with_another_vocabulary_is_refused(make_cfg, trained, tmp_path):
    cfg = make_cfg("train", ["data.spm.model_type=unigram", f"train.resume={trained}"])
    with pytest.raises(Seq2SeqError, match="another vocabulary"):
        train(cfg, tmp_path, log=quiet)


def test_non_finite_losses_are_skipped_then_stop(make_cfg, tmp_path, monkeypatch):
    from seq2seq.model.encoder_decoder import Seq2Seq

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
    ("train.ema_decay=1", r"train.ema_decay=1: must be in \[0, 1\)"),
])
def test_bad_train_configs(make_cfg, tmp_path, override, message):
    with pytest.raises(Seq2SeqError, match=message):
        train(make_cfg("train", [override]), tmp_path, log=quiet)
