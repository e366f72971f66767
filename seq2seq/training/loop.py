"""`train(cfg, run_dir)`: the training loop, validation, early stopping and checkpoints.

Checkpoints go to `<run_dir>/checkpoints/{best,last}.pt`, a line per validation to
`<run_dir>/metrics.jsonl` and the curves to `<run_dir>/curves.png`; the log goes through Python's
`logging` (under the commands, to the console and `<run_dir>/train.log`). A run stopped by Ctrl-C
(or by its step, epoch or time limit) continues exactly with
`train.resume=<run_dir>/checkpoints/last.pt`. Under torchrun every rank runs this same loop on
its share of each step's batches (see `distributed.py`); rank 0 validates and writes the files.

The parts, in the order they run: `setup` (data, model, optimizer, resume, precision),
`train_step` (one update), `run_validation` (validate, decide, save), and `train`, the loop.
Where the run stands lives in `state.py`, when it stops in `stopping.py`, its files in
`checkpoints.py`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..checkpoint import load_checkpoint
from ..config import check_config
from ..data.batching import Batch, PairDataset, TokenBatchSampler
from ..data.noise import SourceNoise
from ..data.prepare import prepare, train_groups
from ..data.vocab import Vocab
from ..decoding.translator import Translator
from ..errors import Seq2SeqError
from ..evaluation.metrics import bleu
from ..memory import tune_memory
from ..model.encoder_decoder import Seq2Seq, build_model
from ..plot import plot_curves
from .anchor import Anchor
from .checkpoints import keep_step_checkpoint, restore, save
from .distributed import init_distributed
from .ema import ema_model
from .finetune import adopt_checkpoint, load_initial_weights
from .freeze import freeze
from .optim import Schedule, build_optimizer
from .precision import (
    autocast,
    backward_precision,
    calibrate,
    check_precision,
    default_cache_file,
)
from .state import Run
from .stopping import StopFlag, pooled_clock, progress, stop_reason

logger = logging.getLogger(__name__)


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
            with backward_precision(precision):
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
    hyps = translator.translate(src_text)
    model.train()
    row = {"valid_loss": total / max(tokens, 1), "valid_bleu": bleu(hyps, refs)}
    if len(splits) > 1:
        start, row["valid_bleu_sets"] = 0, {}
        for name, n in splits:
            row["valid_bleu_sets"][name] = bleu(hyps[start:start + n], refs[start:start + n])
            start += n
    return row


def setup(cfg: DictConfig, run_dir: Path, log, overrides=()) -> Run:
    """Check the config, join the process group, prepare data, build, fine-tune from or resume
    the model, and settle the precision. `overrides`: the command line's (fine-tuning refuses
    model settings that contradict its checkpoint)."""
    tune_memory()
    check_config(cfg, "train")
    init = adopt_checkpoint(cfg, overrides)  # train.init_from: its model and vocabulary
    tcfg = cfg.train
    device = resolve_device(tcfg.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise Seq2SeqError("train.device=cuda but no CUDA device is available; use cpu or auto")
    check_precision(tcfg.precision, device)
    dist = init_distributed(device, tcfg.dist_backend, tcfg.dist_timeout_minutes)
    if not dist.main:
        log = _quiet
    torch.set_num_threads(tcfg.threads)
    prep = prepare(cfg.data, threads=tcfg.threads, log=log,  # one rank builds, the rest wait
                   vocab=Vocab.from_dict(init["vocab"]) if init is not None else None)
    vocab = prep.vocab
    resume = load_checkpoint(tcfg.resume) if tcfg.resume else None
    if resume is not None and resume["vocab"] != vocab.to_dict():
        raise Seq2SeqError(f"checkpoint {tcfg.resume} was trained with another vocabulary than "
                           f"data={cfg.data.name} gives; resume with the data config it used")
    frozen = list(tcfg.freeze or [])
    was = list(resume["config"]["train"].get("freeze") or []) if resume is not None else frozen
    if was != frozen:
        raise Seq2SeqError(f"checkpoint {tcfg.resume} was trained with train.freeze={was}; "
                           f"resume with the same train.freeze")
    if resume is not None and resume["config"]["model"] != OmegaConf.to_container(cfg.model):
        raise Seq2SeqError(f"checkpoint {tcfg.resume} has another model config; resume with "
                           f"model={resume['config']['model'].get('name')} and its settings")

    torch.manual_seed(tcfg.seed)
    random.seed(tcfg.seed)
    model = build_model(cfg.model, vocab.src_size, vocab.tgt_size)
    if init is not None and resume is None:
        load_initial_weights(model, init, tcfg.init_from)
        step = (init.get("metrics") or {}).get("step", "?")
        log(f"fine-tuning from {tcfg.init_from} (step {step} of its run): its weights, model "
            f"settings and vocabulary; a fresh optimizer")
    n_frozen = freeze(model, frozen)  # train.freeze: these modules keep their weights
    model = model.to(device)
    loss_fn: torch.nn.Module = TrainingLoss(model, tcfg.label_smoothing)
    if dist.active:
        loss_fn = torch.nn.parallel.DistributedDataParallel(
            loss_fn, device_ids=[dist.local_rank] if device == "cuda" else None)
    optimizer = build_optimizer(model.parameters(), tcfg)
    sampled = prep.train.get("sampled")  # data.subword_sampling: sampled segmentations
    arrays = sampled or prep.train
    train_data = PairDataset(arrays["src"], arrays["tgt"], tcfg.max_len)
    valid_data = PairDataset(prep.valid["src"], prep.valid["tgt"], tcfg.max_len)
    run = Run(cfg=cfg, dist=dist, device=device, prep=prep, model=model, loss_fn=loss_fn,
              optimizer=optimizer, schedule=Schedule(optimizer, tcfg),
              ema=ema_model(model, tcfg.ema_decay) if tcfg.ema_decay else None,
              train_data=train_data,
              sampler=TokenBatchSampler(train_data.sizes(), tcfg.batch_tokens, tcfg.seed,
                                        groups=train_groups(cfg.data, prep),
                                        copies=sampled["copies"] if sampled else 1),
              valid_data=valid_data,
              valid_batches=TokenBatchSampler(valid_data.sizes(), tcfg.batch_tokens, 0,
                                              shuffle=False).batches(0),
              ckpt_dir=Path(run_dir) / "checkpoints",
              metrics_file=Path(run_dir) / "metrics.jsonl", log=log)
    if tcfg.anchor:  # from the checkpoint's weights, also when resuming
        run.anchor = Anchor(model, init["model"], tcfg.anchor)
    noise = tcfg.get("source_noise")
    if noise is not None and (noise.drop or noise.shuffle):
        run.noise = SourceNoise(vocab.src, noise.drop, noise.shuffle)
    run.translator = Translator(run.decoded, vocab, cfg.decode, cfg.data.normalize, device)
    if run.steps_per_epoch() == 0:
        raise Seq2SeqError(f"{run.sampler.pairs} training pairs make fewer batches than one step "
                           f"takes ({run.batches_per_step}); lower train.batch_tokens or "
                           f"train.accumulate")
    if resume is not None:
        restore(run, resume)
    run.precision = _settle_precision(run)
    if run.precision == "fp16":
        run.scaler = torch.amp.GradScaler("cuda")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model {cfg.model.name}: {n_params:,} parameters; vocabulary {vocab.src_size}/"
        f"{vocab.tgt_size}; {run.sampler.pairs} training pairs; {run.precision}, {device}, "
        f"{tcfg.threads} threads"
        + (f"; {sampled['copies']} sampled segmentations of each pair" if sampled else "")
        + (f"; frozen: {', '.join(frozen)} ({n_frozen:,} parameters)" if frozen else "")
        + (f"; source noise: drop {run.noise.drop}, shuffle {run.noise.shuffle}"
           if run.noise is not None else ""))
    if dist.active:
        log(f"{dist.world} ranks ({dist.backend}, {device}); each step: {run.batches_per_step} "
            f"batches of {tcfg.batch_tokens} tokens")
    if dist.main:
        run.ckpt_dir.mkdir(parents=True, exist_ok=True)
    return run


def _quiet(*_):
    pass


def _settle_precision(run: Run) -> str:
    """`train.precision`, with auto measured on rank 0 and the choice shared with every rank."""
    t = run.tcfg
    choice = t.precision
    if choice == "auto" and run.dist.main:
        batches = run.sampler.batches(run.st.epoch)
        micro = [run.train_data.collate(b).to(run.device) for b in batches[:8]]

        def step(model, optimizer, batch, precision):
            train_step(TrainingLoss(model, t.label_smoothing), optimizer, [batch], t, precision)

        choice = calibrate(run.model, lambda p: build_optimizer(p, t), micro, step, t,
                           run.cfg.model, default_cache_file(run.cfg.data.cache_dir), run.log)
    return run.dist.broadcast(choice)


def run_validation(run: Run, window: dict, final: bool) -> dict:
    """Validate (rank 0), append to metrics.jsonl, redraw the curves, keep best.pt / last.pt,
    and tell the plateau schedule and early stopping; every rank gets the same decisions."""
    st = run.st
    run.rng_states = run.dist.gather(torch.get_rng_state())
    loss_sum, loss_tokens = run.dist.sum([st.train_loss_sum, st.train_tokens])
    row = None
    if run.dist.main:
        speed = window["tokens"] / max(time.perf_counter() - window["start"], 1e-9)
        splits = list(run.cfg.data.valid_splits)
        v = validate(run.decoded, run.valid_data, run.valid_batches, run.translator,
                     run.prep.valid["src_text"], run.prep.valid["tgt_text"], run.device,
                     run.precision, [(n, run.prep.sizes[n]) for n in splits])
        select = run.tcfg.select_on
        if select != "all" and len(splits) > 1:  # valid_bleu: the BLEU that picks best.pt
            v["valid_bleu_all"] = v["valid_bleu"]
            v["valid_bleu"] = v["valid_bleu_sets"][splits[0] if select == "first" else select]
        row = {"step": st.step, "epoch": st.epoch + st.batch / len(run.sampler.batches(st.epoch)),
               "elapsed_s": round(st.elapsed, 1),  # train loss: over every rank's batches
               "train_loss": loss_sum / loss_tokens if loss_tokens else None,
               **v, "lr": run.optimizer.param_groups[0]["lr"], "tokens_per_s": round(speed, 1)}
    row = run.dist.broadcast(row)
    st.train_loss_sum, st.train_tokens = 0.0, 0
    improved = row["valid_bleu"] > st.best_bleu
    if improved:
        st.best_bleu, st.best_step, st.bad_validations = row["valid_bleu"], st.step, 0
    elif not final:
        st.bad_validations += 1
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
            keep_step_checkpoint(run, row)
        run.log(f"step {st.step}: valid loss {row['valid_loss']:.3f}, BLEU "
                f"{row['valid_bleu']:.2f}{_per_set(row, st.start)} (best {st.best_bleu:.2f} at "
                f"{st.best_step})" + (f", {row['tokens_per_s']:.0f} tok/s" if st.step else ""))
    window["tokens"], window["start"] = 0, time.perf_counter()
    return row


def _per_set(row: dict, start: dict | None = None) -> str:
    """Each validation set's BLEU; when fine-tuning, with its change since the start."""
    sets = row.get("valid_bleu_sets") or {}
    before = (start or {}).get("valid_bleu_sets") or {}
    if start is not None and not sets:
        return f" ({row['valid_bleu'] - start['valid_bleu']:+.2f} since the start)"
    parts = [f"{k} {v:.2f}" + (f" ({v - before[k]:+.2f})" if k in before else "")
             for k, v in sets.items()]
    return " [" + ", ".join(parts) + "]" if parts else ""


