from omegaconf import OmegaConf

from seq2seq.text import normalize
from seq2seq.vocab import BOS, EOS, PAD, UNK, Vocab, train_sentencepiece

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
