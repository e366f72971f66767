"""Attention heatmaps: source pieces (columns) × output pieces (rows)."""

from __future__ import annotations

from pathlib import Path

import torch


def plot_attention(weights: torch.Tensor, src_pieces: list[str], out_pieces: list[str],
                   path: Path) -> None:
    """weights (len(out_pieces), len(src_pieces)) float → a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = weights.float().numpy()
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(src_pieces), 1 + 0.4 * len(out_pieces)))
    ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_pieces)), src_pieces, rotation=60, ha="right")
    ax.set_yticks(range(len(out_pieces)), out_pieces)
    ax.set_xlabel("source pieces")
    ax.set_ylabel("output pieces")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
