"""`Translator`: French lines in, English lines out, with a PyTorch model (or an ensemble), its
vocabulary and decoding settings. Used by validation, the translate, evaluate and serve commands,
and from Python. What it shares with `OnnxTranslator` lives in `core.py`."""

from __future__ import annotations

import os
import warnings

import torch
from omegaconf import DictConfig, OmegaConf

from ..checkpoint import load_checkpoint
from ..data.batching import pad
from ..data.vocab import Vocab
from ..errors import Seq2SeqError
from ..model.encoder_decoder import Seq2Seq, build_model
from .constrained import constrained_beam_search
from .core import Hypothesis, TranslatorBase, max_lengths
from .ensemble import Ensemble, average_checkpoints, check_same_vocabulary
from .search import beam_search, greedy

CONSTRAINED_MIN_BEAM = 4  # greedy decoding with a glossary searches with this small beam


def _build(ckpt: dict, name, vocab: Vocab) -> Seq2Seq:
    cfg = OmegaConf.create(ckpt["config"])
    model = build_model(cfg.model, vocab.src_size, vocab.tgt_size)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise Seq2SeqError(f"checkpoint {name} does not match its own model config "
                           f"({str(err).splitlines()[0]})")
    return model


class Translator(TranslatorBase):
    """A trained model (or an ensemble) as a translator:

        tr = Translator.from_checkpoint("outputs/main/checkpoints/best.pt", beam_size=5)
        tr.translate(["Je suis étudiant.", "Où est la gare ?"])  # ['I am a student.', ...]
        tr.translations(["Je suis étudiant."])[0].nbest  # [Candidate(text=..., score=...)]
    """

    def __init__(self, model: Seq2Seq | Ensemble, vocab: Vocab, decode: DictConfig | dict | None,
                 normalize_cfg: DictConfig, device: str = "cpu", warn=None, **settings):
        super().__init__(vocab, decode, normalize_cfg, warn, **settings)
        self.model = model.to(device).eval()
        self.device = device

    @classmethod
    def from_checkpoint(cls, paths, decode: DictConfig | dict | None = None,
                        device: str = "cpu", average: bool = False, **settings) -> Translator:
        """A translator for one checkpoint, or several: an ensemble, or with `average` one model
        with their mean weights (see `ensemble.py`). Normalisation follows the first.

        Decoding settings: conf/decode/greedy.yaml, then `decode`, then keywords
        (`beam_size=5`, `n_best=3`, `length_penalty=0.6`, `batch_size=64`, ...).
        """
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not paths:
            raise Seq2SeqError("no checkpoint given")
        if device == "cuda" and not torch.cuda.is_available():
            raise Seq2SeqError("device cuda but no CUDA device is available; use cpu")
        if average and len(paths) > 1:
            ckpts, names = [average_checkpoints(paths)], [f"the average of {len(paths)}"]
        else:
            ckpts, names = [load_checkpoint(p) for p in paths], paths
        check_same_vocabulary(ckpts, names)
        vocab = Vocab.from_dict(ckpts[0]["vocab"])
        models = [_build(ckpt, name, vocab) for ckpt, name in zip(ckpts, names)]
        model = models[0] if len(models) == 1 else Ensemble(models)
        cfg = OmegaConf.create(ckpts[0]["config"])
        return cls(model, vocab, decode, cfg.data.normalize, device, **settings)

    def quantize_int8(self) -> None:
        """Dynamic int8 quantization of the linear and RNN layers (CPU inference only)."""
        if self.device != "cpu":
            raise Seq2SeqError("int8 quantization runs on the CPU; use --device cpu")
        with warnings.catch_warnings():  # torch announces a future replacement of this API
            warnings.simplefilter("ignore", UserWarning)
            self.model = torch.ao.quantization.quantize_dynamic(
                self.model, {torch.nn.Linear, torch.nn.GRU, torch.nn.LSTM}, dtype=torch.qint8)

    def _search(self, ids: list[list[int]], attention: bool,
                constraints: list[list[list[int]]] | None = None) -> list[list[Hypothesis]]:
        if constraints:  # constrained search for the sentences with terms, the plain for the rest
            some = [i for i, c in enumerate(constraints) if c]
            none = [i for i, c in enumerate(constraints) if not c]
            out: list = [None] * len(ids)
            if none:
                for i, hyps in zip(none, self._search([ids[i] for i in none], attention)):
                    out[i] = hyps
            src, src_lens = pad([ids[i] for i in some])
            d = self.decode
            found = constrained_beam_search(
                self.model, src.to(self.device), src_lens, max_lengths(src_lens.tolist(), d),
                max(d.beam_size, CONSTRAINED_MIN_BEAM), [constraints[i] for i in some],
                d.n_best, d.length_penalty, attention)
            for i, hyps in zip(some, found):
                out[i] = hyps
            return out
        src, src_lens = pad(ids)
        src = src.to(self.device)
        d = self.decode
        max_len = max_lengths(src_lens.tolist(), d)
        if d.beam_size == 1:
            return [[h] for h in greedy(self.model, src, src_lens, max_len, attention)]
        return beam_search(self.model, src, src_lens, max_len, d.beam_size, d.n_best,
                           d.length_penalty, attention)
