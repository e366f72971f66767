import numpy as np
import pytest
from omegaconf import OmegaConf

from seq2seq.data.cleaning import normalize
from seq2seq.data.vocab import BOS, EOS, PAD, UNK, Vocab, seen_target_ids, train_sentencepiece
from seq2seq.errors import Seq2SeqError

SPM = OmegaConf.create({"model_type": "bpe", "vocab_size": 400, "character_coverage": 1.0,
                        "byte_fallback": True, "max_sentences": 100000, "seed": 1})
NORM = OmegaConf.create({"unicode": "NFC", "collapse_whitespace": True, "strip_control": True})
TRAIN = ["Le garçon mange une pomme.", "L'élève n'a pas répondu à la question.",
         "« Où est-il ? » demanda-t-elle.", "Ça coûte 20 € à Noël, déjà !"] * 20


def test_french_round_trips_exactly():
    vocab = Vocab(train_sentencepiece(TRAIN, SPM, threads=1))
    for text in ["L'élève n'a pas répondu à « la question » !", "Ça\u00a0va\u202f? Très bien.",
                 "Aujourd’hui, l’œuvre de Molière.", "naïve façade — 🙂 日本語"]:
        norm = normalize(text, NORM)
        ids = vocab.encode_src([norm])[0]
        assert UNK not in ids  # byte fallback covers unseen characters
        assert vocab.decode_tgt([ids]) == [norm]


def test_special_ids_and_separate_vocabularies():
    model = train_sentencepiece(TRAIN, SPM, threads=1)
    vocab = Vocab(model, model)
    assert not vocab.joint
    assert [vocab.tgt.id_to_piece(i) for i in (PAD, UNK, BOS, EOS)] == \
        ["<pad>", "<unk>", "<s>", "</s>"]
    assert Vocab.from_dict(vocab.to_dict()).src_size == vocab.src_size


def test_target_pieces_map_both_ways():
    vocab = Vocab(train_sentencepiece(TRAIN, SPM, threads=1))
    english = ["The boy eats an apple.", "Where is it?"]
    full = vocab.encode_tgt(english)
    counts = np.bincount([i for x in full for i in x], minlength=vocab.tgt_size)
    small = vocab.with_target_ids(seen_target_ids(counts))
    assert small.tgt_size == 4 + len({i for x in full for i in x if i > EOS}) < vocab.tgt_size
    ids = small.encode_tgt(english)
    assert max(max(x) for x in ids) < small.tgt_size and UNK not in ids[0]
    assert small.decode_tgt(ids) == english
    assert small.tgt_pieces(ids[1]) == vocab.tgt_pieces(full[1])
    assert small.encode_tgt(["Noël"])[0].count(UNK) >= 1  # pieces never seen in English: UNK
    again = Vocab.from_dict(small.to_dict())
    assert again.encode_tgt(english) == ids and again.to_dict() == small.to_dict()
    assert Vocab.from_dict({"src": vocab.src_model, "tgt": None}).tgt_size == vocab.tgt_size


def test_damaged_target_piece_list_is_refused():
    model = train_sentencepiece(TRAIN, SPM, threads=1)
    for bad in ([5, 6, 7], [PAD, UNK, BOS, EOS, 9, 9], [PAD, UNK, BOS, EOS, 10 ** 6]):
        with pytest.raises(Seq2SeqError, match="target piece list"):
            Vocab(model, None, bad)
