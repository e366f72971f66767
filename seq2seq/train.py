"""`train(cfg, run_dir)`: the training loop, validation, early stopping and checkpoints.

Checkpoints go to `<run_dir>/checkpoints/{best,last}.pt`, a line per validation to
`<run_dir>/metrics.jsonl` and the curves to `<run_dir>/curves.png`. A run stopped by Ctrl-C (or
by its step, epoch or time limit) continues exactly with
`train.resume=<run_dir>/checkpoints/last.pt`. Under torchrun every rank runs this same loop on
its share of each step's batches (see `distributed.py`); rank 0 validates and writes the files.

The parts, in the order they run: `setup` (data, model, optimizer, resume, precision),
`train_step` (one update), `run_validation` (validate, decide, save), and `train`, the loop.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .data import Batch, Batches, PairDataset, TokenBatchSampler
from .distributed import Dist, init_distributed
from .ema import ema_model, ema_state, load_ema
from .errors import Seq2SeqError
from .memory import tune_memory
from .metrics import bleu
from .model import Seq2Seq, build_model
from .optim import Schedule, build_optimizer
from .plot import plot_curves
from .precision import autocast, calibrate, check_precision, default_cache_file
from .prepare import Prepared, prepare, train_groups
from .translator import Translator


class _StopFlag:
    """Ctrl-C (SIGINT) or SIGTERM sets a flag that the loop checks between steps; a second
    Ctrl-C stops at once. torchrun passes SIGTERM to its workers when it is interrupted."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.set = False

    def __enter__(self):
        self._previous = {s: signal.getsignal(s) for s in self.SIGNALS}
        with contextlib.suppress(ValueError):  # not in the main thread: leave signals alone
            for s in self.SIGNALS:
                signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc):
        with contextlib.suppress(ValueError):
            for s, handler in self._previous.items():
                signal.signal(s, handler)


_POSITIVE_INTS = ("batch_tokens", "max_len", "valid_every", "threads", "max_epochs",
                  "max_bad_steps", "accumulate", "log_every")
_NON_NEGATIVE_INTS = ("max_steps", "patience", "warmup_steps", "seed", "keep_checkpoints")
_NON_NEGATIVE_NUMBERS = ("lr", "min_lr", "weight_decay", "clip_grad_norm", "max_minutes",
                         "label_smoothing", "plateau_factor", "ema_decay")


def worker_config(overrides: list[str]) -> DictConfig:
    """conf/train.yaml with the command line's overrides, as Hydra composes it, for the ranks
    that do not go through `hydra.main` (they write no files, so need no run dir)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def _check_train_config(cfg: DictConfig) -> None:
    """One clear line for a `train` setting of the wrong type or out of range."""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    for key in _POSITIVE_INTS:
        if not is_int(cfg[key]) or cfg[key] <= 0:
            raise Seq2SeqError(f"train.{key}={cfg[key]}: must be a positive integer")
    for key in _NON_NEGATIVE_INTS:
        if not is_int(cfg[key]) or cfg[key] < 0:
            raise Seq2SeqError(f"train.{key}={cfg[key]}: must be an integer >= 0")
    for key in _NON_NEGATIVE_NUMBERS:
        if isinstance(cfg[key], bool) or not isinstance(cfg[key], (int, float)) or cfg[key] < 0:
            raise Seq2SeqError(f"train.{key}={cfg[key]}: must be a number >= 0")
    if not cfg.ema_decay < 1:
        raise Seq2SeqError(f"train.ema_decay={cfg.ema_decay}: must be in [0, 1) (0 = off)")
    if not cfg.label_smoothing < 1 or not 0 < cfg.plateau_factor <= 1:
        raise Seq2SeqError("train.label_smoothing must be < 1 and train.plateau_factor in (0, 1]")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise Seq2SeqError(f"train.device={cfg.device}: choose auto, cpu or cuda")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise Seq2SeqError("train.device=cuda but no CUDA device is available; use cpu or auto")


def resolve_device(device: str) -> str:
    """`auto`: CUDA when a GPU is present, else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class TrainingLoss(torch.nn.Module):
    """The model's training loss as `forward`, so that DistributedDataParallel (which hooks
    `forward`) can wrap it."""

    def __init__(self, model: Seq2Seq, label_smoothing: float):
        super().__init__()
        self.model, self.label_smoothing = model, label_smoothing

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.model.loss(batch, self.label_smoothing)


