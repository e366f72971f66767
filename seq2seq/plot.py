"""Attention heatmaps: source pieces (columns) × output pieces (rows)."""

from __future__ import annotations

from pathlib import Path

import torch


def plot_attention(weights: torch.Tensor, src_pieces: list[str], out_pieces: list[str],
                   path: Path, links: list[tuple[int, int]] | None = None) -> None:
    """weights (len(out_pieces), len(src_pieces)) float → a PNG at `path`; `links` (output
    piece, source piece) cells are framed: the word alignments drawn on the heatmap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = weights.float().numpy()
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(src_pieces), 1 + 0.4 * len(out_pieces)))
    ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    for row, col in links or []:
        ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, lw=2,
                                   edgecolor="tab:orange"))
    ax.set_xticks(range(len(src_pieces)), src_pieces, rotation=60, ha="right")
    ax.set_yticks(range(len(out_pieces)), out_pieces)
    ax.set_xlabel("source pieces")
    ax.set_ylabel("output pieces")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(rows: list[dict], path: Path) -> None:
    """Training curves from metrics.jsonl rows: train and validation loss, and validation BLEU,
    against steps (bottom axis) and minutes (top axis) → a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, (ax_loss, ax_bleu) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(steps, [float("nan") if r["train_loss"] is None else r["train_loss"]
                         for r in rows], label="train", marker=".")
    ax_loss.plot(steps, [r["valid_loss"] for r in rows], label="validation", marker=".")
    ax_loss.set_ylabel("loss per target token")
    ax_loss.legend()
    ax_bleu.plot(steps, [r["valid_bleu"] for r in rows], color="tab:green", marker=".",
                 label="selection (train.select_on)" if "valid_bleu_all" in rows[-1]
                 else "all validation sets")
    for name in rows[-1].get("valid_bleu_sets", {}):  # one line per set when there are several
        per_set = [r.get("valid_bleu_sets", {}).get(name, float("nan")) for r in rows]
        ax_bleu.plot(steps, per_set, ls="--", marker=".", label=name)
    if "valid_bleu_sets" in rows[-1]:
        ax_bleu.legend()
    ax_bleu.set_ylabel("validation BLEU")
    for ax in (ax_loss, ax_bleu):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(rows) > 1 and rows[-1]["step"] > rows[0]["step"]:
            minutes = [r["elapsed_s"] / 60 for r in rows]
            top = ax.secondary_xaxis("top", functions=(
                lambda s, m=minutes: _interp(s, steps, m),
                lambda x, m=minutes: _interp(x, m, steps)))
            top.set_xlabel("minutes")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def _interp(x, xs: list[float], ys: list[float]):
    import numpy as np

    return np.interp(x, xs, ys)
