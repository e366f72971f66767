"""Score a checkpoint on test sets: BLEU, chrF and TER with sacreBLEU signatures.

    python scripts/evaluate.py checkpoint=outputs/train/<run>/checkpoints/best.pt [decode=beam5]
    python scripts/evaluate.py checkpoint=... data=tatoeba
    python scripts/evaluate.py checkpoint=... src=news.fr ref=news.en
"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.errors import check_overrides, reported_errors
from seq2seq.evaluate import evaluate
from seq2seq.memory import tune_memory


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with reported_errors():
        evaluate(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    with reported_errors():
        tune_memory()  # before the first large allocation; see seq2seq/memory.py
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear at once in logs too
    check_overrides("evaluate", sys.argv[1:])
    main()
