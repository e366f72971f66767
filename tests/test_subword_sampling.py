"""data.subword_sampling: sampled segmentations of every training pair (BPE-dropout / subword
regularisation), drawn at random per use in a batch; validation, evaluation and translation
stay plain."""

import numpy as np
import pytest

from seq2seq.data import cache_build
from seq2seq.data.batching import PackedSide, PairDataset, TokenBatchSampler
from seq2seq.data.prepare import prepare
from seq2seq.data.vocab import UNK
from seq2seq.errors import Seq2SeqError

from .helpers import assert_resume_is_exact

SAMPLING = ["data.subword_sampling.copies=3", "data.subword_sampling.alpha=0.3"]


def quiet(*_):
    pass


def _sequences(packed: dict) -> list[list[int]]:
    ids, offsets = np.asarray(packed["ids"]), np.asarray(packed["offsets"])
    return [ids[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


def test_sampled_copies_spell_the_same_sentences_differently(make_cfg):
    plain = prepare(make_cfg("prepare_data").data, log=quiet)
    cfg = make_cfg("prepare_data", SAMPLING)
    prep = prepare(cfg.data, log=quiet)
    assert prep.path != plain.path and "sampled" not in plain.train
    sampled = prep.train["sampled"]
    assert sampled["copies"] == 3
    src, tgt = _sequences(prep.train["src"]), _sequences(prep.train["tgt"])
    n = len(src)
    copies = {side: _sequences(sampled[side]) for side in ("src", "tgt")}
    assert len(copies["src"]) == len(copies["tgt"]) == 3 * n
    vocab = prep.vocab
    for k in range(3):
        for i in range(0, n, 7):
            assert vocab.src.decode(copies["src"][k * n + i]) == vocab.src.decode(src[i])
            assert vocab.decode_tgt([copies["tgt"][k * n + i]]) == vocab.decode_tgt([tgt[i]])
    # alpha 0.3 drops merges: the copies are longer and differ from each other and from plain
    plain_len = sum(map(len, src))
    assert all(sum(map(len, copies["src"][k * n:(k + 1) * n])) > plain_len for k in range(3))
    assert copies["tgt"][:n] != copies["tgt"][n:2 * n] != tgt
    # the output vocabulary holds every piece the copies use: none became <unk>
    flat = np.asarray(sampled["tgt"]["ids"])
    assert flat.max() < vocab.tgt_size and not np.any(flat == UNK)
    # validation data is the plain segmentation
    assert np.array_equal(np.asarray(prep.valid["src"]["ids"]),
                          np.asarray(plain.valid["src"]["ids"]))


def test_sampling_follows_the_seed_not_the_number_of_workers(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(cache_build, "CHUNK", 64)  # several chunks of the toy corpus
    made = []
    for threads, seed in ((1, 1), (2, 1), (2, 2)):
        cfg = make_cfg("prepare_data", SAMPLING + [f"data.subword_sampling.seed={seed}"])
        cfg.data.cache_dir = str(tmp_path / f"cache-{threads}-{seed}")
        made.append(prepare(cfg.data, threads=threads, log=quiet).train["sampled"])
    for side in ("src", "tgt"):
        assert np.array_equal(made[0][side]["ids"], made[1][side]["ids"])
        assert not np.array_equal(made[0][side]["ids"], made[2][side]["ids"])


def test_only_the_named_side_is_sampled(make_cfg):
    prep = prepare(make_cfg("prepare_data", SAMPLING + ["data.subword_sampling.sides=src"]).data,
                   log=quiet)
    tgt = _sequences(prep.train["tgt"])
    assert _sequences(prep.train["sampled"]["tgt"]) == tgt * 3
    assert _sequences(prep.train["sampled"]["src"])[:len(tgt)] != _sequences(prep.train["src"])


def test_each_draw_takes_one_copy_and_every_pair_keeps_its_weight():
    n, copies = 50, 3
    sizes = np.random.default_rng(0).integers(2, 30, size=n * copies)
    sampler = TokenBatchSampler(sizes, 120, seed=4, groups=[(0, 20, 2.0), (20, 50, 1.0)],
                                copies=copies)
    assert sampler.pairs == n
    flat = np.concatenate([np.asarray(b) for b in sampler.batches(0)])
    assert flat.max() < n * copies
    assert np.bincount(flat % n, minlength=n).tolist() == [2] * 20 + [1] * 30
    assert len(set((flat // n).tolist())) == copies  # draws spread over the copies
    again = TokenBatchSampler(sizes, 120, seed=4, groups=[(0, 20, 2.0), (20, 50, 1.0)],
                              copies=copies)
    assert again.batches(0) == sampler.batches(0) and again.batches(1) != sampler.batches(0)
    for batch in sampler.batches(1):  # the token budget holds with each copy's own length
        assert len(batch) * sizes[batch].max() <= 120 or len(batch) == 1


@pytest.mark.slow
def test_training_on_sampled_segmentations_resumes_exactly(make_cfg, tmp_path):
    lines: list[str] = []
    assert_resume_is_exact(make_cfg, tmp_path, SAMPLING, log=lines.append)
    assert any("280 training pairs" in x and "3 sampled segmentations" in x for x in lines)
    # decoding encodes plainly: the same input gives the same pieces and translation every time
    from seq2seq.decoding.translator import Translator

    tr = Translator.from_checkpoint(tmp_path / "full/checkpoints/best.pt", beam_size=1)
    french = ["un homme en chemise bleue joue de la guitare .", "deux chiens courent ."] * 4
    assert tr.vocab.encode_src(french[:2]) * 4 == tr.vocab.encode_src(french)
    assert tr.translate(french) == tr.translate(french)[:2] * 4


def test_training_batches_read_the_sampled_copies(make_cfg):
    prep = prepare(make_cfg("prepare_data", SAMPLING).data, log=quiet)
    data = PairDataset(prep.train["sampled"]["src"], prep.train["sampled"]["tgt"], 100)
    n = len(prep.train["src"]["offsets"]) - 1
    assert len(data) == 3 * n
    side: PackedSide = data.src
    assert side.read(np.array([n + 5]))[0] == _sequences(prep.train["sampled"]["src"])[n + 5]


@pytest.mark.parametrize("override,message", [
    ("data.subword_sampling.nbest_size=0", "nbest_size=0: must be -1"),
    ("data.subword_sampling.alpha=0", "alpha=0: must be in (0, 1]"),
    ("data.subword_sampling.copies=-1", "copies=-1: must be an integer >= 0"),
    ("data.subword_sampling.sides=fr", "sides=fr: choose one of"),
])
def test_bad_sampling_settings_are_one_line_errors(make_cfg, override, message):
    from seq2seq.config import check_config

    with pytest.raises(Seq2SeqError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_config(make_cfg("prepare_data", [override]), "prepare_data")
