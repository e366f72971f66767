"""Sequence-level distillation: the teacher's translation of the training corpus (resumable,
bounded chunks, n-best chrF selection), and a student trained on it."""

import json

import pytest
from omegaconf import open_dict

from seq2seq.checkpoint import load_checkpoint
from seq2seq.config import check_config
from seq2seq.decoding.core import Candidate, Translation
from seq2seq.decoding.translator import Translator
from seq2seq.distillation import corpus
from seq2seq.distillation.corpus import distill
from seq2seq.distillation.pairs import training_pairs
from seq2seq.errors import Seq2SeqError
from seq2seq.training.loop import train

pytestmark = pytest.mark.slow  # a teacher's translations and a student's training


def quiet(*_):
    pass


def distill_cfg(make_cfg, teacher, out_dir, extra=()):
    cfg = make_cfg("distill", [f"teacher={teacher}", "chunk=64", "decode.batch_size=64",
                               "data.tatoeba_split.dev_size=30",
                               "data.tatoeba_split.test_size=30", *extra], tiny=False)
    with open_dict(cfg):
        cfg.out_dir = str(out_dir)
        cfg.data.spm.vocab_size = 300
    return cfg


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_the_teacher_translates_every_training_pair(make_cfg, trained, tmp_path):
    cfg = distill_cfg(make_cfg, trained, tmp_path / "out", ["data=multi30k"])
    result = distill(cfg, log=quiet)
    src = [fr for _, (fr, _) in training_pairs(cfg.data)]
    assert result["pairs"] == len(src) == 280
    assert lines(tmp_path / "out/train.fr") == src
    teacher = Translator.from_checkpoint(trained, beam_size=5)
    assert lines(tmp_path / "out/train.en") == teacher.translate(src)
    meta = json.loads((tmp_path / "out/distill.json").read_text())
    assert meta["finished"] and meta["pairs"] == 280
    assert meta["settings"]["decode"]["beam_size"] == 5


def test_a_killed_run_continues_without_lost_or_repeated_lines(make_cfg, trained, tmp_path,
                                                               monkeypatch):
    full = distill_cfg(make_cfg, trained, tmp_path / "full")
    distill(full, log=quiet)
    expected_fr = lines(tmp_path / "full/train.fr")
    expected_en = lines(tmp_path / "full/train.en")
    assert len(expected_fr) > 500  # data=mixed: both corpora of the toy data

    real, calls = corpus._choose, {"n": 0}

    def dies_on_the_fourth_chunk(*args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(corpus, "_choose", dies_on_the_fourth_chunk)
    cfg = distill_cfg(make_cfg, trained, tmp_path / "part")
    with pytest.raises(KeyboardInterrupt):
        distill(cfg, log=quiet)
    assert len(lines(tmp_path / "part/train.en")) == 3 * 64
    # killed while writing the next chunk: one file a line ahead, the other with half a line
    with open(tmp_path / "part/train.fr", "a", encoding="utf-8") as f:
        f.write(expected_fr[192] + "\n")
    with open(tmp_path / "part/train.en", "a", encoding="utf-8") as f:
        f.write("half a li")
    monkeypatch.setattr(corpus, "_choose", real)
    said: list[str] = []
    result = distill(cfg, log=said.append)
    assert "continuing after the 192 pairs" in said[0]
    assert result["translated_now"] == len(expected_fr) - 192
    assert lines(tmp_path / "part/train.fr") == expected_fr
    assert lines(tmp_path / "part/train.en") == expected_en


def test_other_settings_do_not_continue_an_output(make_cfg, trained, tmp_path):
    distill(distill_cfg(make_cfg, trained, tmp_path / "out", ["data=multi30k"]), log=quiet)
    cfg = distill_cfg(make_cfg, trained, tmp_path / "out", ["data=multi30k", "decode.beam_size=2"])
    with pytest.raises(Seq2SeqError, match=r"other settings \(decode\); choose another out_dir"):
        distill(cfg, log=quiet)


def test_chrf_selection_keeps_the_candidate_closest_to_the_reference():
    t = Translation("a dog runs", [Candidate("a dog runs", -1.0), Candidate("the cat sleeps", -2),
                                   Candidate("", -3.0)], None)
    from sacrebleu.metrics import CHRF

    assert corpus._choose([t], ["the cat sleeps ."], "chrf", CHRF()) == ["the cat sleeps"]
    assert corpus._choose([t], ["the cat sleeps ."], "best", CHRF()) == ["a dog runs"]


def test_chrf_selection_runs_end_to_end_and_needs_an_n_best_list(make_cfg, trained, tmp_path):
    cfg = distill_cfg(make_cfg, trained, tmp_path / "out", ["data=multi30k", "select=chrf",
                                                            "decode.n_best=5"])
    distill(cfg, log=quiet)
    best = distill_cfg(make_cfg, trained, tmp_path / "best", ["data=multi30k"])
    distill(best, log=quiet)
    refs = [en for _, (_, en) in training_pairs(cfg.data)]
    from sacrebleu import corpus_chrf

    chosen, plain = lines(tmp_path / "out/train.en"), lines(tmp_path / "best/train.en")
    assert corpus_chrf(chosen, [refs]).score >= corpus_chrf(plain, [refs]).score
    with pytest.raises(Seq2SeqError, match="select=chrf picks among the teacher's n-best"):
        check_config(distill_cfg(make_cfg, trained, tmp_path / "x", ["select=chrf"]), "distill")


def test_bad_teachers_are_one_line_errors(make_cfg, trained, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 10)
    for teacher, message in ((tmp_path / "none.pt", "does not exist"),
                             (junk, "truncated or not a checkpoint")):
        with pytest.raises(Seq2SeqError, match=message):
            distill(distill_cfg(make_cfg, teacher, tmp_path / "out"), log=quiet)
    other = tmp_path / "other"
    cfg = make_cfg("train", ["data.spm.model_type=unigram", "train.max_steps=2",
                             "train.valid_every=2"])
    train(cfg, other, log=quiet)
    ensemble = f"[{trained},{other / 'checkpoints/best.pt'}]"
    with pytest.raises(Seq2SeqError, match="another vocabulary"):
        distill(distill_cfg(make_cfg, ensemble, tmp_path / "out"), log=quiet)


def test_a_student_trains_on_the_teachers_corpus(make_cfg, trained, tmp_path):
    import seq2seq

    out = tmp_path / "out"
    assert seq2seq.distill(distill_cfg(make_cfg, trained, out))["pairs"] > 500  # the Python API
    student = make_cfg("train", [
        "data=distilled", f"data.files.train.0.src={out / 'train.fr'}",
        f"data.files.train.0.tgt={out / 'train.en'}", "data.spm.vocab_size=300",
        "data.tatoeba_split.dev_size=30", "data.tatoeba_split.test_size=30",
        "model=gru_small", "model.embed_dim=16", "model.encoder.hidden=16",
        "model.decoder.hidden=32", "train.max_steps=20", "train.valid_every=20"])
    said: list[str] = []
    summary = train(student, tmp_path / "student", log=said.append)
    assert summary["step"] == 20
    assert any(f"{len(lines(out / 'train.en'))} training pairs" in s for s in said)
    ckpt = load_checkpoint(tmp_path / "student/checkpoints/best.pt")
    assert ckpt["config"]["model"]["name"] == "gru_small"
    assert ckpt["config"]["data"]["files"]["train"][0]["tgt"] == str(out / "train.en")