class _Pending:
    """The steps whose device results (loss, skipped flag) are not read yet: read in one go at
    check steps (`flush`), so that a GPU is not waited for after every step. Counts skipped
    (non-finite) updates in a row and adds the losses to the loop's running sums."""

    def __init__(self, run: Run, bar):
        self.run, self.bar, self.in_a_row = run, bar, 0
        self.steps: list[tuple[int, torch.Tensor, torch.Tensor, int]] = []

    def add(self, step: int, loss_sum: torch.Tensor, skipped: torch.Tensor, tokens: int) -> None:
        self.steps.append((step, loss_sum, skipped, tokens))

    def flush(self, lr: float, window: dict) -> None:
        if not self.steps:
            return
        values = torch.stack([torch.stack([loss, skipped])
                              for _, loss, skipped, _ in self.steps]).tolist()
        st = self.run.st
        for (step, _, _, tokens), (loss_sum, skipped) in zip(self.steps, values):
            if not skipped:
                self.in_a_row = 0
                st.train_loss_sum += loss_sum
                st.train_tokens += tokens
                continue
            self.in_a_row += 1
            self.run.log(f"step {step}: non-finite loss or gradient, update skipped "
                         f"({self.in_a_row} in a row)")
            if self.in_a_row >= self.run.tcfg.max_bad_steps:
                raise Seq2SeqError(
                    f"training diverged: {self.in_a_row} non-finite losses in a row at step "
                    f"{step}; lower train.lr or resume from {self.run.ckpt_dir / 'last.pt'}")
        loss_sum, tokens = values[-1][0], self.steps[-1][3]
        rate = window["tokens"] / max(time.perf_counter() - window["start"], 1e-9)
        self.bar.set_postfix(loss=f"{loss_sum / max(tokens, 1):.3f}", lr=f"{lr:.2g}",
                             refresh=False, tok_s=f"{rate:.0f}")
        self.steps = []


