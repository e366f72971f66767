"""Where a training run stands (`LoopState`, saved in every checkpoint) and everything `setup`
builds for it (`Run`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ..data.batching import Batches, PairDataset, TokenBatchSampler
from ..data.noise import SourceNoise
from ..data.prepare import Prepared
from ..decoding.translator import Translator
from ..model.encoder_decoder import Seq2Seq
from .distributed import Dist
from .optim import Schedule


@dataclass
class LoopState:
    """The loop's counters. `batch` counts the batches of the current epoch already used, by all
    ranks together; `kept` lists the [step, BLEU] of the step checkpoints on disk."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    best_bleu: float = float("-inf")
    best_step: int = 0
    bad_validations: int = 0
    elapsed: float = 0.0  # training seconds, over every resume
    train_loss_sum: float = 0.0  # since the last validation (skipped steps left out)
    train_tokens: int = 0
    kept: list = field(default_factory=list)
    start: dict | None = None  # fine-tuning: the validation row of the starting checkpoint

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LoopState:
        return cls(**d)


@dataclass(kw_only=True)
class Run:
    """Everything `setup` builds for one training run."""

    cfg: DictConfig
    dist: Dist
    device: str
    prep: Prepared
    model: Seq2Seq
    loss_fn: torch.nn.Module  # TrainingLoss, wrapped in DDP under torchrun
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    train_data: PairDataset
    sampler: TokenBatchSampler
    valid_data: PairDataset
    valid_batches: Batches
    ckpt_dir: Path
    metrics_file: Path
    log: object
    precision: str = "fp32"  # settled by measurement at the end of setup
    scaler: object | None = None  # fp16 on CUDA
    ema: torch.nn.Module | None = None  # AveragedModel when train.ema_decay > 0
    anchor: object | None = None  # fine-tuning with train.anchor > 0 (anchor.Anchor)
    translator: Translator | None = None  # over `decoded`, for validation BLEU
    st: LoopState = field(default_factory=LoopState)
    rng_states: list | None = None  # every rank's RNG state, gathered on rank 0 before a save
    noise: SourceNoise | None = None  # train.source_noise, when on

    def batch_noise(self, epoch: int, batch: int):
        """The source noise of the step that starts at `batch` of `epoch` (None: off), drawn
        from a generator seeded by (seed, epoch, batch, rank): resume needs no noise state."""
        if self.noise is None:
            return None
        rng = np.random.default_rng([self.tcfg.seed, epoch, batch, self.dist.rank])
        return lambda sentences: self.noise(sentences, rng)

    @property
    def tcfg(self) -> DictConfig:
        return self.cfg.train

    @property
    def decoded(self) -> Seq2Seq:
        """The weights that validation, checkpoints and decoding use: the EMA when on."""
        return self.ema.module if self.ema is not None else self.model

    @property
    def batches_per_step(self) -> int:
        return self.dist.world * self.tcfg.accumulate

    def steps_per_epoch(self) -> int:
        return len(self.sampler.batches(0)) // self.batches_per_step