def train_step(loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: list[Batch],
               cfg: DictConfig, precision: str, scaler=None) -> tuple[torch.Tensor, torch.Tensor]:
    """One update from the micro-batches `batches` (gradients accumulated; `cfg` is `train`).

    Returns (sum of loss × target tokens, 1.0 if the update was skipped else 0.0), both as
    0-dim tensors on the device, so that a GPU is never waited for here. A non-finite gradient
    norm skips the update on the device itself (the fused optimizer's `found_inf`), leaving
    parameters and optimizer state as they were.
    """
    optimizer.zero_grad(set_to_none=True)
    device = batches[0].tgt_out.device.type
    loss_sum = torch.zeros((), device=batches[0].tgt_out.device)
    ddp_sync = getattr(loss_fn, "no_sync", None)
    for i, batch in enumerate(batches):
        last = i == len(batches) - 1
        sync = contextlib.nullcontext() if last or ddp_sync is None else ddp_sync()
        with sync:
            with autocast(device, precision):
                loss = loss_fn(batch)
            loss_sum += loss.detach().float() * batch.n_tokens
            scaled = loss / len(batches)
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
    if scaler is not None:
        scaler.unscale_(optimizer)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    norm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad_norm or float("inf"))
    skipped = (~torch.isfinite(norm) | ~torch.isfinite(loss_sum)).float()
    if scaler is not None:  # fp16: the scaler skips steps with inf/NaN gradients itself
        scaler.step(optimizer)
        scaler.update()
        return loss_sum, torch.zeros_like(skipped)
    optimizer.found_inf = skipped  # read by the fused optimizer: no update where 1
    optimizer.step()
    optimizer.found_inf = None
    return loss_sum, skipped


@torch.no_grad()
def validate(model: Seq2Seq, data: PairDataset, batches: list[list[int]], translator: Translator,
             src_text: list[str], refs: list[str], device: str, precision: str,
             splits: list[tuple[str, int]] = ()) -> dict:
    """Validation loss per token and greedy (or configured) BLEU on the validation splits
    together; with several `splits` ((name, pairs), in order), the BLEU of each too."""
    model.eval()
    total, tokens = 0.0, 0
    for idx in batches:
        batch = data.collate(idx).to(device)
        with autocast(device, precision):
            loss = model.loss(batch)
        total += float(loss) * batch.n_tokens
        tokens += batch.n_tokens
    hyps = translator.translate_text(src_text)
    model.train()
    row = {"valid_loss": total / max(tokens, 1), "valid_bleu": bleu(hyps, refs)}
    if len(splits) > 1:
        start, row["valid_bleu_sets"] = 0, {}
        for name, n in splits:
            row["valid_bleu_sets"][name] = bleu(hyps[start:start + n], refs[start:start + n])
            start += n
    return row


def new_loop_state() -> dict:
    """Where training stands; saved in every checkpoint. `batch` counts the batches of the
    current epoch already used, by all ranks together."""
    return {"step": 0, "epoch": 0, "batch": 0, "best_bleu": float("-inf"), "best_step": 0,
            "bad_validations": 0, "elapsed": 0.0, "train_loss_sum": 0.0, "train_tokens": 0,
            "kept": []}


@dataclass
class Run:
    """Everything `setup` builds for one training run."""

    cfg: DictConfig
    tcfg: DictConfig
    dist: Dist
    device: str
    precision: str
    prep: Prepared
    model: Seq2Seq
    loss_fn: torch.nn.Module  # TrainingLoss, wrapped in DDP under torchrun
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    scaler: object | None
    train_data: PairDataset
    sampler: TokenBatchSampler
    valid_data: PairDataset
    valid_batches: Batches
    translator: Translator | None  # set in setup, over `decoded`
    ckpt_dir: Path
    metrics_file: Path
    log: object
    ema: torch.nn.Module | None = None  # AveragedModel when train.ema_decay > 0
    st: dict = field(default_factory=new_loop_state)
    rng_states: list | None = None  # every rank's RNG state, gathered on rank 0 before a save

    @property
    def decoded(self) -> Seq2Seq:
        """The weights that validation, checkpoints and decoding use: the EMA when on."""
        return self.ema.module if self.ema is not None else self.model

    @property
    def batches_per_step(self) -> int:
        return self.dist.world * self.tcfg.accumulate

    def steps_per_epoch(self) -> int:
        return len(self.sampler.batches(0)) // self.batches_per_step


