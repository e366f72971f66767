"""Measure training and decoding speed against the machine's own matmul peak.

    python scripts/benchmark.py --quick                         # about a minute (CI smoke)
    python scripts/benchmark.py --checkpoint outputs/main/checkpoints/best.pt \
        --train-run outputs/main                                # full: a few minutes

Writes benchmark.json and benchmark.md (in --out) and prints the table. Config overrides
(Hydra syntax, for conf/train.yaml) go after --, e.g. `-- model=lstm_attention train.threads=1`.
"""

import argparse
import json
from pathlib import Path

from hydra import compose, initialize_config_dir

from seq2seq.benchmark import ROOT, markdown, run_benchmark
from seq2seq.errors import reported_errors
from seq2seq.memory import tune_memory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--quick", action="store_true", help="short windows, 100 test sentences")
    p.add_argument("--checkpoint", help="a trained model for decoding speed, BLEU and streaming")
    p.add_argument("--train-run", help="a training run dir: its BLEU-against-time curve")
    p.add_argument("--stream-lines", default="10000,100000",
                   help="comma-separated line counts to stream through translate.py")
    p.add_argument("--out", default="outputs/benchmark", help="folder for the JSON and table")
    p.add_argument("overrides", nargs="*", help="Hydra overrides for conf/train.yaml")
    args = p.parse_args()
    with reported_errors():
        tune_memory()  # see seq2seq/memory.py
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=args.overrides)
        lines = [int(x) for x in args.stream_lines.split(",") if x] if not args.quick else [1000]
        report = run_benchmark(cfg, args.quick, args.checkpoint, lines, args.train_run)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "benchmark.json").write_text(json.dumps(report, indent=2) + "\n")
        table = markdown(report)
        (out / "benchmark.md").write_text(table + "\n")
        print(table)
        print(f"\nwritten: {out / 'benchmark.json'}, {out / 'benchmark.md'}")


if __name__ == "__main__":
    main()
