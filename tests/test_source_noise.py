"""train.source_noise: whole source words dropped or moved a few places, in training batches only,
reproducibly."""

import numpy as np
import pytest
import torch

from seq2seq.checkpoint import load_checkpoint
from seq2seq.data.noise import SourceNoise
from seq2seq.data.prepare import prepare
from seq2seq.errors import Seq2SeqError
from seq2seq.training.loop import train

from .helpers import assert_resume_is_exact

NOISE = ["train.source_noise.drop=0.1", "train.source_noise.shuffle=3"]


def quiet(*_):
    pass


@pytest.fixture
def sp(make_cfg):
    return prepare(make_cfg("prepare_data").data, log=quiet).vocab.src


def _words(sp, ids: list[int]) -> list[str]:
    return sp.decode(ids).split()


def test_dropping_keeps_whole_words_in_order(sp):
    sentence = "un homme en chemise bleue joue de la guitare devant une maison rouge ."
    ids = sp.encode(sentence)
    noise = SourceNoise(sp, drop=0.3, shuffle=0)
    rng = np.random.default_rng(0)
    lengths = []
    for _ in range(50):
        words = _words(sp, noise.sentence(ids, rng))
        assert words and all(w in sentence.split() for w in words)
        positions = [sentence.split().index(w) for w in words]
        assert positions == sorted(positions)  # (the sentence has no repeated word)
        lengths.append(len(words))
    n = len(sentence.split())
    assert min(lengths) < n and 0.5 * n < np.mean(lengths) < 0.9 * n


def test_shuffling_moves_words_at_most_k_places(sp):
    sentence = "a b c d e f g h i j k l m n o p"
    ids = sp.encode(sentence)
    noise = SourceNoise(sp, drop=0.0, shuffle=2)
    rng = np.random.default_rng(1)
    moved = False
    for _ in range(50):
        words = _words(sp, noise.sentence(ids, rng))
        assert sorted(words) == sorted(sentence.split())
        shifts = [abs(sentence.split().index(w) - i) for i, w in enumerate(words)]
        assert max(shifts) <= 2
        moved |= max(shifts) > 0
    assert moved


def test_a_sentence_keeps_at_least_one_word_and_noise_follows_the_seed(sp):
    noise = SourceNoise(sp, drop=0.99, shuffle=1)
    ids = sp.encode("deux chiens courent dans la neige .")
    for seed in range(20):
        assert noise.sentence(ids, np.random.default_rng(seed))
    batch = [sp.encode(s) for s in ("un chat dort .", "une femme lit un livre .")]
    draw = [noise(batch, np.random.default_rng([3, 4])) for _ in range(2)]
    assert draw[0] == draw[1]
    assert SourceNoise(sp, 0.0, 0).sentence(ids, np.random.default_rng(0)) == ids


@pytest.mark.slow
def test_training_with_source_noise_resumes_exactly_and_changes_what_is_learnt(make_cfg, tmp_path):
    lines: list[str] = []
    assert_resume_is_exact(make_cfg, tmp_path, NOISE, log=lines.append)
    assert any("source noise: drop 0.1, shuffle 3" in x for x in lines)
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")["model"]
    # the noise changes what is trained on: the same run without it ends elsewhere
    train(make_cfg("train", ["train.valid_every=20", "train.batch_tokens=200",
                             "train.schedule=warmup_decay", "train.warmup_steps=10",
                             "train.max_steps=40"]), tmp_path / "clean", log=quiet)
    c = load_checkpoint(tmp_path / "clean/checkpoints/last.pt")["model"]
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("override,message", [
    ("train.source_noise.drop=1", r"drop=1: must be in \[0, 1\)"),
    ("train.source_noise.shuffle=-2", "shuffle=-2: must be an integer >= 0"),
])
def test_bad_noise_settings_are_one_line_errors(make_cfg, override, message):
    from seq2seq.config import check_config

    with pytest.raises(Seq2SeqError, match=message):
        check_config(make_cfg("train", [override]), "train")
