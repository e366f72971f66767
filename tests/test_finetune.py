"""Fine-tuning from a checkpoint (train.init_from): its weights, model and vocabulary, a fresh
optimizer, validation on new and original sets, exact resume, and one-line errors."""

import json

import pytest
import torch
from omegaconf import OmegaConf

from seq2seq.checkpoint import load_checkpoint
from seq2seq.data.sample import sample_pairs
from seq2seq.errors import Seq2SeqError
from seq2seq.model.encoder_decoder import build_model
from seq2seq.training.loop import setup, train

pytestmark = pytest.mark.slow  # trainings


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def base(toy_root, tmp_path_factory):
    """A tiny Tatoeba-only model without dropout (so that a step's loss is deterministic)."""
    from .helpers import TINY, TINY_TRAIN, compose_config

    run = tmp_path_factory.mktemp("base")
    cfg = compose_config("train", toy_root, run / "cache", TINY + TINY_TRAIN + [
        "data=tatoeba", "model.dropout=0", "train.max_steps=60", "train.valid_every=60"])
    train(cfg, run, log=quiet)
    return run / "checkpoints" / "best.pt"


def finetune(make_cfg, base, extra=()):
    # no TINY model settings: the checkpoint's model must be the one that trains
    return make_cfg("train", ["train=finetune", f"train.init_from={base}", "train.max_minutes=0",
                              "train.max_steps=20", "train.valid_every=10",
                              "train.schedule=warmup_decay", "data=mixed",
                              "data.spm.vocab_size=300", "data.tatoeba_split.dev_size=30",
                              "data.tatoeba_split.test_size=30", *extra], tiny=False)


def test_first_step_starts_from_the_checkpoint(make_cfg, base, tmp_path):
    ckpt = load_checkpoint(base)
    cfg = finetune(make_cfg, base, ["train.valid_every=1", "train.max_steps=1",
                                    "train.batch_tokens=400", "train.precision=fp32"])
    train(cfg.copy(), tmp_path / "ft", log=quiet)
    rows = [json.loads(x) for x in (tmp_path / "ft/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1]  # the starting point is validated first
    assert rows[0]["train_loss"] is None

    run = setup(cfg.copy(), tmp_path / "again", quiet)
    assert run.prep.vocab.to_dict() == ckpt["vocab"]  # the new data in the checkpoint's pieces
    assert run.prep.path.name.startswith("mixed-vocab-")
    assert OmegaConf.to_container(run.cfg.model) == ckpt["config"]["model"]
    model = build_model(OmegaConf.create(ckpt["config"]["model"]), run.prep.vocab.src_size,
                        run.prep.vocab.tgt_size)
    model.load_state_dict(ckpt["model"])
    model.train()
    batch = run.train_data.collate(run.sampler.batches(0)[0])
    with torch.no_grad():
        expected = model.loss(batch, cfg.train.label_smoothing).item()
    assert rows[1]["train_loss"] == pytest.approx(expected, rel=1e-6, abs=1e-6)
    # a fresh optimizer: nothing of the base run's optimizer state or counters came along
    assert rows[1]["lr"] < cfg.train.lr  # warming up from step 0


def test_validation_shows_both_domains_and_selects_on_the_first(make_cfg, base, tmp_path):
    lines: list[str] = []
    summary = train(finetune(make_cfg, base), tmp_path, log=lines.append)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 10, 20]
    for r in rows:
        assert set(r["valid_bleu_sets"]) == {"multi30k.val", "tatoeba.dev"}
        assert r["valid_bleu"] == r["valid_bleu_sets"]["multi30k.val"]  # select_on: first
    assert summary["best_bleu"] == max(r["valid_bleu"] for r in rows)
    assert any("fine-tuning from" in line for line in lines)
    step10 = next(line for line in lines if line.startswith("step 10:"))
    change = rows[1]["valid_bleu_sets"]["tatoeba.dev"] - rows[0]["valid_bleu_sets"]["tatoeba.dev"]
    assert f"tatoeba.dev {rows[1]['valid_bleu_sets']['tatoeba.dev']:.2f} ({change:+.2f})" in step10


def test_resume_of_a_finetuning_run_is_exact(make_cfg, base, tmp_path):
    # the pull toward the start resumes from the checkpoint too; the optimizer holds the
    # trainable weights only
    anchored = ["train.anchor=50", "train.freeze=[encoder.embed]"]
    full = finetune(make_cfg, base, ["train.max_steps=30", "train.valid_every=15", *anchored])
    train(full, tmp_path / "full", log=quiet)
    first = finetune(make_cfg, base, ["train.max_steps=17", "train.valid_every=15", *anchored])
    train(first, tmp_path / "a", log=quiet)
    rest = finetune(make_cfg, base, ["train.max_steps=30", "train.valid_every=15", *anchored,
                                     f"train.resume={tmp_path / 'a/checkpoints/last.pt'}"])
    train(rest, tmp_path / "b", log=quiet)
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "b/checkpoints/last.pt")
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)