def setup(cfg: DictConfig, run_dir: Path, log) -> Run:
    """Check the config, join the process group, prepare data, build or resume the model, and
    settle the precision."""
    tune_memory()
    tcfg = cfg.train
    _check_train_config(tcfg)
    device = resolve_device(tcfg.device)
    check_precision(tcfg.precision, device)
    dist = init_distributed(device, tcfg.dist_backend, tcfg.dist_timeout_minutes)
    if not dist.main:
        log = _quiet
    torch.set_num_threads(tcfg.threads)
    prep = prepare(cfg.data, threads=tcfg.threads, log=log)  # one rank builds, the rest wait
    vocab = prep.vocab
    resume = load_checkpoint(tcfg.resume) if tcfg.resume else None
    if resume is not None and resume["vocab"] != vocab.to_dict():
        raise Seq2SeqError(f"checkpoint {tcfg.resume} was trained with another vocabulary than "
                           f"data={cfg.data.name} gives; resume with the data config it used")
    if resume is not None and resume["config"]["model"] != OmegaConf.to_container(cfg.model):
        raise Seq2SeqError(f"checkpoint {tcfg.resume} has another model config; resume with "
                           f"model={resume['config']['model'].get('name')} and its settings")

    torch.manual_seed(tcfg.seed)
    random.seed(tcfg.seed)
    model = build_model(cfg.model, vocab.src_size, vocab.tgt_size).to(device)
    loss_fn: torch.nn.Module = TrainingLoss(model, tcfg.label_smoothing)
    if dist.active:
        loss_fn = torch.nn.parallel.DistributedDataParallel(
            loss_fn, device_ids=[dist.local_rank] if device == "cuda" else None)
    optimizer = build_optimizer(model.parameters(), tcfg)
    ema = ema_model(model, tcfg.ema_decay) if tcfg.ema_decay else None
    schedule = Schedule(optimizer, tcfg)
    train_data = PairDataset(prep.train["src"], prep.train["tgt"], tcfg.max_len)
    valid_data = PairDataset(prep.valid["src"], prep.valid["tgt"], tcfg.max_len)
    ckpt_dir = Path(run_dir) / "checkpoints"
    run = Run(cfg, tcfg, dist, device, "fp32", prep, model, loss_fn, optimizer, schedule, None,
              train_data, TokenBatchSampler(train_data.sizes(), tcfg.batch_tokens, tcfg.seed,
                                            groups=train_groups(cfg.data, prep)),
              valid_data, TokenBatchSampler(valid_data.sizes(), tcfg.batch_tokens, 0,
                                            shuffle=False).batches(0),
              None, ckpt_dir, Path(run_dir) / "metrics.jsonl", log, ema)
    run.translator = Translator(run.decoded, vocab, cfg.decode, cfg.data.normalize, device)
    if run.steps_per_epoch() == 0:
        raise Seq2SeqError(f"{len(train_data)} training pairs make fewer batches than one step "
                           f"takes ({run.batches_per_step}); lower train.batch_tokens or "
                           f"train.accumulate")
    if resume is not None:
        _restore(run, resume)
    run.precision = _settle_precision(run)
    if run.precision == "fp16":
        run.scaler = torch.amp.GradScaler("cuda")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model {cfg.model.name}: {n_params:,} parameters; vocabulary {vocab.src_size}/"
        f"{vocab.tgt_size}; {len(train_data)} training pairs; {run.precision}, {device}, "
        f"{tcfg.threads} threads")
    if dist.active:
        log(f"{dist.world} ranks ({dist.backend}, {device}); each step: {run.batches_per_step} "
            f"batches of {tcfg.batch_tokens} tokens")
    if dist.main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    return run


def _quiet(*_):
    pass


def _restore(run: Run, resume: dict) -> None:
    ts = resume["train_state"]
    # with an EMA, "model" holds the averaged weights and the training weights travel apart
    run.model.load_state_dict(ts["weights"] if "weights" in ts else resume["model"])
    if run.ema is not None and "ema" in ts:
        load_ema(run.ema, resume["model"], ts["ema"])
    run.optimizer.load_state_dict(ts["optimizer"])
    run.schedule.load_state_dict(ts["schedule"])
    run.st.update(ts["loop"])
    states = ts.get("rng_per_rank") or [ts["torch_rng"]]
    if run.dist.rank < len(states):
        torch.set_rng_state(states[run.dist.rank])
    else:  # more ranks than the run that wrote it: fresh, distinct streams for the new ones
        torch.manual_seed(run.tcfg.seed + 7919 * run.dist.rank + run.st["step"])
    random.setstate(ts["python_rng"])
    run.log(f"resumed from {run.tcfg.resume} at step {run.st['step']} "
            f"(epoch {run.st['epoch'] + 1})")


