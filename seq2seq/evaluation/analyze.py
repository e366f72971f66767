"""`analyze(cfg, run_dir)`: how translation quality depends on sentence length, for several
checkpoints on one test set, and which sentences go worst — for error analysis.

Writes into the run dir:
- `length_bleu.png` and `length_bleu.json`: corpus BLEU per source-length bucket (words), one
  line per checkpoint. The classic picture: a decoder that sees only one fixed-size summary of
  the sentence (no attention) falls behind as sentences get longer.
- `worst.md`: the sentences with the lowest sentence-level chrF for the first checkpoint, with
  source, reference and output.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from sacrebleu.metrics import CHRF

from ..config import check_config
from ..data.prepare import load_splits
from ..decoding.translator import Translator
from ..errors import Seq2SeqError
from .metrics import bleu

logger = logging.getLogger(__name__)


def length_buckets(lengths: list[int], edges: list[int]) -> list[tuple[str, list[int]]]:
    """(label, sentence indices) for each bucket [edges[i], edges[i+1]) of source length."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        members = [i for i, n in enumerate(lengths) if lo <= n < hi]
        if members:
            out.append((f"{lo}-{hi - 1}" if hi < 1000 else f"{lo}+", members))
    return out


def worst_sentences(src: list[str], refs: list[str], hyps: list[str], n: int) -> list[dict]:
    """The `n` sentences of lowest sentence-level chrF, worst first."""
    metric = CHRF()
    scored = [(metric.sentence_score(h, [r]).score, i) for i, (h, r) in enumerate(zip(hyps, refs))]
    return [{"line": i + 1, "chrf": round(s, 1), "source": src[i], "reference": refs[i],
             "output": hyps[i]} for s, i in sorted(scored)[:n]]


def plot_length_bleu(labels: list[str], buckets: list[str], scores: list[list[float]],
                     counts: list[int], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, row in zip(labels, scores):
        ax.plot(range(len(buckets)), row, marker="o", label=label)
    ax.set_xticks(range(len(buckets)),
                  [f"{b}\n({c})" for b, c in zip(buckets, counts)])
    ax.set_xlabel("source length in words (sentences)")
    ax.set_ylabel("BLEU")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def analyze(cfg: DictConfig, run_dir: Path, log=None) -> dict:
    check_config(cfg, "analyze")
    log = log or logger.info
    torch.set_num_threads(cfg.threads)
    paths = [str(c) for c in cfg.checkpoints] if OmegaConf.is_list(cfg.checkpoints) \
        else [str(cfg.checkpoints)]
    labels = list(cfg.labels) if cfg.labels else [Path(p).parent.parent.name + "/" +
                                                  Path(p).name for p in paths]
    if len(labels) != len(paths):
        raise Seq2SeqError(f"{len(labels)} labels for {len(paths)} checkpoints; give one each")
    pairs = load_splits(cfg.data, [cfg.test_set])[cfg.test_set]
    src, refs = [f for f, _ in pairs], [e for _, e in pairs]
    buckets = length_buckets([len(f.split()) for f in src], list(cfg.buckets))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    report = {"test_set": cfg.test_set, "beam_size": cfg.decode.beam_size,
              "buckets": [b for b, _ in buckets], "sentences": [len(m) for _, m in buckets],
              "models": {}}
    first_hyps = None
    for label, path in zip(labels, paths):
        hyps = Translator.from_checkpoint(path, cfg.decode, cfg.device).translate(src)
        first_hyps = first_hyps or hyps
        report["models"][label] = {
            "checkpoint": path, "bleu": round(bleu(hyps, refs), 2),
            "bleu_by_length": [round(bleu([hyps[i] for i in m], [refs[i] for i in m]), 2)
                               for _, m in buckets]}
    (run_dir / "length_bleu.json").write_text(json.dumps(report, indent=2) + "\n")
    search = "greedy" if cfg.decode.beam_size == 1 else f"beam {cfg.decode.beam_size}"
    plot_length_bleu(labels, report["buckets"],
                     [m["bleu_by_length"] for m in report["models"].values()],
                     report["sentences"], run_dir / "length_bleu.png",
                     f"BLEU by source length, {cfg.test_set}, {search}")
    worst = worst_sentences(src, refs, first_hyps, cfg.worst)
    (run_dir / "worst.md").write_text(worst_table(worst, labels[0], cfg.test_set))
    log(length_table(report))
    log(f"\nlength_bleu.png, length_bleu.json and worst.md (the {cfg.worst} lowest-chrF "
        f"sentences of {labels[0]}) in {run_dir}")
    return report


def length_table(report: dict) -> str:
    head = " | ".join(f"{b} ({n})" for b, n in zip(report["buckets"], report["sentences"]))
    lines = [f"BLEU by source length in words ({report['test_set']}):", "",
             f"| model | all | {head} |", "|---|---:|" + "---:|" * len(report["buckets"])]
    for label, m in report["models"].items():
        cells = " | ".join(f"{x:.1f}" for x in m["bleu_by_length"])
        lines.append(f"| {label} | {m['bleu']:.1f} | {cells} |")
    return "\n".join(lines)


def worst_table(rows: list[dict], label: str, test_set: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"# Lowest sentence-level chrF: {label} on {test_set}", "",
             "| line | chrF | source | reference | output |", "|---:|---:|---|---|---|"]
    lines += [f"| {r['line']} | {r['chrf']:.1f} | {cell(r['source'])} | {cell(r['reference'])} "
              f"| {cell(r['output'])} |" for r in rows]
    return "\n".join(lines) + "\n"
