"""SentencePiece subword vocabularies: training, encoding, decoding, special ids (no torch)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import sentencepiece as spm
from omegaconf import DictConfig

from .errors import Seq2SeqError

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def train_sentencepiece(lines: Iterable[str], cfg: DictConfig, threads: int) -> bytes:
    """Fit a SentencePiece model on `lines` (training text only); returns the serialized model.

    `cfg` is `data.spm`. Text is normalised before it gets here, so SentencePiece's own
    normalisation is off ("identity"): decode(encode(x)) == x for normalised text.
    """
    spm.set_random_generator_seed(cfg.seed)
    buf = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=buf,
            model_type=cfg.model_type,
            vocab_size=cfg.vocab_size,
            character_coverage=cfg.character_coverage,
            byte_fallback=cfg.byte_fallback,
            input_sentence_size=cfg.max_sentences,
            shuffle_input_sentence=True,
            normalization_rule_name="identity",
            hard_vocab_limit=False,
            pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            num_threads=threads,
            minloglevel=2,
        )
    except RuntimeError as err:
        raise Seq2SeqError(f"SentencePiece training failed: {str(err).strip().splitlines()[-1]}")
    return buf.getvalue()


def load_spm(model: bytes) -> spm.SentencePieceProcessor:
    proc = spm.SentencePieceProcessor()
    try:
        proc.LoadFromSerializedProto(model)
    except RuntimeError:
        raise Seq2SeqError("the SentencePiece model is corrupt")
    return proc


class Vocab:
    """Source (French) and target (English) SentencePiece models; one shared model when joint."""

    def __init__(self, src_model: bytes, tgt_model: bytes | None = None):
        self.src_model = src_model
        self.tgt_model = tgt_model
        self.src = load_spm(src_model)
        self.tgt = self.src if tgt_model is None else load_spm(tgt_model)

    @property
    def joint(self) -> bool:
        return self.tgt_model is None

    @property
    def src_size(self) -> int:
        return self.src.get_piece_size()

    @property
    def tgt_size(self) -> int:
        return self.tgt.get_piece_size()

    def encode_src(self, lines: Sequence[str]) -> list[list[int]]:
        return self.src.encode(list(lines))

    def encode_input(self, texts: Sequence[str], limit: int, warn,
                     first_line: int = 1) -> list[list[int]]:
        """Source ids of normalised input `texts` for decoding, each cut to `limit` pieces with a
        warning naming its line (`first_line` is the number of texts[0])."""
        ids = self.encode_src(texts)
        for i, x in enumerate(ids):
            if len(x) > limit:
                warn(f"line {first_line + i}: {len(x)} pieces, truncated to {limit} "
                     f"(decode.max_src_len)")
                ids[i] = x[:limit]
        return ids

    def encode_tgt(self, lines: Sequence[str]) -> list[list[int]]:
        return self.tgt.encode(list(lines))

    def decode_tgt(self, ids: Sequence[Sequence[int]]) -> list[str]:
        return self.tgt.decode([list(x) for x in ids])

    def tgt_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self.tgt.id_to_piece(i) for i in ids]

    def to_dict(self) -> dict:
        """Plain data for a checkpoint."""
        return {"src": self.src_model, "tgt": self.tgt_model}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        return cls(d["src"], d["tgt"])
