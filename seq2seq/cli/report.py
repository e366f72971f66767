"""seq2seq-report: the results table from seq2seq-evaluate run dirs.

Greedy and beam-5 runs of the same checkpoint become one row.

    seq2seq-report outputs/eval/default-greedy outputs/eval/default-beam5 \
        [--label outputs/main/checkpoints/best.pt=default] ...
"""

import argparse

from ..errors import reported_errors
from ..evaluation.report import load_results, results_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="run dirs (or results.json files) of seq2seq-evaluate")
    p.add_argument("--label", action="append", default=[], metavar="CHECKPOINT=NAME",
                   help="the row name for a checkpoint (default: its train recipe)")
    args = p.parse_args()
    with reported_errors():
        labels = dict(x.split("=", 1) for x in args.label)
        print(results_table(load_results(args.runs), labels))


if __name__ == "__main__":
    main()
