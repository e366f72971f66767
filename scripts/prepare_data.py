"""Fetch, normalise, filter and split the corpora, fit SentencePiece, and cache the encoded data.

    python scripts/prepare_data.py data=multi30k|tatoeba|mixed [data.spm.vocab_size=16000] ...
"""

import sys

import hydra
from omegaconf import DictConfig

from seq2seq.errors import check_overrides, reported_errors
from seq2seq.memory import tune_memory
from seq2seq.prepare import prepare


@hydra.main(version_base="1.3", config_path="../conf", config_name="prepare_data")
def main(cfg: DictConfig) -> None:
    with reported_errors():
        prep = prepare(cfg.data, threads=cfg.threads, force=cfg.force)
        print(f"{'reused cached' if prep.reused else 'prepared'} {cfg.data.name}: {prep.path}")
        for name, size in prep.sizes.items():
            print(f"  {name:28s} {size:7d} pairs")
        vocab = prep.vocab
        kind = "joint" if vocab.joint else f"French {vocab.src_size}, English"
        print(f"  vocabulary ({kind}): {vocab.tgt.get_piece_size()} pieces"
              + (f", {vocab.tgt_size} of them in the output layer"
                 if vocab.target_ids is not None else ""))


if __name__ == "__main__":
    with reported_errors():
        tune_memory()  # before the first large allocation; see seq2seq/memory.py
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear at once in logs too
    check_overrides("prepare_data", sys.argv[1:])
    main()
