"""seq2seq-train: train a translation model. Outputs go to the Hydra run dir (checkpoints/,
metrics.jsonl, train.log).

    seq2seq-train [model=gru_attention] [train=quick] [data=multi30k] [train.lr=...]
    seq2seq-train train.resume=outputs/train/<run>/checkpoints/last.pt
    seq2seq-train train=finetune train.init_from=outputs/main/checkpoints/best.pt data=mine
    torchrun --nproc_per_node=2 -m seq2seq.cli.train ...   # DDP: several processes or GPUs
    seq2seq-train -m model.dropout=0.2,0.3                 # a sweep; hparams_search=optuna
"""

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..config import CONFIG_PATH, compose_config
from ..errors import reported_errors
from ..training.loop import train
from .common import start


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def _main(cfg: DictConfig) -> float:
    with reported_errors():
        summary = train(cfg, Path(HydraConfig.get().runtime.output_dir),
                        overrides=list(HydraConfig.get().overrides.task))
    if summary["interrupted"]:
        sys.exit(130)
    return summary["best_bleu"]  # what a Hydra sweeper (e.g. Optuna) maximises


def _worker() -> None:
    """Ranks other than 0 under torchrun: the same config, composed without Hydra's run dir
    (rank 0 alone writes files)."""
    with reported_errors():
        summary = train(compose_config("train", sys.argv[1:]), Path("."),
                        overrides=sys.argv[1:])
    if summary["interrupted"]:
        sys.exit(130)


def main() -> None:
    start("train")
    _worker() if os.environ.get("RANK", "0") != "0" else _main()


if __name__ == "__main__":
    main()
