"""`OnnxTranslator`: translate with an export folder (see `onnx_export.py`) on onnxruntime, with
greedy and beam search in numpy — no PyTorch. It behaves like `Translator` (same normalisation,
truncation, length limits, length penalty, n-best), so `seq2seq-translate --onnx DIR` streams files
and pipes the same way. Sentences of equal length are decoded together, so no padding is needed.

Shapes: B sentences, K beam size, S source length, V vocabulary, L layers, H hidden.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..data.vocab import Vocab
from ..decoding.core import (
    Hypothesis,
    TranslatorBase,
    length_penalty,
    max_lengths,
)
from ..errors import Seq2SeqError

FORMAT = "seq2seq-onnx"
VERSION = 1


def check_export_dir(folder: Path) -> dict:
    """settings.json of an export folder; one clear error for a missing or damaged one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise Seq2SeqError(f"{folder} is not an export folder (seq2seq-export writes one)")
    for name in ("settings.json", "encoder.onnx", "decoder_step.onnx", "source.model",
                 "target.model"):
        if not (folder / name).is_file() or (folder / name).stat().st_size == 0:
            raise Seq2SeqError(f"export folder {folder} lacks {name}; export it again")
    try:
        settings = json.loads((folder / "settings.json").read_text())
    except ValueError:
        raise Seq2SeqError(f"{folder / 'settings.json'} is damaged; export it again")
    if settings.get("format") != FORMAT or settings.get("version") != VERSION:
        raise Seq2SeqError(f"{folder} is not a seq2seq ONNX export of version {VERSION}")
    return settings


