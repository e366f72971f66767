"""Translate French to English with a trained checkpoint.

    python scripts/translate.py --checkpoint CKPT "Je suis étudiant." "J'ai faim, merci !"
    python scripts/translate.py --checkpoint CKPT < input.fr > output.en
    python scripts/translate.py --checkpoint CKPT --input input.fr --output output.en --beam-size 5
    python scripts/translate.py --checkpoint CKPT          # interactive prompt on a terminal
    python scripts/translate.py -c A.pt -c B.pt "..."      # an ensemble (--average: mean weights)
    python scripts/translate.py --onnx export/ < input.fr  # ONNX export on onnxruntime

Sentences never pass through Hydra: any text (quotes, '=', brackets, any Unicode) is safe.
Decoding defaults come from conf/decode/greedy.yaml.
"""

import argparse

from seq2seq.errors import reported_errors
from seq2seq.memory import tune_memory
from seq2seq.translate import run


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sentences", nargs="*", help="French sentences (else --input, stdin or prompt)")
    p.add_argument("--checkpoint", "-c", action="append",
                   help="a best.pt or last.pt; repeat it for an ensemble of several models")
    p.add_argument("--average", action="store_true",
                   help="with several --checkpoint of one run: average their weights into one "
                        "model instead of an ensemble")
    p.add_argument("--onnx", metavar="DIR", help="translate with an export of scripts/export.py "
                   "on onnxruntime, without PyTorch (instead of --checkpoint)")
    p.add_argument("--input", "-i", help="file with one French sentence per line")
    p.add_argument("--output", "-o", help="write translations here instead of stdout")
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
    return p.parse_args()


if __name__ == "__main__":
    args = parse_args()
    with reported_errors():
        tune_memory()  # see seq2seq/memory.py
        run(args)
