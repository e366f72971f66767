"""seq2seq-benchmark: training, decoding, serving and export speed on this machine.

    seq2seq-benchmark --quick                         # about two minutes (CI smoke)
    seq2seq-benchmark --checkpoint outputs/main/checkpoints/best.pt \
        --train-run outputs/main                                # full: about half an hour
    seq2seq-benchmark --only train,decode --device cuda -- train.batch_tokens=25000

Writes benchmark.json and benchmark.md (in --out) and prints the table. Config overrides
(Hydra syntax, for conf/train.yaml; data=multi30k unless given) go after --.
"""

import argparse
import json
from pathlib import Path

from ..bench.report import markdown
from ..bench.run import SECTIONS, run_benchmark
from ..config import compose_config
from ..errors import Seq2SeqError, reported_errors
from ..memory import tune_memory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short windows, 100 test sentences")
    p.add_argument("--checkpoint", help="a trained model for decoding, commands, ONNX, serving")
    p.add_argument("--student", help="a distilled student's checkpoint: decoded (greedy, int8, "
                   "ONNX) beside --checkpoint, its teacher")
    p.add_argument("--train-run", help="a training run dir: its BLEU-against-time curve")
    p.add_argument("--stream-lines", default="10000,100000",
                   help="comma-separated line counts to stream through seq2seq-translate")
    p.add_argument("--prepare-pairs", default="1000000,5000000",
                   help="comma-separated sizes of the synthetic corpora to prepare")
    p.add_argument("--serve-soak", type=int, default=None, metavar="N",
                   help="requests of the serve section's memory run (default 100,000; 500 with "
                        "--quick; 0 leaves it out)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--only", help=f"comma-separated sections of {', '.join(SECTIONS)}")
    p.add_argument("--out", default="outputs/benchmark", help="folder for the JSON and table")
    p.add_argument("overrides", nargs="*", help="Hydra overrides for conf/train.yaml")
    args = p.parse_args()
    with reported_errors():
        tune_memory()  # see seq2seq/memory.py
        sections = args.only.split(",") if args.only else list(SECTIONS)
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            raise Seq2SeqError(f"--only {args.only}: unknown {sorted(unknown)}; choose from "
                               f"{', '.join(SECTIONS)}")
        # the benchmark setting is Multi30k unless a data= override says otherwise
        data = [] if any(o.startswith("data=") for o in args.overrides) else ["data=multi30k"]
        cfg = compose_config("train", data + args.overrides)
        lines = [int(x) for x in args.stream_lines.split(",") if x] if not args.quick else [1000]
        sizes = [20000] if args.quick else [int(x) for x in args.prepare_pairs.split(",") if x]
        report = run_benchmark(cfg, args.quick, args.checkpoint, lines, args.train_run,
                               args.device, sections, data + args.overrides, sizes,
                               soak_requests=args.serve_soak, student=args.student)
        for key in [k for k in report if k.startswith("_")]:
            report.pop(key)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "benchmark.json").write_text(json.dumps(report, indent=2) + "\n")
        table = markdown(report)
        (out / "benchmark.md").write_text(table + "\n")
        print(table)
        print(f"\nwritten: {out / 'benchmark.json'}, {out / 'benchmark.md'}")


if __name__ == "__main__":
    main()