def _settle_precision(run: Run) -> str:
    """`train.precision`, with auto measured on rank 0 and the choice shared with every rank."""
    t = run.tcfg
    choice = t.precision
    if choice == "auto" and run.dist.main:
        batches = run.sampler.batches(run.st["epoch"])
        micro = [run.train_data.collate(b).to(run.device) for b in batches[:8]]

        def step(model, optimizer, batch, precision):
            train_step(TrainingLoss(model, t.label_smoothing), optimizer, [batch], t, precision)

        choice = calibrate(run.model, lambda p: build_optimizer(p, t), micro, step, t,
                           run.cfg.model, default_cache_file(run.cfg.data.cache_dir), run.log)
    return run.dist.broadcast(choice)


def save(run: Run, name: str, metrics: dict) -> Path:
    """Write `<ckpt_dir>/<name>` (rank 0 only): weights, config, vocabulary, training state."""
    st = run.st
    state = {"optimizer": run.optimizer.state_dict(), "schedule": run.schedule.state_dict(),
             "loop": dict(st), "torch_rng": torch.get_rng_state(),
             "rng_per_rank": run.rng_states, "python_rng": random.getstate()}
    if run.ema is not None:
        state.update(weights=run.model.state_dict(), ema=ema_state(run.ema))
    path = run.ckpt_dir / name
    save_checkpoint({"model": run.decoded.state_dict(),
                     "config": OmegaConf.to_container(run.cfg, resolve=True),
                     "vocab": run.prep.vocab.to_dict(), "train_state": state,
                     "metrics": metrics}, path)
    return path


def run_validation(run: Run, window: dict, final: bool, bar) -> dict:
    """Validate (rank 0), append to metrics.jsonl, redraw the curves, keep best.pt / last.pt,
    and tell the plateau schedule and early stopping; every rank gets the same decisions."""
    st = run.st
    run.rng_states = run.dist.gather(torch.get_rng_state())
    loss_sum, loss_tokens = run.dist.sum([st["train_loss_sum"], st["train_tokens"]])
    row = None
    if run.dist.main:
        speed = window["tokens"] / max(time.perf_counter() - window["start"], 1e-9)
        v = validate(run.decoded, run.valid_data, run.valid_batches, run.translator,
                     run.prep.valid["src_text"], run.prep.valid["tgt_text"], run.device,
                     run.precision, [(n, run.prep.sizes[n]) for n in run.cfg.data.valid_splits])
        row = {"step": st["step"], "epoch": st["epoch"] + st["batch"] / len(
                   run.sampler.batches(st["epoch"])),
               "elapsed_s": round(st["elapsed"], 1),
               "train_loss": loss_sum / max(loss_tokens, 1),  # over every rank's batches
               **v, "lr": run.optimizer.param_groups[0]["lr"], "tokens_per_s": round(speed, 1)}
    row = run.dist.broadcast(row)
    st["train_loss_sum"], st["train_tokens"] = 0.0, 0
    improved = row["valid_bleu"] > st["best_bleu"]
    if improved:
        st["best_bleu"], st["best_step"], st["bad_validations"] = row["valid_bleu"], st["step"], 0
    elif not final:
        st["bad_validations"] += 1
    if not final:
        run.schedule.validated(row["valid_bleu"])
    if run.dist.main:
        with run.metrics_file.open("a") as f:
            f.write(json.dumps(row) + "\n")
        rows = [json.loads(x) for x in run.metrics_file.read_text().splitlines()]
        plot_curves(rows, run.metrics_file.parent / "curves.png")
        if improved:
            save(run, "best.pt", row)
        save(run, "last.pt", row)
        if run.tcfg.keep_checkpoints:
            _keep_step_checkpoint(run, row)
        bar.write(f"step {st['step']}: valid loss {row['valid_loss']:.3f}, BLEU "
                  f"{row['valid_bleu']:.2f}{_per_set(row)} (best {st['best_bleu']:.2f} at "
                  f"{st['best_step']}), {row['tokens_per_s']:.0f} tok/s")
    window["tokens"], window["start"] = 0, time.perf_counter()
    return row


def _per_set(row: dict) -> str:
    sets = row.get("valid_bleu_sets")
    return " [" + ", ".join(f"{k} {v:.2f}" for k, v in sets.items()) + "]" if sets else ""


