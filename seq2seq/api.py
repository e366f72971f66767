"""The library's entry points for programs and notebooks: the same work as the commands, with a
config given as Hydra overrides or as a composed config.

    import seq2seq
    cfg = seq2seq.load_config("train", ["data=multi30k", "train=quick"])
    summary = seq2seq.train(cfg, run_dir="outputs/notebook")
    tr = seq2seq.Translator.from_checkpoint(summary["checkpoint_dir"] + "/best.pt")
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from .config import check_config, compose_config

Config = DictConfig | list[str] | None


def load_config(name: str = "train", overrides: list[str] = ()) -> DictConfig:
    """`conf/<name>.yaml` (train, prepare_data, evaluate, distill, analyze) composed with Hydra
    overrides and checked, as the command `seq2seq-<name>` would run it."""
    cfg = compose_config(name, list(overrides))
    check_config(cfg, name)
    return cfg


def _config(name: str, cfg: Config) -> DictConfig:
    return cfg if isinstance(cfg, DictConfig) else load_config(name, cfg or [])


def _log_to_console() -> None:
    """Log lines reach the console in a program that set up no logging of its own."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")


def prepare(cfg: Config = None, threads: int = 2, force: bool = False):
    """Prepare (or reuse from the cache) the data of a train or prepare_data config; returns the
    `Prepared` data: vocabulary, encoded splits and their sizes."""
    from .data.prepare import prepare as _prepare

    _log_to_console()
    cfg = _config("prepare_data", cfg)
    return _prepare(cfg.data, threads=threads, force=force)


def train(cfg: Config = None, run_dir: str | Path = "outputs/train") -> dict:
    """Train as `seq2seq-train` does, into `run_dir` (checkpoints/, metrics.jsonl, curves.png);
    returns the summary: best validation BLEU, steps, checkpoint folder, ..."""
    from .training.loop import train as _train

    _log_to_console()
    overrides = [] if isinstance(cfg, DictConfig) else list(cfg or [])
    return _train(_config("train", cfg), Path(run_dir), overrides=overrides)


def evaluate(cfg: Config, run_dir: str | Path = "outputs/evaluate") -> dict:
    """Score a checkpoint as `seq2seq-evaluate` does (give `checkpoint=...` among the
    overrides); returns the results: BLEU, chrF and TER per test set, with signatures."""
    from .evaluation.evaluate import evaluate as _evaluate

    _log_to_console()
    return _evaluate(_config("evaluate", cfg), Path(run_dir))


def distill(cfg: Config) -> dict:
    """Translate a training corpus with a teacher as `seq2seq-distill` does (give
    `teacher=...` among the overrides); returns the number of pairs written and the speed."""
    from .distillation.corpus import distill as _distill

    _log_to_console()
    return _distill(_config("distill", cfg))
