"""Checkpoint averaging and ensemble decoding."""

import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from seq2seq.checkpoint import load_checkpoint, save_checkpoint
from seq2seq.decoding.ensemble import Ensemble, average_checkpoints, select_checkpoints
from seq2seq.decoding.translator import Translator
from seq2seq.errors import Seq2SeqError

from .helpers import ROOT

GREEDY = OmegaConf.create({"beam_size": 1, "n_best": 1, "length_penalty": 1.0,
                           "max_len_ratio": 1.5, "max_len_extra": 10, "max_src_len": 250,
                           "batch_size": 64})
SENTENCES = ["Le chat noir dort .", "La femme rouge mange sur la plage .", "Le garçon saute ."]


def test_training_keeps_the_last_and_best_step_checkpoints(trained):
    steps = sorted(p.name for p in (trained.parent).glob("step-*.pt"))
    assert steps == ["step-0000100.pt", "step-0000200.pt", "step-0000300.pt"]
    ckpt = load_checkpoint(trained.parent / steps[-1])
    assert ckpt["train_state"] is None and ckpt["metrics"]["step"] == 300
    assert [p.name for p in select_checkpoints(trained.parent.parent, last=2)] == steps[1:]
    best = select_checkpoints(trained.parent.parent, best=1)
    assert load_checkpoint(best[0])["metrics"]["valid_bleu"] == max(
        load_checkpoint(trained.parent / s)["metrics"]["valid_bleu"] for s in steps)


def test_average_is_the_mean_of_the_weights(trained, tmp_path):
    a = load_checkpoint(trained.parent / "step-0000100.pt")
    b = load_checkpoint(trained.parent / "step-0000300.pt")
    avg = average_checkpoints([trained.parent / "step-0000100.pt",
                               trained.parent / "step-0000300.pt"])
    for key, value in avg["model"].items():
        torch.testing.assert_close(value, (a["model"][key] + b["model"][key]) / 2)
    same = average_checkpoints([trained, trained])
    for key, value in same["model"].items():
        torch.testing.assert_close(value, load_checkpoint(trained)["model"][key])
    # the tied output layer stays one tensor with the target embedding, as in the originals
    tied = [k for k, v in a["model"].items() if v.data_ptr() in
            {w.data_ptr() for j, w in a["model"].items() if j != k}]
    assert tied, "the toy model ties its embeddings"
    for key in tied:
        assert sum(avg["model"][key] is w for w in avg["model"].values()) == 2


def test_weighted_average_interpolates_and_refuses_bad_weights(trained):
    paths = [trained.parent / "step-0000100.pt", trained.parent / "step-0000300.pt"]
    a, b = (load_checkpoint(p)["model"] for p in paths)
    mix = average_checkpoints(paths, [3, 1])  # normalised: 0.75 / 0.25
    assert mix["metrics"]["weights"] == [0.75, 0.25]
    for key, value in mix["model"].items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.75 * a[key] + 0.25 * b[key])
    only_b = average_checkpoints(paths, [0, 1])
    assert all(torch.equal(only_b["model"][k], b[k]) for k in b)
    for weights, message in (([1], "1 weights for 2 checkpoints"),
                             ([1, -1], "must be finite, ≥ 0 and not all 0"),
                             ([0, 0], "must be finite, ≥ 0 and not all 0")):
        with pytest.raises(Seq2SeqError, match=message):
            average_checkpoints(paths, weights)


def test_an_ensemble_of_one_model_twice_translates_like_the_model(trained):
    single = Translator.from_checkpoint(trained, GREEDY)
    double = Translator.from_checkpoint([trained, trained], GREEDY)
    assert isinstance(double.model, Ensemble)
    assert double.translate(SENTENCES) == single.translate(SENTENCES)
    beam = OmegaConf.merge(GREEDY, {"beam_size": 3, "n_best": 2})
    one = Translator.from_checkpoint(trained, beam).translations(SENTENCES)
    two = Translator.from_checkpoint([trained, trained], beam).translations(SENTENCES)
    for x, y in zip(one, two):
        assert [c.text for c in x.nbest] == [c.text for c in y.nbest]
        for s1, s2 in zip([c.score for c in x.nbest], [c.score for c in y.nbest]):
            assert s1 == pytest.approx(s2, abs=1e-4)


def test_an_ensemble_of_two_models_averages_their_probabilities(trained):
    paths = [trained.parent / "step-0000100.pt", trained.parent / "step-0000300.pt"]
    ens = Translator.from_checkpoint(paths, GREEDY).model
    models = [Translator.from_checkpoint(p, GREEDY).model for p in paths]
    src, lens = torch.tensor([[5, 6, 7, 8]]), torch.tensor([4])
    y = torch.tensor([[2]])
    with torch.no_grad():
        logp, _, _ = ens.step_log_probs(y, ens.encode(src, lens))
        probs = [m.step_log_probs(y, m.encode(src, lens))[0].exp() for m in models]
    torch.testing.assert_close(logp.exp(), (probs[0] + probs[1]) / 2)


def test_another_vocabulary_is_refused(trained, tmp_path):
    other = load_checkpoint(trained)
    other["vocab"] = {"src": other["vocab"]["src"], "tgt": other["vocab"]["src"] + b"x"}
    save_checkpoint({k: v for k, v in other.items() if k not in ("format", "version")},
                    tmp_path / "other.pt")
    with pytest.raises(Seq2SeqError, match="has another vocabulary than"):
        Translator.from_checkpoint([trained, tmp_path / "other.pt"], GREEDY)


@pytest.mark.slow
def test_translate_and_average_scripts(trained, script_env, tmp_path):
    run = trained.parent.parent
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "average.py"), "--run", str(run),
                        "--last", "2", "--out", str(tmp_path / "avg.pt")], env=script_env,
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "averaged 2 checkpoints (step-0000200.pt, step-0000300.pt)" in r.stdout
    translate = [sys.executable, str(ROOT / "scripts" / "translate.py")]
    for extra in (["-c", str(tmp_path / "avg.pt")],
                  ["-c", str(trained), "-c", str(run / "checkpoints" / "step-0000200.pt")],
                  ["-c", str(trained), "-c", str(trained), "--average"]):
        r = subprocess.run([*translate, *extra, "Le chat noir dort ."], env=script_env,
                           capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().startswith("The")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "average.py"), str(trained),
                        str(run / "checkpoints" / "step-0000100.pt"), "--weights", "0.7", "0.3",
                        "--out", str(tmp_path / "mix.pt")], env=script_env,
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "with weights 0.7 / 0.3 into" in r.stdout
    assert load_checkpoint(tmp_path / "mix.pt")["metrics"]["weights"] == pytest.approx([0.7, 0.3])
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "average.py"), "--run",
                        str(tmp_path), "--last", "2", "--out", str(tmp_path / "x.pt")],
                       env=script_env, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.startswith("error: no step checkpoints in")
