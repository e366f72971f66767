"""seq2seq-analyze: BLEU by source-sentence length for several checkpoints (one plot), and the
worst sentences.

    seq2seq-analyze checkpoints=[runs/a/checkpoints/best.pt,runs/b/checkpoints/best.pt] \
        labels=[attention,no-attention] [test_set=multi30k.test_2016_flickr] [decode=beam5]
"""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..config import CONFIG_PATH
from ..errors import reported_errors
from ..evaluation.analyze import analyze
from .common import start


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="analyze")
def _main(cfg: DictConfig) -> None:
    with reported_errors():
        analyze(cfg, Path(HydraConfig.get().runtime.output_dir))


def main() -> None:
    start("analyze")
    _main()


if __name__ == "__main__":
    main()