def test_the_anchor_holds_the_weights_near_the_start(make_cfg, base, tmp_path):
    start = load_checkpoint(base)["model"]

    def distance(anchor: float) -> float:
        run = tmp_path / f"anchor{anchor}"
        train(finetune(make_cfg, base, [f"train.anchor={anchor}", "train.ema_decay=0",
                                         "train.schedule=constant"]), run,
              log=quiet)
        end = load_checkpoint(run / "checkpoints/last.pt")["model"]
        return sum(float((end[k].float() - start[k].float()).norm()) ** 2
                   for k in start if start[k].is_floating_point()) ** 0.5

    free, held, fixed = distance(0), distance(200), distance(1000)  # lr 0.001: 0.2, 1 a step
    assert free > 0 and held < free / 2
    assert fixed == 0  # pulled all the way back after every update
    with pytest.raises(Seq2SeqError, match="train.anchor pulls the weights toward a starting"):
        train(make_cfg("train", ["train.anchor=1"]), tmp_path / "none", log=quiet)


def test_frozen_modules_keep_their_weights_and_the_rest_trains(make_cfg, base, tmp_path):
    start = load_checkpoint(base)["model"]
    lines: list[str] = []
    cfg = finetune(make_cfg, base, ["train.freeze=[encoder,decoder.embed]", "train.ema_decay=0"])
    train(cfg, tmp_path / "ft", log=lines.append)
    end = load_checkpoint(tmp_path / "ft/checkpoints/last.pt")["model"]
    frozen = [k for k in start if k.startswith(("encoder.", "decoder.embed."))]
    moved = [k for k in start if k not in frozen and not torch.equal(start[k], end[k])]
    assert frozen and all(torch.equal(start[k], end[k]) for k in frozen)
    assert {k.split(".")[1] for k in moved} >= {"rnn", "attention", "combine", "output"}
    n = sum(start[k].numel() for k in frozen)
    assert any(f"frozen: encoder, decoder.embed ({n:,} parameters)" in line for line in lines)

    other = finetune(make_cfg, base, ["train.max_steps=25",
                                      f"train.resume={tmp_path / 'ft/checkpoints/last.pt'}"])
    with pytest.raises(Seq2SeqError, match=r"trained with train.freeze=\['encoder', "
                                           r"'decoder.embed'\]; resume with the same"):
        train(other, tmp_path / "other", log=quiet)


@pytest.mark.parametrize("modules,message", [
    ("[encoder.rnnn]", r"train.freeze: the model has no module 'encoder.rnnn'; choose among "
                       r"decoder, decoder.attention, .*encoder.rnn"),
    ("[encoder,decoder]", r"train.freeze=\['encoder', 'decoder'\] freezes every weight"),
])
def test_freezing_an_unknown_module_or_everything_is_refused(make_cfg, base, tmp_path, modules,
                                                             message):
    with pytest.raises(Seq2SeqError, match=message):
        train(finetune(make_cfg, base, [f"train.freeze={modules}"]), tmp_path, log=quiet)


