"""seq2seq-average: average the weights of several checkpoints of one run into one.

    seq2seq-average --run outputs/main --last 5 --out outputs/main/checkpoints/avg.pt
    seq2seq-average --run outputs/main --best 5 --out avg-best5.pt
    seq2seq-average a.pt b.pt c.pt --out avg.pt
    seq2seq-average ft/best.pt base/best.pt --weights 0.7 0.3 --out ft-0.7.pt

`--weights` interpolates instead (normalised to sum to 1): a fine-tuned model and the checkpoint
it started from keep more of what the start knew (docs/finetuning.md).

`--run` picks from the run's `checkpoints/step-*.pt` (kept by train.keep_checkpoints). The result
translates and evaluates like any checkpoint (it has no training state to resume from).
"""

import argparse
from pathlib import Path

from ..checkpoint import save_checkpoint
from ..decoding.ensemble import average_checkpoints, select_checkpoints
from ..errors import Seq2SeqError, reported_errors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="*", help="checkpoints to average (or use --run)")
    p.add_argument("--run", help="a training run dir whose step checkpoints to choose from")
    p.add_argument("--last", type=int, help="with --run: the N most recent validations")
    p.add_argument("--best", type=int, help="with --run: the N best validations by BLEU")
    p.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one weight per checkpoint (normalised to sum to 1); default: equal")
    p.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    args = p.parse_args()
    with reported_errors():
        if bool(args.run) == bool(args.checkpoints):
            raise Seq2SeqError("give checkpoints or --run DIR with --last N / --best N")
        paths = select_checkpoints(args.run, args.last, args.best) if args.run \
            else [Path(c) for c in args.checkpoints]
        avg = average_checkpoints(paths, args.weights)
        save_checkpoint(avg, Path(args.out))
        mix = "" if args.weights is None else \
            " with weights " + " / ".join(f"{w:.3g}" for w in avg["metrics"]["weights"])
        print(f"averaged {len(paths)} checkpoints ({', '.join(p.name for p in paths)}){mix} "
              f"into {args.out}")


if __name__ == "__main__":
    main()
