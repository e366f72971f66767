"""seq2seq-distill: translate the training corpus with a teacher, for a student to train on.

    seq2seq-distill teacher=outputs/main/checkpoints/best.pt            # beam 5, data=mixed
    seq2seq-distill teacher=[a.pt,b.pt] select=chrf decode.n_best=5     # an ensemble, filtered
    seq2seq-train data=distilled model=gru_small                        # then the student
"""

import hydra
from omegaconf import DictConfig

from ..config import CONFIG_PATH
from ..distillation.corpus import distill
from ..errors import reported_errors
from .common import start


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="distill")
def _main(cfg: DictConfig) -> None:
    with reported_errors():
        distill(cfg)


def main() -> None:
    start("distill")
    _main()


if __name__ == "__main__":
    main()