@pytest.mark.parametrize("override,message", [
    ("model.encoder.layers=2", r"model.encoder.layers=2 contradicts train.init_from=.* \(which "
                               r"has model.encoder.layers=1\)"),
    ("model=lstm_attention", "model=lstm_attention contradicts train.init_from"),
])
def test_a_model_override_that_contradicts_the_checkpoint_is_refused(make_cfg, base, tmp_path,
                                                                      override, message):
    cfg = finetune(make_cfg, base, [override])
    with pytest.raises(Seq2SeqError, match=message):
        train(cfg, tmp_path, log=quiet, overrides=[override, f"train.init_from={base}"])


def test_an_override_equal_to_the_checkpoint_is_accepted(make_cfg, base, tmp_path):
    cfg = finetune(make_cfg, base, ["train.max_steps=2", "train.valid_every=2"])
    summary = train(cfg, tmp_path, log=quiet, overrides=["model.encoder.layers=1"])
    assert summary["step"] == 2


def test_dropout_may_change_when_fine_tuning(make_cfg, base, tmp_path):
    cfg = finetune(make_cfg, base, ["model.dropout=0.3", "train.max_steps=2",
                                    "train.valid_every=2"])
    train(cfg, tmp_path, log=quiet, overrides=["model.dropout=0.3"])
    model = load_checkpoint(tmp_path / "checkpoints/last.pt")["config"]["model"]
    start = load_checkpoint(base)["config"]["model"]
    assert start["dropout"] == 0 and model["dropout"] == 0.3  # the run's, not the checkpoint's
    assert {k: v for k, v in model.items() if k != "dropout"} == \
        {k: v for k, v in start.items() if k != "dropout"}


def test_bad_init_from_files_are_one_line_errors(make_cfg, base, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    for path, message in ((tmp_path / "missing.pt", "does not exist"),
                          (junk, "truncated or not a checkpoint"),
                          (plain, "is not a seq2seq checkpoint")):
        with pytest.raises(Seq2SeqError, match=message) as err:
            train(finetune(make_cfg, path), tmp_path / "run", log=quiet)
        assert "\n" not in str(err.value)
    cfg = make_cfg("train", ["train=finetune"])
    from seq2seq.config import check_config

    with pytest.raises(Seq2SeqError, match="train=finetune starts from a trained model"):
        check_config(cfg, "train")


def test_a_data_vocabulary_other_than_the_checkpoints_is_refused(make_cfg, base, trained,
                                                                 tmp_path):
    cfg = finetune(make_cfg, base, [f"data.spm.vocab_from={trained}"])
    with pytest.raises(Seq2SeqError, match="has another vocabulary than train.init_from"):
        train(cfg, tmp_path, log=quiet)


def test_sampling_keeps_n_pairs_in_order_reproducibly():
    items = list(range(1000))
    a = list(sample_pairs(iter(items), 100, seed=1, name="x"))
    assert len(a) == 100 and a == sorted(a) and len(set(a)) == 100
    assert a == list(sample_pairs(iter(items), 100, seed=1, name="x"))
    assert a != list(sample_pairs(iter(items), 100, seed=2, name="x"))
    assert list(sample_pairs(iter(items[:50]), 100, seed=1)) == items[:50]
    # uniform: each half of the corpus gets about half the sample
    firsts = [sum(x < 500 for x in sample_pairs(iter(items), 100, seed=s)) for s in range(50)]
    assert 45 < sum(firsts) / len(firsts) < 55


def test_data_sample_trains_on_that_many_pairs(make_cfg, tmp_path):
    from seq2seq.data.prepare import prepare

    cfg = make_cfg("prepare_data", ["+data.sample.multi30k=100"])
    prep = prepare(cfg.data, log=quiet)
    assert prep.sizes["multi30k.train"] == 100 and len(prep.train["src"]["offsets"]) == 101
    whole = prepare(make_cfg("prepare_data").data, log=quiet)
    assert whole.path != prep.path and whole.sizes["multi30k.train"] == 280
    with pytest.raises(Seq2SeqError, match="data.sample.tatoeba: not a training corpus"):
        from seq2seq.config import check_config

        check_config(make_cfg("prepare_data", ["+data.sample.tatoeba=10"]), "prepare_data")
