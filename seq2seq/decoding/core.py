"""What every translator shares, whatever runs its search (PyTorch or onnxruntime): the results'
types, option checks, normalisation, batching, n-best assembly and the length penalty. No torch
here, so that the ONNX translator starts without it.

A translator subclass says only how to search a batch of encoded sentences (`_search`) and, if
it needs to, how to group sentences into batches (`_batches`).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from omegaconf import DictConfig, OmegaConf

from ..config import check_section, load_config_file
from ..data.cleaning import normalize, one_line, settings
from ..data.vocab import UNK, Vocab
from ..text.glossary import fold


@dataclass
class Hypothesis:
    """One search result, in target ids."""

    tokens: list[int]  # target ids, without BOS/EOS
    score: float  # log-probability; divided by the length penalty in beam search
    attention: Any = None  # (steps, S) float32 weights, when asked for (PyTorch only)
    token_scores: list[float] | None = None  # log-prob of each token, then of </s> if it ended


@dataclass
class Candidate:
    """One translation of a sentence, with its score (log-probability over the length
    penalty; higher is better)."""

    text: str
    score: float


@dataclass
class Translation:
    """The translations of one sentence: the best, and the n-best list it heads."""

    text: str  # the best translation, detokenized
    nbest: list[Candidate]  # best first; its length is the decoding's n_best
    hypothesis: Hypothesis = field(repr=False)  # the best, in pieces (with attention if asked)
    src_pieces: list[str] = field(default_factory=list, repr=False)  # with attention only

    @property
    def score(self) -> float:
        return self.nbest[0].score


def length_penalty(length: int, alpha: float) -> float:
    """Wu et al. (2016), "Google's NMT System", §7: ((5 + |Y|) / 6) ** alpha."""
    return ((5.0 + length) / 6.0) ** alpha


def max_lengths(src_lens: list[int], decode) -> list[int]:
    """Longest output allowed for sources of `src_lens` pieces: ratio × length + extra (the
    settings read once: a config's attribute costs microseconds)."""
    ratio, extra = decode.max_len_ratio, decode.max_len_extra
    return [int(ratio * n + extra) for n in src_lens]


def decode_settings(decode: DictConfig | dict | None = None, **overrides) -> DictConfig:
    """Decoding settings: conf/decode/greedy.yaml, then `decode`, then keyword overrides
    (`beam_size=5`), checked. Asking for more hypotheses than the beam holds widens the beam."""
    cfg = load_config_file("decode/greedy.yaml")
    if decode is not None:
        cfg = OmegaConf.merge(cfg, decode)
    given = {k: v for k, v in overrides.items() if v is not None}
    cfg = OmegaConf.merge(cfg, given)
    if "n_best" in given and "beam_size" not in given:
        cfg.beam_size = max(cfg.beam_size, cfg.n_best)
    check_section(cfg, "decode")
    return cfg


class TranslatorBase:
    """French lines in, English lines out; see `Translator` (PyTorch) and `OnnxTranslator`."""

    def __init__(self, vocab: Vocab, decode: DictConfig | dict | None, normalize_cfg, warn=None,
                 **options):
        """`decode` and the keyword `options` (`beam_size=5`) on top of conf/decode/greedy.yaml
        (see `decode_settings`)."""
        self.vocab, self.decode = vocab, decode_settings(decode, **options)
        self.glossary = None  # a text.glossary.Glossary: terms the output must contain
        self.normalize_cfg = settings(normalize_cfg)  # read per line: a plain namespace
        self.warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))

    def with_decode(self, **options) -> TranslatorBase:
        """A translator sharing this one's model and vocabulary, with other decoding settings
        (e.g. `beam_size=5, n_best=2`)."""
        other = copy.copy(self)
        other.decode = decode_settings(self.decode, **options)
        return other

    def with_glossary(self, glossary) -> TranslatorBase:
        """A translator whose outputs contain the English term of every glossary entry whose
        French term the sentence has (lexically constrained beam search)."""
        other = copy.copy(self)
        other.glossary = glossary
        return other

    # -- what a search engine provides ---------------------------------------------------------

    def _search(self, ids: list[list[int]], attention: bool,
                constraints: list[list[list[int]]] | None = None) -> list[list[Hypothesis]]:
        """The n-best hypotheses of each encoded sentence, best first; with `constraints`,
        each sentence's output contains its target id sequences."""
        raise NotImplementedError

    def _batches(self, ids: list[list[int]], todo: list[int]) -> Iterator[list[int]]:
        """Indices of sentences to search together: by length, `decode.batch_size` rows
        (sentences × beam size) at a time."""
        todo = sorted(todo, key=lambda i: len(ids[i]))
        per_batch = max(1, self.decode.batch_size // self.decode.beam_size)
        for start in range(0, len(todo), per_batch):
            yield todo[start: start + per_batch]

    # -- the interface -------------------------------------------------------------------------

    def _terms(self, texts: list[str], ids: list[list[int]], glossaries: Sequence,
               first_line: int) -> list[list[tuple[str, list[int]]]]:
        """For each sentence, its glossary terms' English side as (text, target ids); terms
        that cannot fit in the output (or hold pieces the output vocabulary lacks) are left
        out with a warning naming the line."""
        out = []
        for i, (text, x, glossary) in enumerate(zip(texts, ids, glossaries)):
            matched = glossary.terms(text) if x and glossary else []
            encoded = self.vocab.encode_tgt([en for _, en in matched]) if matched else []
            room = max_lengths([len(x)], self.decode)[0] - 1 if x else 0
            mine = []
            for (_, en), term_ids in zip(matched, encoded):
                if UNK in term_ids or not term_ids:
                    self.warn(f"line {first_line + i}: glossary term {en!r} has characters "
                              f"the model cannot write; left out")
                elif sum(len(c) for _, c in mine) + len(term_ids) > room:
                    self.warn(f"line {first_line + i}: glossary term {en!r} does not fit in "
                              f"the {room} pieces the output may have; left out")
                else:
                    mine.append((en, term_ids))
            out.append(mine)
        return out

    @overload
    def translate(self, text: str) -> str: ...

    @overload
    def translate(self, text: Sequence[str]) -> list[str]: ...

    def translate(self, text):
        """The best English translation of a French sentence, or of each of a list."""
        if isinstance(text, str):
            return self.translations([text])[0].text
        return [t.text for t in self.translations(text)]

    def translations(self, lines: Sequence[str], attention: bool = False,
                     first_line: int = 1, glossaries: Sequence | None = None
                     ) -> list[Translation]:
        """The n-best translations of `lines`, in order. Empty lines give empty translations.

        `first_line` is the line number of lines[0], for warnings (a truncated input). Source
        pieces and attention weights are filled in only with `attention`. `glossaries`, one
        per line (or None), replace the translator's glossary line by line.
        """
        texts = [normalize(line, self.normalize_cfg) for line in lines]
        ids = self.vocab.encode_input(texts, self.decode.max_src_len, self.warn, first_line)
        out: list[Translation | None] = [
            None if x else Translation("", [Candidate("", 0.0)], Hypothesis([], 0.0))
            for x in ids]
        if glossaries is None and self.glossary is not None:
            glossaries = [self.glossary] * len(texts)
        terms = self._terms(texts, ids, glossaries, first_line) if glossaries else None
        for chunk in self._batches(ids, [i for i in range(len(lines)) if ids[i]]):
            wanted = [[c for _, c in terms[i]] for i in chunk] if terms else None
            results = self._search([ids[i] for i in chunk], attention,
                                   wanted if wanted and any(wanted) else None)
            decoded = [one_line(x) for x in self.vocab.decode_tgt(
                [h.tokens for hyps in results for h in hyps])]  # one decode call per batch
            for i, hyps in zip(chunk, results):
                mine, decoded = decoded[: len(hyps)], decoded[len(hyps):]
                pieces = self.vocab.src.id_to_piece(ids[i]) if attention else []
                out[i] = Translation(mine[0], [Candidate(t, h.score) for t, h in zip(mine, hyps)],
                                     hyps[0], pieces)
                missing = [en for en, _ in (terms[i] if terms else []) if fold(en) not in
                           fold(mine[0])]
                if missing:
                    self.warn(f"line {first_line + i}: glossary term(s) "
                              f"{', '.join(repr(m) for m in missing)} not in the translation")
        return out  # type: ignore[return-value]