class _State:
    """Decoder state arrays; the batch axis is 0, except 1 for the RNN states."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays

    def select(self, index: np.ndarray, per_step_only: bool = False) -> _State:
        out = {}
        for name, a in self.arrays.items():
            if name in ("h", "c"):
                out[name] = a[:, index]
            elif name == "feed" or not per_step_only:
                out[name] = a[index]
            else:
                out[name] = a
        return _State(out)


class OnnxTranslator(TranslatorBase):
    """An export folder as a translator, with the interface of `Translator`:

        tr = OnnxTranslator("export/", beam_size=5)
        tr.translate(["Je suis étudiant."])
    """

    def __init__(self, folder: str | Path, decode: DictConfig | dict | None = None,
                 threads: int = 0, warn=None, **settings):
        try:
            import onnxruntime as ort
        except ImportError:
            raise Seq2SeqError('ONNX translation needs its extra: pip install "seq2seq[onnx]"')
        folder = Path(folder)
        self.settings = check_export_dir(folder)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.encoder = ort.InferenceSession(str(folder / "encoder.onnx"), opts,
                                                providers=["CPUExecutionProvider"])
            self.step = ort.InferenceSession(str(folder / "decoder_step.onnx"), opts,
                                             providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's own error types
            raise Seq2SeqError(f"export folder {folder} has a damaged ONNX file "
                               f"({str(err).splitlines()[0][:120]}); export it again")
        src_model = (folder / "source.model").read_bytes()
        tgt_model = (folder / "target.model").read_bytes()
        vocab = Vocab(src_model, None if tgt_model == src_model else tgt_model,
                      self.settings.get("target_ids"))
        super().__init__(vocab, decode, self.settings["normalize"], warn, **settings)
        self.bos, self.eos = self.settings["special"]["bos"], self.settings["special"]["eos"]
        self.state_names = ["h", "c"] if self.settings["lstm"] else ["h"]
        # inputs a design does not use (no attention: memory, keys, mask) are not in its graph
        self.step_inputs = {i.name for i in self.step.get_inputs()}

    # -- the two graphs -------------------------------------------------------------------

    def _encode(self, src: np.ndarray) -> _State:
        outs = self.encoder.run(None, {"src": src})
        arrays = {"memory": outs[0], "keys": outs[1], "mask": np.ones(src.shape, dtype=bool)}
        arrays.update(zip(self.state_names, outs[2:]))
        if self.settings["feeding"]:
            arrays["feed"] = np.zeros((src.shape[0], 1, self.settings["out_dim"]), np.float32)
        return _State(arrays)

    def _step(self, y: np.ndarray, state: _State) -> tuple[np.ndarray, _State]:
        a = state.arrays
        feeds = {"y": y, "memory": a["memory"], "keys": a["keys"], "mask": a["mask"],
                 **{n: a[n] for n in self.state_names}}
        if "feed" in a:
            feeds["feed"] = a["feed"]
        outs = self.step.run(None, {k: v for k, v in feeds.items() if k in self.step_inputs})
        new = dict(a)
        new.update(zip(self.state_names, outs[2: 2 + len(self.state_names)]))
        if "feed" in a:
            new["feed"] = outs[-1]
        return outs[0], _State(new)  # log-probs (n, V)

    # -- search ----------------------------------------------------------------------------

    def _max_lengths(self, n: int, S: int) -> list[int]:
        return max_lengths([S], self.decode) * n

    def greedy(self, src: np.ndarray) -> list[list[tuple[list[int], float]]]:
        B = src.shape[0]
        max_len = self._max_lengths(B, src.shape[1])
        state = self._encode(src)
        alive = list(range(B))
        tokens: list[list[int]] = [[] for _ in range(B)]
        scores = [0.0] * B
        out: list = [None] * B
        y = np.full((B, 1), self.bos, dtype=np.int64)
        for t in range(max(max_len)):
            logp, state = self._step(y, state)
            best = logp.argmax(axis=-1)  # (n,)
            best_logp = logp[np.arange(len(best)), best]
            keep = []
            for row, (i, tok, lp) in enumerate(zip(alive, best.tolist(), best_logp.tolist())):
                scores[i] += lp
                if tok != self.eos:
                    tokens[i].append(tok)
                if tok == self.eos or t + 1 >= max_len[i]:
                    out[i] = [(tokens[i], scores[i])]
                else:
                    keep.append(row)
            if not keep:
                break
            if len(keep) < len(alive):
                index = np.array(keep)
                state, best = state.select(index), best[index]
                alive = [alive[r] for r in keep]
            y = best[:, None].astype(np.int64)
        return out

    def beam(self, src: np.ndarray) -> list[list[tuple[list[int], float]]]:
        """The same algorithm as `search.beam_search`, in numpy."""
        B, K = src.shape[0], self.decode.beam_size
        alpha, n_best = self.decode.length_penalty, self.decode.n_best
        max_len = self._max_lengths(B, src.shape[1])
        state = self._encode(src).select(np.repeat(np.arange(B), K))
        alive = list(range(B))
        scores = np.full((B, K), -np.inf, dtype=np.float32)
        scores[:, 0] = 0.0
        seqs = np.zeros((B * K, 0), dtype=np.int64)
        finished: list[list[tuple[list[int], float]]] = [[] for _ in range(B)]
        y = np.full((B * K, 1), self.bos, dtype=np.int64)
        for t in range(max(max_len)):
            logp, state = self._step(y, state)  # (n*K, V)
            n, V = len(alive), logp.shape[-1]
            cand = (scores[:, :, None] + logp.reshape(n, K, V)).reshape(n, K * V)
            part = np.argpartition(-cand, 2 * K - 1, axis=1)[:, : 2 * K]
            order = np.argsort(-np.take_along_axis(cand, part, 1), axis=1, kind="stable")
            top_i = np.take_along_axis(part, order, 1)  # (n, 2K), best first
            top_s = np.take_along_axis(cand, top_i, 1)
            top_beam, top_tok = top_i // V, top_i % V
            is_eos = top_tok == self.eos
            penalty = length_penalty(t + 1, alpha)
            for r, j in zip(*np.nonzero(is_eos[:, :K] & (top_s[:, :K] > -np.inf))):
                row = r * K + int(top_beam[r, j])
                finished[alive[r]].append((seqs[row].tolist(), float(top_s[r, j]) / penalty))
            pick = np.argsort(is_eos * 2 * K + np.arange(2 * K), axis=1, kind="stable")[:, :K]
            scores = np.take_along_axis(top_s, pick, 1)
            rows = (np.arange(n)[:, None] * K + np.take_along_axis(top_beam, pick, 1)).reshape(-1)
            y = np.take_along_axis(top_tok, pick, 1).reshape(-1, 1).astype(np.int64)
            seqs = np.concatenate([seqs[rows], y], axis=1)
            state = state.select(rows, per_step_only=True)
            keep = []
            for r, i in enumerate(alive):
                if len(finished[i]) >= K:
                    continue
                if t + 1 >= max_len[i]:
                    for k in range(K):
                        if scores[r, k] > -np.inf:
                            finished[i].append((seqs[r * K + k].tolist(),
                                                float(scores[r, k]) / penalty))
                    continue
                keep.append(r)
            if not keep:
                break
            if len(keep) < n:
                index = np.array(keep)
                rows = (index[:, None] * K + np.arange(K)).reshape(-1)
                scores, y, seqs = scores[index], y[rows], seqs[rows]
                state = state.select(rows)
                alive = [alive[r] for r in keep]
        return [sorted(f, key=lambda h: -h[1])[:n_best] for f in finished]

    # -- the TranslatorBase hooks -------------------------------------------------------------

    def _batches(self, ids: list[list[int]], todo: list[int]) -> Iterator[list[int]]:
        """Sentences of equal length together (the graphs take no padding), `batch_size` rows
        at a time."""
        by_length: dict[int, list[int]] = {}
        for i in todo:
            by_length.setdefault(len(ids[i]), []).append(i)
        per_batch = max(1, self.decode.batch_size // self.decode.beam_size)
        for members in by_length.values():
            for start in range(0, len(members), per_batch):
                yield members[start: start + per_batch]

    def _search(self, ids: list[list[int]], attention: bool,
                constraints: list[list[list[int]]] | None = None) -> list[list[Hypothesis]]:
        if attention:
            raise Seq2SeqError("attention plots need the PyTorch path; drop --onnx")
        if constraints:
            raise Seq2SeqError("glossaries need the PyTorch path; drop --onnx")
        src = np.array(ids, dtype=np.int64)  # (B, S): one length
        search = self.greedy if self.decode.beam_size == 1 else self.beam
        return [[Hypothesis(tokens, score) for tokens, score in hyps] for hyps in search(src)]
