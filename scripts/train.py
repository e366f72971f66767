"""Train a translation model. Outputs go to the Hydra run dir (checkpoints/, metrics.jsonl).

    python scripts/train.py [model=gru_attention] [train=quick] [data=multi30k] [train.lr=...]
    python scripts/train.py train.resume=outputs/train/<run>/checkpoints/last.pt
"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.errors import check_overrides, reported_errors
from seq2seq.memory import tune_memory
from seq2seq.train import train


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    with reported_errors():
        summary = train(cfg, Path(HydraConfig.get().runtime.output_dir))
    if summary["interrupted"]:
        sys.exit(130)
    return summary["best_bleu"]  # what a Hydra sweeper (e.g. Optuna) maximises


if __name__ == "__main__":
    with reported_errors():
        tune_memory()  # before the first large allocation; see seq2seq/memory.py
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear at once in logs too
    check_overrides("train", sys.argv[1:])
    main()
