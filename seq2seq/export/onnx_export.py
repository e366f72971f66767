"""`export_onnx(checkpoint, out_dir)`: the encoder and one decoder step as ONNX graphs, plus the
SentencePiece models and a settings.json — everything `onnx_runtime.OnnxTranslator` needs.

The exported encoder takes sentences of one length (no padding: the runtime batches sentences
of equal length together), so it needs no packed sequences, which ONNX cannot express. The step
graph takes and returns the decoder's state explicitly:

    encoder.onnx       src (B, S) int64 → memory (B, S, Hm), keys (B, S, Hk), h (L, B, H)
                                          [, c (L, B, H) for LSTM]
    decoder_step.onnx  y (B, 1) int64, memory, keys, mask (B, S) bool, h [, c] [, feed (B, 1, O)]
                       → log_probs (B, V), attention (B, S), h [, c] [, feed]
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from ..checkpoint import load_checkpoint
from ..data.vocab import BOS, EOS, PAD, UNK, Vocab
from ..model.decoder import DecoderState
from ..model.encoder_decoder import Seq2Seq, build_model
from .onnx_runtime import FORMAT, VERSION


class _Encoder(nn.Module):
    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, src):
        enc = self.model.encoder
        x = enc.dropout(enc.embed(src))  # (B, S, E)
        memory, final = enc.rnn(x)  # (B, S, D*H): every sentence has length S, no padding
        mask = torch.ones_like(src, dtype=torch.bool)
        state = self.model.decoder.init_state(memory, mask, final)
        keys = state.keys if state.keys is not None else memory[:, :, :1]
        hidden = state.hidden if isinstance(state.hidden, tuple) else (state.hidden,)
        return (memory, keys, *hidden)


class _Step(nn.Module):
    def __init__(self, model: Seq2Seq, lstm: bool, feeding: bool, attention: bool):
        super().__init__()
        self.model, self.lstm, self.feeding, self.attention = model, lstm, feeding, attention

    def forward(self, y, memory, keys, mask, *state):
        h, rest = state[0], list(state[1:])
        hidden = (h, rest.pop(0)) if self.lstm else h
        feed = rest.pop(0) if self.feeding else None
        s = DecoderState(memory, keys if self.attention else None, mask, hidden, feed)
        logp, s, weights = self.model.step_log_probs(y, s)  # (B, V), state, (B, 1, S)
        if weights is None:
            weights = mask.float().unsqueeze(1)
        out = [logp, weights[:, 0].float(), *(s.hidden if self.lstm else (s.hidden,))]
        if self.feeding:
            out.append(s.feed)
        return tuple(out)


def export_onnx(checkpoint: str | Path, out_dir: str | Path, opset: int = 17) -> Path:
    """Write the export folder `out_dir` (atomically: built beside it, then renamed)."""
    ckpt = load_checkpoint(checkpoint)
    cfg = OmegaConf.create(ckpt["config"])
    vocab = Vocab.from_dict(ckpt["vocab"])
    model = build_model(cfg.model, vocab.src_size, vocab.tgt_size)
    model.load_state_dict(ckpt["model"])
    model.eval()
    lstm, feeding = cfg.model.cell == "lstm", bool(cfg.model.decoder.input_feeding)
    attention = cfg.model.attention.type != "none"
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        _export_graphs(model, tmp, lstm, feeding, attention, opset)
        (tmp / "source.model").write_bytes(vocab.src_model)
        (tmp / "target.model").write_bytes(vocab.tgt_model or vocab.src_model)
        settings = {"format": FORMAT, "version": VERSION, "lstm": lstm, "feeding": feeding,
                    "layers": cfg.model.decoder.layers, "hidden": cfg.model.decoder.hidden,
                    "out_dim": model.decoder.out_dim,
                    "special": {"pad": PAD, "unk": UNK, "bos": BOS, "eos": EOS},
                    "target_ids": vocab.target_ids,  # output id → target.model piece id
                    "normalize": OmegaConf.to_container(cfg.data.normalize),
                    "model": OmegaConf.to_container(cfg.model),
                    "checkpoint": str(checkpoint), "metrics": ckpt.get("metrics")}
        (tmp / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _export_graphs(model: Seq2Seq, folder: Path, lstm: bool, feeding: bool, attention: bool,
                   opset: int) -> None:
    B, S = 2, 5
    src = torch.randint(4, 20, (B, S))
    enc = _Encoder(model)
    state_names = ["h", "c"] if lstm else ["h"]
    with torch.no_grad():
        memory, keys, *hidden = enc(src)
    seq = {0: "batch", 1: "source"}
    with warnings.catch_warnings():  # the TorchScript exporter announces its successor
        warnings.simplefilter("ignore")
        torch.onnx.export(enc, (src,), str(folder / "encoder.onnx"), dynamo=False,
                          input_names=["src"], output_names=["memory", "keys", *state_names],
                          dynamic_axes={"src": seq, "memory": seq, "keys": seq,
                                        **{n: {1: "batch"} for n in state_names}},
                          opset_version=opset)
        step = _Step(model, lstm, feeding, attention)
        y = torch.full((B, 1), BOS, dtype=torch.long)
        mask = torch.ones(B, S, dtype=torch.bool)
        extra = [torch.zeros(B, 1, model.decoder.out_dim)] if feeding else []
        ins = ["y", "memory", "keys", "mask", *state_names] + (["feed"] if feeding else [])
        outs = ["log_probs", "attention", *[f"{n}_out" for n in state_names]] + \
            (["feed_out"] if feeding else [])
        dyn = {"y": {0: "batch"}, "memory": seq, "keys": seq, "mask": seq,
               "log_probs": {0: "batch"}, "attention": seq,
               **{n: {1: "batch"} for n in state_names},
               **{f"{n}_out": {1: "batch"} for n in state_names}}
        if feeding:
            dyn.update(feed={0: "batch"}, feed_out={0: "batch"})
        torch.onnx.export(step, (y, memory, keys, mask, *hidden, *extra),
                          str(folder / "decoder_step.onnx"), dynamo=False, input_names=ins,
                          output_names=outs, dynamic_axes=dyn, opset_version=opset)
