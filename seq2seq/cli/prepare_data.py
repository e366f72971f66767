"""seq2seq-prepare: fetch, normalise, filter and split the corpora, fit SentencePiece, and cache
the encoded data.

    seq2seq-prepare data=multi30k|tatoeba|mixed|files [data.spm.vocab_size=16000] ...
"""

import logging

import hydra
from omegaconf import DictConfig

from ..config import CONFIG_PATH, check_config
from ..data.prepare import prepare
from ..errors import reported_errors
from .common import start

logger = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="prepare_data")
def _main(cfg: DictConfig) -> None:
    with reported_errors():
        check_config(cfg, "prepare_data")
        prep = prepare(cfg.data, threads=cfg.threads, force=cfg.force)
        log = logger.info
        log(f"{'reused cached' if prep.reused else 'prepared'} {cfg.data.name}: {prep.path}")
        for name, size in prep.sizes.items():
            log(f"  {name:28s} {size:7d} pairs")
        vocab = prep.vocab
        kind = "joint" if vocab.joint else f"French {vocab.src_size}, English"
        log(f"  vocabulary ({kind}): {vocab.tgt.get_piece_size()} pieces"
            + (f", {vocab.tgt_size} of them in the output layer"
               if vocab.target_ids is not None else ""))


def main() -> None:
    start("prepare_data")
    _main()


if __name__ == "__main__":
    main()
