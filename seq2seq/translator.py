"""`Translator`: French lines in, English lines out, with a model, its vocabulary and decoding
settings. Used by validation, scripts/translate.py and scripts/evaluate.py alike."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from .checkpoint import load_checkpoint
from .data import pad
from .ensemble import Ensemble, average_checkpoints, check_same_vocabulary
from .errors import Seq2SeqError
from .model import Seq2Seq, build_model
from .search import Hypothesis, beam_search, greedy, max_lengths
from .text import normalize, one_line, settings
from .vocab import Vocab


@dataclass
class Translation:
    text: str  # the best hypothesis, detokenized
    nbest: list[tuple[str, float]]  # (text, score) best first
    hypothesis: Hypothesis  # the best one, with pieces and attention when asked for
    src_pieces: list[str]  # only when attention was asked for


def _build(ckpt: dict, name, vocab: Vocab) -> Seq2Seq:
    cfg = OmegaConf.create(ckpt["config"])
    model = build_model(cfg.model, vocab.src_size, vocab.tgt_size)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise Seq2SeqError(f"checkpoint {name} does not match its own model config "
                           f"({str(err).splitlines()[0]})")
    return model


class Translator:
    def __init__(self, model: Seq2Seq | Ensemble, vocab: Vocab, decode: DictConfig,
                 normalize_cfg: DictConfig, device: str = "cpu", warn=None):
        if decode.beam_size < 1 or not 1 <= decode.n_best <= decode.beam_size:
            raise Seq2SeqError(f"beam size {decode.beam_size} and n-best {decode.n_best}: need "
                               f"beam_size >= 1 and 1 <= n_best <= beam_size")
        self.model = model.to(device).eval()
        self.vocab, self.decode = vocab, decode
        self.normalize_cfg = settings(normalize_cfg)  # read per line: a plain namespace
        self.device = device
        self.warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))

    @classmethod
    def from_checkpoint(cls, paths, decode: DictConfig, device: str = "cpu",
                        average: bool = False) -> Translator:
        """A translator for one checkpoint, or several: an ensemble, or with `average` one model
        with their mean weights (see `ensemble.py`). Normalisation follows the first."""
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not paths:
            raise Seq2SeqError("no checkpoint given")
        if average and len(paths) > 1:
            ckpts, names = [average_checkpoints(paths)], [f"the average of {len(paths)}"]
        else:
            ckpts, names = [load_checkpoint(p) for p in paths], paths
        check_same_vocabulary(ckpts, names)
        vocab = Vocab.from_dict(ckpts[0]["vocab"])
        models = [_build(ckpt, name, vocab) for ckpt, name in zip(ckpts, names)]
        model = models[0] if len(models) == 1 else Ensemble(models)
        cfg = OmegaConf.create(ckpts[0]["config"])
        return cls(model, vocab, decode, cfg.data.normalize, device)

    def with_decode(self, **settings) -> Translator:
        """A translator sharing this one's model and vocabulary, with other decoding settings
        (e.g. `beam_size=5, n_best=2`)."""
        return Translator(self.model, self.vocab, OmegaConf.merge(self.decode, settings),
                          self.normalize_cfg, self.device, self.warn)

    def quantize_int8(self) -> None:
        """Dynamic int8 quantization of the linear and RNN layers (CPU inference only)."""
        if self.device != "cpu":
            raise Seq2SeqError("int8 quantization runs on the CPU; use --device cpu")
        with warnings.catch_warnings():  # torch announces a future replacement of this API
            warnings.simplefilter("ignore", UserWarning)
            self.model = torch.ao.quantization.quantize_dynamic(
                self.model, {torch.nn.Linear, torch.nn.GRU, torch.nn.LSTM}, dtype=torch.qint8)

    def _search(self, ids: list[list[int]], attention: bool) -> list[list[Hypothesis]]:
        src, src_lens = pad(ids)
        src = src.to(self.device)
        d = self.decode
        max_len = max_lengths(src_lens, d.max_len_ratio, d.max_len_extra)
        if d.beam_size == 1:
            return [[h] for h in greedy(self.model, src, src_lens, max_len, attention)]
        return beam_search(self.model, src, src_lens, max_len, d.beam_size, d.n_best,
                           d.length_penalty, attention)

    def translate(self, lines: Sequence[str], attention: bool = False,
                  first_line: int = 1) -> list[Translation]:
        """Translations of `lines`, in order. Empty lines give empty translations.

        Sentences are sorted by length and decoded `decode.batch_size` rows (sentences × beam
        size) at a time. `first_line` is the line number of lines[0], for warnings. Source
        pieces are filled in only with `attention`.
        """
        texts = [normalize(line, self.normalize_cfg) for line in lines]
        ids = self.vocab.encode_input(texts, self.decode.max_src_len, self.warn, first_line)
        out: list[Translation | None] = [None] * len(lines)
        todo = sorted((i for i in range(len(lines)) if ids[i]), key=lambda i: len(ids[i]))
        for i in range(len(lines)):
            if not ids[i]:
                out[i] = Translation("", [("", 0.0)], Hypothesis([], 0.0), [])
        bs = max(1, self.decode.batch_size // self.decode.beam_size)  # sentences per batch
        for start in range(0, len(todo), bs):
            chunk = todo[start: start + bs]
            results = self._search([ids[i] for i in chunk], attention)  # n-best per sentence
            texts_out = [one_line(x) for x in self.vocab.decode_tgt(
                [h.tokens for hyps in results for h in hyps])]  # one decode call per batch
            for i, hyps in zip(chunk, results):
                texts, texts_out = texts_out[: len(hyps)], texts_out[len(hyps):]
                pieces = self.vocab.src.id_to_piece(ids[i]) if attention else []
                out[i] = Translation(texts[0], list(zip(texts, [h.score for h in hyps])),
                                     hyps[0], pieces)
        return out  # type: ignore[return-value]

    def translate_text(self, lines: Sequence[str]) -> list[str]:
        return [t.text for t in self.translate(lines)]