def train(cfg: DictConfig, run_dir: Path, log=None, overrides=()) -> dict:
    """Train the model of `cfg` (the whole train.yaml config); returns the final summary, whose
    "best_bleu" is the best validation BLEU (what a Hydra sweeper maximises). `log` takes each
    line of the run's log (default: the `seq2seq.training.loop` logger); `overrides` are the
    command line's, which fine-tuning checks against its checkpoint's model."""
    with logging_redirect_tqdm():  # log lines above the progress bar, not through it
        return _train(cfg, run_dir, log or logger.info, overrides)


def _train(cfg: DictConfig, run_dir: Path, log, overrides) -> dict:
    run = setup(cfg, run_dir, log, overrides)
    t, st, dist = run.tcfg, run.st, run.dist
    if t.init_from and st.step == 0:  # fine-tuning: where the checkpoint starts, on every set
        st.start = run_validation(run, {"tokens": 0, "start": time.perf_counter()}, True)
    per_epoch = run.steps_per_epoch()
    total = min(t.max_epochs * per_epoch, t.max_steps or math.inf)
    bar = tqdm(total=total, initial=st.step, desc="train", unit="step", dynamic_ncols=True,
               disable=None if dist.main else True)
    check_every = t.log_every if run.device == "cuda" or dist.active else 1  # each waits for all
    pending, window = _Pending(run, bar), {"tokens": 0, "start": time.perf_counter()}
    last, reason, clock = {}, None, pooled_clock(run, False)
    run_start, base_elapsed = time.perf_counter(), st.elapsed
    run.loss_fn.train()
    with StopFlag() as stop:
        while reason is None and st.epoch < t.max_epochs:
            batches = run.sampler.batches(st.epoch)
            while st.batch + run.batches_per_step <= len(batches):
                step_batches = dist.share(batches[st.batch: st.batch + run.batches_per_step],
                                          t.accumulate)
                noise = run.batch_noise(st.epoch, st.batch)
                micro = [run.train_data.collate(b, noise).to(run.device, non_blocking=True)
                         for b in step_batches]
                lr = run.schedule.set(st.step, progress(run, clock.time_progress))
                loss_sum, skipped = train_step(run.loss_fn, run.optimizer, micro, t,
                                               run.precision, run.scaler)
                if run.anchor is not None:
                    run.anchor.pull(lr)
                if run.ema is not None:
                    run.ema.update_parameters(run.model)
                st.step += 1
                st.batch += run.batches_per_step
                tokens = sum(b.n_tokens for b in micro)
                window["tokens"] += tokens * dist.world
                pending.add(st.step, loss_sum, skipped, tokens)
                if st.step % check_every == 0:
                    pending.flush(lr, window)
                st.elapsed = base_elapsed + time.perf_counter() - run_start
                bar.update(1)
                if st.step % t.valid_every == 0:
                    pending.flush(lr, window)
                    last = run_validation(run, window, False)
                check_now = not dist.active or st.step % check_every == 0
                if check_now:
                    clock = pooled_clock(run, stop.set)
                reason = stop_reason(run, clock, check_now)
                if reason:
                    break
            if st.batch + run.batches_per_step > len(batches):
                st.epoch, st.batch = st.epoch + 1, 0
        reason = reason or f"reached max_epochs={t.max_epochs}"
        pending.flush(run.optimizer.param_groups[0]["lr"], window)
        bar.close()
        if reason == "interrupted":
            run.rng_states = dist.gather(torch.get_rng_state())
            if dist.main:
                save(run, "last.pt", last)
        elif not last or last["step"] != st.step:
            last = run_validation(run, window, True)
    dist.barrier()
    dist.close()
    run.log(f"stopped: {reason} at step {st.step}; best validation BLEU "
            f"{st.best_bleu:.2f} at step {st.best_step}; checkpoints in {run.ckpt_dir}")
    if reason == "interrupted":
        run.log(f"to continue: seq2seq-train train.resume={run.ckpt_dir / 'last.pt'}")
    return {"stop_reason": reason, "step": st.step, "best_bleu": st.best_bleu,
            "best_step": st.best_step,
            "parameters": sum(p.numel() for p in run.model.parameters()), "last": last,
            "train_seconds": st.elapsed, "checkpoint_dir": str(run.ckpt_dir),
            "precision": run.precision, "interrupted": reason == "interrupted"}
