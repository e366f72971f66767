"""SentencePiece subword vocabularies: training, encoding, decoding, special ids (no torch).

The target side may keep only some of its SentencePiece model's pieces (`Vocab.target_ids`):
those that occur in the English training text. With a joint model, French-only pieces and
unused byte pieces then never reach the output layer, whose softmax (the largest part of a
training step) shrinks with them. Target ids are positions in that list; `encode_tgt` and
`decode_tgt` translate between them and the model's own piece ids.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import numpy as np
import sentencepiece as spm
from omegaconf import DictConfig

from ..errors import Seq2SeqError

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
    """Source (French) and target (English) SentencePiece models; one shared model when joint.

    `target_ids`: the target model's piece ids that form the output vocabulary, in order, the
    four special ids first (so PAD, UNK, BOS and EOS keep their values); None keeps them all.
    """

    def __init__(self, src_model: bytes, tgt_model: bytes | None = None,
                 target_ids: Sequence[int] | None = None):
        self.src_model = src_model
        self.tgt_model = tgt_model
        self.src = load_spm(src_model)
        self.tgt = self.src if tgt_model is None else load_spm(tgt_model)
        self._to_piece = None  # output id → piece id (None: every piece, the same ids)
        if target_ids is not None:
            ids = np.asarray(target_ids, dtype=np.int64)
            n = self.tgt.get_piece_size()
            if (ids[:4].tolist() != [PAD, UNK, BOS, EOS] or ids.min() < 0 or ids.max() >= n
                    or (np.diff(ids) <= 0).any()):
                raise Seq2SeqError("the vocabulary's target piece list is damaged (it must "
                                   "start with the 4 special ids and increase)")
            self._to_piece = ids
            self._to_out = np.full(n, UNK, dtype=np.int64)  # piece id → output id (UNK: none)
            self._to_out[ids] = np.arange(len(ids))

    @property
    def target_ids(self) -> list[int] | None:
        return None if self._to_piece is None else self._to_piece.tolist()

    @property
    def joint(self) -> bool:
        return self.tgt_model is None

    @property
    def src_size(self) -> int:
        return self.src.get_piece_size()

    @property
    def tgt_size(self) -> int:
        """Size of the output vocabulary."""
        return self.tgt.get_piece_size() if self._to_piece is None else len(self._to_piece)

    def with_target_ids(self, target_ids: Sequence[int] | None) -> Vocab:
        return Vocab(self.src_model, self.tgt_model, target_ids)

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

    def to_output_ids(self, piece_ids: np.ndarray) -> np.ndarray:
        """Target model piece ids (any shape, int) → output ids (a piece outside the list: UNK)."""
        return piece_ids if self._to_piece is None else self._to_out[piece_ids]

    def encode_tgt(self, lines: Sequence[str]) -> list[list[int]]:
        ids = self.tgt.encode(list(lines))
        if self._to_piece is None:
            return ids
        return [self._to_out[x].tolist() for x in ids]

    def _pieces(self, ids: Sequence[int]) -> list[int]:
        if self._to_piece is None:
            return list(ids)
        return self._to_piece[np.asarray(ids, dtype=np.int64)].tolist()

    def decode_tgt(self, ids: Sequence[Sequence[int]]) -> list[str]:
        return self.tgt.decode([self._pieces(x) for x in ids])

    def tgt_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self.tgt.id_to_piece(i) for i in self._pieces(ids)]

    def to_dict(self) -> dict:
        """Plain data for a checkpoint."""
        return {"src": self.src_model, "tgt": self.tgt_model, "target_ids": self.target_ids}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        return cls(d["src"], d["tgt"], d.get("target_ids"))  # older files keep every piece


def seen_target_ids(counts: np.ndarray) -> list[int]:
    """The output vocabulary for per-piece counts of the target training text: the special ids
    and every piece that occurs."""
    seen = np.flatnonzero(counts)
    return [PAD, UNK, BOS, EOS] + [int(i) for i in seen if i > EOS]
