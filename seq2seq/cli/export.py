"""seq2seq-export: a checkpoint as ONNX (encoder + one decoder step), to decode without PyTorch.

    seq2seq-export --checkpoint outputs/main/checkpoints/best.pt --out export/
    seq2seq-translate --onnx export/ --beam-size 5 "Un homme fait du vélo."

Needs `pip install -e ".[onnx]"`. The folder holds encoder.onnx, decoder_step.onnx, the
SentencePiece models and settings.json.
"""

import argparse

from ..errors import Seq2SeqError, reported_errors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", "-c", required=True, help="a best.pt, last.pt or average")
    p.add_argument("--out", "-o", required=True, help="the export folder to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    args = p.parse_args()
    with reported_errors():
        try:
            import onnx  # noqa: F401  (the exporter needs it)

            from ..export.onnx_export import export_onnx
        except ImportError:
            raise Seq2SeqError('exporting needs its extra: pip install -e ".[onnx]"')
        out = export_onnx(args.checkpoint, args.out, args.opset)
        print(f"exported {args.checkpoint} to {out}/ (encoder.onnx, decoder_step.onnx, "
              f"source.model, target.model, settings.json)")


if __name__ == "__main__":
    main()
