"""The translate command: sentences from arguments, a file, a pipe or an interactive prompt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf

from .errors import Seq2SeqError
from .stream import quiet_broken_pipe, translate_stream

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def decode_config(args: argparse.Namespace):
    """conf/decode/greedy.yaml with the command line's options on top."""
    cfg = OmegaConf.load(CONF_DIR / "decode" / "greedy.yaml")
    for key, value in (("beam_size", args.beam_size), ("n_best", args.n_best),
                       ("batch_size", args.batch_size), ("max_len_ratio", args.max_len_ratio),
                       ("max_src_len", args.max_src_len), ("length_penalty", args.length_penalty)):
        if value is not None:
            cfg[key] = value
    if args.n_best is not None and args.beam_size is None:
        cfg.beam_size = max(cfg.beam_size, args.n_best)
    return cfg


def load_translator(args: argparse.Namespace):
    """The PyTorch `Translator`, or with --onnx the `OnnxTranslator`, which does not import
    torch at all (a faster start)."""
    if args.onnx:
        from .export.onnx_runtime import OnnxTranslator

        for flag, value in (("--checkpoint", args.checkpoint), ("--quantize", args.quantize
                                                                  != "none"),
                            ("--device", args.device != "cpu")):
            if value:
                raise Seq2SeqError(f"--onnx replaces the checkpoint; drop {flag}")
        return OnnxTranslator(args.onnx, decode_config(args), args.threads)
    import torch

    from .translator import Translator

    if not args.checkpoint:
        raise Seq2SeqError("give --checkpoint CKPT (or --onnx DIR)")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise Seq2SeqError("--device cuda but no CUDA device is available; use --device cpu")
    translator = Translator.from_checkpoint(args.checkpoint, decode_config(args), args.device,
                                            average=args.average)
    if args.quantize == "int8":
        translator.quantize_int8()
    return translator


def _interactive(translator) -> None:
    print("Type French, get English. Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            line = input("fr> ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return
        for text, score in translator.translate([line])[0].nbest:
            print(text if translator.decode.n_best == 1 else f"{text}\t{score:.4f}", flush=True)


def run(args: argparse.Namespace) -> None:
    if args.attention_plot and len(args.sentences) != 1:
        raise Seq2SeqError("--attention-plot needs exactly one sentence argument")
    if args.sentences and args.input:
        raise Seq2SeqError("give sentences as arguments or --input FILE, not both")
    translator = load_translator(args)
    n_best = translator.decode.n_best
    try:
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    except OSError as err:
        raise Seq2SeqError(f"cannot write {args.output}: {err.strerror}")
    try:
        if args.sentences:
            results = translator.translate(args.sentences, attention=bool(args.attention_plot))
            for i, t in enumerate(results):
                for text, score in t.nbest:
                    out.write(f"{i}\t{text}\t{score:.4f}\n" if n_best > 1 else text + "\n")
            out.flush()
            if args.attention_plot:
                t = results[0]
                pieces = translator.vocab.tgt_pieces(t.hypothesis.tokens) + ["</s>"]
                weights = t.hypothesis.attention
                if weights is None:
                    raise Seq2SeqError("this model has no attention to plot")
                from .plot import plot_attention

                plot_attention(weights[: len(pieces)], t.src_pieces, pieces[: len(weights)],
                               Path(args.attention_plot))
                print(f"attention plot written to {args.attention_plot}", file=sys.stderr)
        elif args.input:
            try:
                src = open(args.input, "rb")
            except OSError as err:
                raise Seq2SeqError(f"cannot read {args.input}: {err.strerror}")
            with src:
                translate_stream(translator, src, out, n_best)
        elif sys.stdin.isatty():
            _interactive(translator)
        else:
            translate_stream(translator, sys.stdin.buffer, out, n_best)
    except BrokenPipeError:
        quiet_broken_pipe()
    finally:
        if out is not sys.stdout:
            out.close()