def _keep_step_checkpoint(run: Run, row: dict) -> None:
    """Weights of this validation as `step-<step>.pt`, for averaging and ensembles; of those,
    only the last `keep_checkpoints` and the best `keep_checkpoints` stay on disk."""
    st, k = run.st, run.tcfg.keep_checkpoints
    save_checkpoint({"model": run.decoded.state_dict(),
                     "config": OmegaConf.to_container(run.cfg, resolve=True),
                     "vocab": run.prep.vocab.to_dict(), "train_state": None, "metrics": row},
                    run.ckpt_dir / step_checkpoint_name(st["step"]))
    kept = [s for s in st.get("kept", []) if s[0] != st["step"]] + [[st["step"],
                                                                     row["valid_bleu"]]]
    last = {s for s, _ in kept[-k:]}
    best = {s for s, _ in sorted(kept, key=lambda x: -x[1])[:k]}
    for step, _ in kept:
        if step not in last | best:
            (run.ckpt_dir / step_checkpoint_name(step)).unlink(missing_ok=True)
    st["kept"] = [s for s in kept if s[0] in last | best]


def step_checkpoint_name(step: int) -> str:
    return f"step-{step:07d}.pt"


class _BadSteps:
    """Counts skipped (non-finite) updates in a row, reading the device flags in arrears."""

    def __init__(self, run: Run, bar):
        self.run, self.bar, self.in_a_row = run, bar, 0
        self.pending: list[tuple[int, torch.Tensor]] = []

    def add(self, step: int, skipped: torch.Tensor) -> None:
        self.pending.append((step, skipped))

    def check(self) -> None:
        flags = torch.stack([s for _, s in self.pending]).tolist() if self.pending else []
        for (step, _), bad in zip(self.pending, flags):
            if not bad:
                self.in_a_row = 0
                continue
            self.in_a_row += 1
            self.bar.write(f"step {step}: non-finite loss or gradient, update skipped "
                           f"({self.in_a_row} in a row)")
            if self.in_a_row >= self.run.tcfg.max_bad_steps:
                raise Seq2SeqError(
                    f"training diverged: {self.in_a_row} non-finite losses in a row at step "
                    f"{step}; lower train.lr or resume from {self.run.ckpt_dir / 'last.pt'}")
        self.pending = []


@dataclass
class _Clock:
    """What only a rank's own clock and signals know, pooled over every rank (the largest of
    each) in one tiny collective, at check steps only."""

    signalled: bool = False  # Ctrl-C / SIGTERM reached some rank
    out_of_time: bool = False  # some rank's clock has passed max_minutes
    time_progress: float = 0.0  # share of the time budget used, by the furthest clock


def _pooled_clock(run: Run, signalled: bool) -> _Clock:
    t, elapsed = run.tcfg, run.st["elapsed"]
    done = elapsed / (60 * t.max_minutes) if t.max_minutes else 0.0
    out_of_time = bool(t.max_minutes) and elapsed >= 60 * t.max_minutes
    pooled = run.dist.max([int(signalled), int(out_of_time), round(done * 1e6)])
    return _Clock(bool(pooled[0]), bool(pooled[1]), pooled[2] / 1e6)


def _progress(run: Run, time_progress: float) -> float:
    """Share of the training budget used: steps (exact on every rank) or minutes, whichever is
    further."""
    t = run.tcfg
    return max(run.st["step"] / t.max_steps if t.max_steps else 0.0, time_progress)


def _stop_reason(run: Run, clock: _Clock, check_now: bool) -> str | None:
    """Why to stop after this step, if at all — the same answer on every rank. Steps and
    validations are alike on all ranks; a signal or the clock are per rank, so they come pooled
    (`clock`) and count at `check_now` steps only."""
    t, st = run.tcfg, run.st
    if t.patience and st["bad_validations"] >= t.patience:
        return f"no better validation BLEU for {t.patience} validations"
    if t.max_steps and st["step"] >= t.max_steps:
        return f"reached max_steps={t.max_steps}"
    if not check_now:
        return None
    if clock.signalled:
        return "interrupted"
    return f"reached max_minutes={t.max_minutes}" if clock.out_of_time else None


