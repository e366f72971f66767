"""BLEU by source-sentence length for several checkpoints (one plot), and the worst sentences.

    python scripts/analyze.py checkpoints=[runs/a/checkpoints/best.pt,runs/b/checkpoints/best.pt] \
        labels=[attention,no-attention] [test_set=multi30k.test_2016_flickr] [decode=beam5]
"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seq2seq.analyze import analyze
from seq2seq.errors import check_overrides, reported_errors
from seq2seq.memory import tune_memory


@hydra.main(version_base="1.3", config_path="../conf", config_name="analyze")
def main(cfg: DictConfig) -> None:
    with reported_errors():
        analyze(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    with reported_errors():
        tune_memory()  # before the first large allocation; see seq2seq/memory.py
    sys.stdout.reconfigure(line_buffering=True)
    check_overrides("analyze", sys.argv[1:])
    main()
