"""seq2seq-evaluate: score a checkpoint on test sets: BLEU, chrF and TER with sacreBLEU
signatures.

    seq2seq-evaluate checkpoint=outputs/main/checkpoints/best.pt [decode=beam5]
    seq2seq-evaluate checkpoint=... data=tatoeba
    seq2seq-evaluate checkpoint=... src=news.fr ref=news.en
"""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..config import CONFIG_PATH
from ..errors import reported_errors
from ..evaluation.evaluate import evaluate
from .common import start


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="evaluate")
def _main(cfg: DictConfig) -> None:
    with reported_errors():
        evaluate(cfg, Path(HydraConfig.get().runtime.output_dir))


def main() -> None:
    start("evaluate")
    _main()


if __name__ == "__main__":
    main()