def train(cfg: DictConfig, run_dir: Path, log=print) -> dict:
    """Train the model of `cfg` (the whole train.yaml config); returns the final summary, whose
    "best_bleu" is the best validation BLEU (what a Hydra sweeper maximises)."""
    run = setup(cfg, run_dir, log)
    t, st, dist = run.tcfg, run.st, run.dist
    per_epoch = run.steps_per_epoch()
    total = min(t.max_epochs * per_epoch, t.max_steps or math.inf)
    bar = tqdm(total=total, initial=st["step"], desc="train", unit="step", dynamic_ncols=True,
               disable=None if dist.main else True)
    check_every = t.log_every if run.device == "cuda" or dist.active else 1  # each waits for all
    bad, window = _BadSteps(run, bar), {"tokens": 0, "start": time.perf_counter()}
    pending_loss, last, stop_reason, clock = [], {}, None, _pooled_clock(run, False)
    run_start, base_elapsed = time.perf_counter(), st["elapsed"]
    run.loss_fn.train()
    with _StopFlag() as stop:
        while stop_reason is None and st["epoch"] < t.max_epochs:
            batches = run.sampler.batches(st["epoch"])
            while st["batch"] + run.batches_per_step <= len(batches):
                step_batches = dist.share(batches[st["batch"]: st["batch"] + run.batches_per_step],
                                          t.accumulate)
                micro = [run.train_data.collate(b).to(run.device, non_blocking=True)
                         for b in step_batches]
                lr = run.schedule.set(st["step"], _progress(run, clock.time_progress))
                loss_sum, skipped = train_step(run.loss_fn, run.optimizer, micro, t,
                                               run.precision, run.scaler)
                if run.ema is not None:
                    run.ema.update_parameters(run.model)
                st["step"] += 1
                st["batch"] += run.batches_per_step
                tokens = sum(b.n_tokens for b in micro)
                window["tokens"] += tokens * dist.world
                bad.add(st["step"], skipped)
                pending_loss.append((loss_sum, skipped, tokens))
                if st["step"] % check_every == 0:
                    bad.check()
                    _account(st, pending_loss, bar, lr, window)
                    pending_loss = []
                st["elapsed"] = base_elapsed + time.perf_counter() - run_start
                bar.update(1)
                if st["step"] % t.valid_every == 0:
                    bad.check()
                    _account(st, pending_loss, bar, lr, window)
                    pending_loss = []
                    last = run_validation(run, window, False, bar)
                check_now = not dist.active or st["step"] % check_every == 0
                if check_now:
                    clock = _pooled_clock(run, stop.set)
                stop_reason = _stop_reason(run, clock, check_now)
                if stop_reason:
                    break
            if st["batch"] + run.batches_per_step > len(batches):
                st["epoch"], st["batch"] = st["epoch"] + 1, 0
        stop_reason = stop_reason or f"reached max_epochs={t.max_epochs}"
        bad.check()
        _account(st, pending_loss, bar, run.optimizer.param_groups[0]["lr"], window)
        bar.close()
        if stop_reason == "interrupted":
            run.rng_states = dist.gather(torch.get_rng_state())
            if dist.main:
                save(run, "last.pt", last)
        elif not last or last["step"] != st["step"]:
            last = run_validation(run, window, True, bar)
    dist.barrier()
    dist.close()
    resume_line = f"python scripts/train.py train.resume={run.ckpt_dir / 'last.pt'}"
    run.log(f"stopped: {stop_reason} at step {st['step']}; best validation BLEU "
            f"{st['best_bleu']:.2f} at step {st['best_step']}; checkpoints in {run.ckpt_dir}")
    if stop_reason == "interrupted":
        run.log(f"to continue: {resume_line}")
    return {"stop_reason": stop_reason, "step": st["step"], "best_bleu": st["best_bleu"],
            "best_step": st["best_step"],
            "parameters": sum(p.numel() for p in run.model.parameters()), "last": last,
            "train_seconds": st["elapsed"], "checkpoint_dir": str(run.ckpt_dir),
            "precision": run.precision, "interrupted": stop_reason == "interrupted"}


def _account(st: dict, pending: list, bar, lr: float, window: dict) -> None:
    """Add the pending steps' losses to the running sums and refresh the progress bar (one
    device read for the lot)."""
    if not pending:
        return
    values = torch.stack([torch.stack([loss, skipped]) for loss, skipped, _ in pending]).tolist()
    for (loss_sum, skipped), (_, _, tokens) in zip(values, pending):
        if not skipped:
            st["train_loss_sum"] += loss_sum
            st["train_tokens"] += tokens
    loss_sum, _ = values[-1]
    tokens = pending[-1][2]
    rate = window["tokens"] / max(time.perf_counter() - window["start"], 1e-9)
    bar.set_postfix(loss=f"{loss_sum / max(tokens, 1):.3f}", lr=f"{lr:.2g}", refresh=False,
                    tok_s=f"{rate:.0f}")
