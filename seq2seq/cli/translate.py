"""seq2seq-translate: translate French to English with a trained checkpoint.

    seq2seq-translate --checkpoint CKPT "Je suis étudiant." "J'ai faim, merci !"
    seq2seq-translate --checkpoint CKPT < input.fr > output.en
    seq2seq-translate --checkpoint CKPT --input input.fr --output output.en --beam-size 5
    seq2seq-translate --checkpoint CKPT          # interactive prompt on a terminal
    seq2seq-translate -c A.pt -c B.pt "..."      # an ensemble (--average: mean weights)
    seq2seq-translate --onnx export/ < input.fr  # ONNX export on onnxruntime
    seq2seq-translate -c CKPT --document letter.txt --output letter.en.txt   # keeps the layout
    seq2seq-translate -c CKPT --alignments --scores "Le chat dort."
    seq2seq-translate -c CKPT --glossary terms.tsv -i input.fr   # terms.tsv: French<TAB>English

Sentences never pass through Hydra: any text (quotes, '=', brackets, any Unicode) is safe.
Decoding defaults come from conf/decode/greedy.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..decoding.alignment import piece_links
from ..decoding.output import Columns
from ..decoding.stream import quiet_broken_pipe, translate_stream
from ..errors import Seq2SeqError, reported_errors
from ..memory import tune_memory


def decode_options(args: argparse.Namespace) -> dict:
    """The decoding options given on the command line (None: conf/decode/greedy.yaml's)."""
    return {"beam_size": args.beam_size, "n_best": args.n_best, "batch_size": args.batch_size,
            "max_len_ratio": args.max_len_ratio, "max_src_len": args.max_src_len,
            "length_penalty": args.length_penalty}


def load_translator(args: argparse.Namespace):
    """The PyTorch `Translator`, or with --onnx the `OnnxTranslator`, which does not import
    torch at all (a faster start)."""
    if args.onnx:
        from ..export.onnx_runtime import OnnxTranslator

        for flag, value in (("--checkpoint", args.checkpoint), ("--quantize", args.quantize
                                                                  != "none"),
                            ("--device", args.device != "cpu")):
            if value:
                raise Seq2SeqError(f"--onnx replaces the checkpoint; drop {flag}")
        return OnnxTranslator(args.onnx, threads=args.threads, **decode_options(args))
    import torch

    from ..decoding.translator import Translator

    if not args.checkpoint:
        raise Seq2SeqError("give --checkpoint CKPT (or --onnx DIR)")
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.from_checkpoint(args.checkpoint, device=args.device,
                                            average=args.average, **decode_options(args))
    if args.quantize == "int8":
        translator.quantize_int8()
    return translator


def with_glossary(translator, path: str | None):
    if not path:
        return translator
    from ..text.glossary import read_glossary

    return translator.with_glossary(read_glossary(path, translator.warn))


def _interactive(translator) -> None:
    print("Type French, get English. Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            line = input("fr> ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return
        for c in translator.translations([line])[0].nbest:
            print(c.text if translator.decode.n_best == 1 else f"{c.text}\t{c.score:.4f}",
                  flush=True)


def _check(args: argparse.Namespace) -> None:
    if args.attention_plot and len(args.sentences) != 1:
        raise Seq2SeqError("--attention-plot needs exactly one sentence argument")
    if sum(map(bool, (args.sentences, args.input, args.document))) > 1:
        raise Seq2SeqError("give sentences as arguments, --input FILE or --document FILE: "
                           "one of them")
    per_sentence = [f for f, v in (("--alignments", args.alignments), ("--scores", args.scores))
                    if v]
    if per_sentence and args.document:
        raise Seq2SeqError(f"{' and '.join(per_sentence)}: per sentence, not with --document")
    if per_sentence and (args.n_best or 1) > 1:
        raise Seq2SeqError(f"{' and '.join(per_sentence)}: for the best translation; drop "
                           f"--n-best")
    if args.alignments and args.onnx:
        raise Seq2SeqError("--alignments needs the attention of the PyTorch path; drop --onnx")


def _document(translator, path: str, out) -> None:
    from ..decoding.document import translate_document

    if path == "-":
        translate_document(translator, sys.stdin.buffer, out, "stdin")
        return
    try:
        src = open(path, "rb")
    except OSError as err:
        raise Seq2SeqError(f"cannot read {path}: {err.strerror}")
    with src:
        translate_document(translator, src, out, path)


def run(args: argparse.Namespace) -> None:
    _check(args)
    translator = with_glossary(load_translator(args), args.glossary)
    n_best = translator.decode.n_best
    columns = Columns(translator, args.alignments, args.scores) \
        if args.alignments or args.scores else None
    try:
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    except OSError as err:
        raise Seq2SeqError(f"cannot write {args.output}: {err.strerror}")
    try:
        if args.document:
            _document(translator, args.document, out)
        elif args.sentences:
            results = translator.translations(args.sentences, attention=bool(
                args.attention_plot or args.alignments))
            for i, t in enumerate(results):
                if columns:
                    out.write(columns.line(t) + "\n")
                    continue
                for c in t.nbest:
                    out.write(f"{i}\t{c.text}\t{c.score:.4f}\n" if n_best > 1 else c.text + "\n")
            out.flush()
            if args.attention_plot:
                t = results[0]
                pieces = translator.vocab.tgt_pieces(t.hypothesis.tokens) + ["</s>"]
                weights = t.hypothesis.attention
                if weights is None:
                    raise Seq2SeqError("this model has no attention to plot")
                from ..plot import plot_attention

                plot_attention(weights[: len(pieces)], t.src_pieces, pieces[: len(weights)],
                               Path(args.attention_plot),
                               piece_links(t, pieces[:-1]) if args.alignments else None)
                print(f"attention plot written to {args.attention_plot}", file=sys.stderr)
        elif args.input:
            try:
                src = open(args.input, "rb")
            except OSError as err:
                raise Seq2SeqError(f"cannot read {args.input}: {err.strerror}")
            with src:
                translate_stream(translator, src, out, n_best, columns)
        elif sys.stdin.isatty():
            _interactive(translator)
        else:
            translate_stream(translator, sys.stdin.buffer, out, n_best, columns)
    except BrokenPipeError:
        quiet_broken_pipe()
    finally:
        if out is not sys.stdout:
            out.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sentences", nargs="*", help="French sentences (else --input, stdin or prompt)")
    p.add_argument("--checkpoint", "-c", action="append",
                   help="a best.pt or last.pt; repeat it for an ensemble of several models")
    p.add_argument("--average", action="store_true",
                   help="with several --checkpoint of one run: average their weights into one "
                        "model instead of an ensemble")
    p.add_argument("--onnx", metavar="DIR", help="translate with an export of seq2seq-export "
                   "on onnxruntime, without PyTorch (instead of --checkpoint)")
    p.add_argument("--input", "-i", help="file with one French sentence per line")
    p.add_argument("--document", "-d", metavar="FILE",
                   help="a text document ('-': stdin): paragraphs split into sentences, the "
                        "layout (blank lines, indentation, list markers, headings) kept")
    p.add_argument("--output", "-o", help="write translations here instead of stdout")
    p.add_argument("--glossary", "-g", metavar="TERMS.tsv",
                   help="French<TAB>English terms: where a sentence has the French term, the "
                        "translation contains the English one (constrained beam search)")
    p.add_argument("--alignments", action="store_true",
                   help="add a column of word alignments from the attention, Pharaoh format "
                        "('source-output' word indices: 0-0 1-2 ...)")
    p.add_argument("--scores", action="store_true",
                   help="add two columns: the sentence's confidence (mean log-probability per "
                        "token) and each output word's probability")
    p.add_argument("--beam-size", "-b", type=int, help="1 = greedy (default from conf/decode)")
    p.add_argument("--n-best", type=int, help="print N hypotheses per sentence: "
                   "'index<TAB>hypothesis<TAB>score' lines")
    p.add_argument("--length-penalty", type=float, help="alpha of ((5+len)/6)^alpha")
    p.add_argument("--batch-size", type=int, help="rows decoded together (sentences x beam)")
    p.add_argument("--max-len-ratio", type=float, help="longest output / source pieces")
    p.add_argument("--max-src-len", type=int, help="longer inputs are truncated (with a warning)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch's default)")
    p.add_argument("--quantize", choices=["none", "int8"], default="none",
                   help="int8: dynamic quantization of linear and RNN layers (CPU)")
    p.add_argument("--attention-plot", metavar="FILE.png",
                   help="heatmap of source x output pieces for a single sentence")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with reported_errors():
        tune_memory()  # see seq2seq/memory.py
        run(args)


if __name__ == "__main__":
    main()
