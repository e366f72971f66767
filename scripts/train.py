"""Train a translation model. Outputs go to the Hydra run dir (checkpoints/, metrics.jsonl).

    python scripts/train.py [model=gru_attention] [train=quick] [data=multi30k] [train.lr=...]
    python scripts/train.py train.resume=outputs/train/<run>/checkpoints/last.pt
    torchrun --nproc_per_node=2 scripts/train.py ...       # DDP: several processes or GPUs
    python scripts/train.py -m model.dropout=0.2,0.3       # a sweep; hparams_search=optuna
"""

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.errors import check_overrides, reported_errors
from seq2seq.memory import tune_memory
from seq2seq.train import train, worker_config


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    with reported_errors():
        summary = train(cfg, Path(HydraConfig.get().runtime.output_dir))
    if summary["interrupted"]:
        sys.exit(130)
    return summary["best_bleu"]  # what a Hydra sweeper (e.g. Optuna) maximises


def worker() -> None:
    """Ranks other than 0 under torchrun: the same config, composed without Hydra's run dir
    (rank 0 alone writes files)."""
    with reported_errors():
        summary = train(worker_config(sys.argv[1:]), Path("."))
    if summary["interrupted"]:
        sys.exit(130)


if __name__ == "__main__":
    with reported_errors():
        tune_memory()  # before the first large allocation; see seq2seq/memory.py
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear at once in logs too
    check_overrides("train", sys.argv[1:])
    worker() if os.environ.get("RANK", "0") != "0" else main()
