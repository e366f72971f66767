"""`train(cfg, run_dir)`: the training loop, validation, early stopping and checkpoints.

Checkpoints go to `<run_dir>/checkpoints/{best,last}.pt` and a line per validation to
`<run_dir>/metrics.jsonl`. A run stopped by Ctrl-C (or by its step, epoch or time limit) continues
exactly with `train.resume=<run_dir>/checkpoints/last.pt`.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import signal
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .data import PairDataset, TokenBatchSampler
from .errors import Seq2SeqError
from .metrics import bleu
from .model import Seq2Seq, build_model
from .optim import Schedule, build_optimizer
from .prepare import prepare
from .translator import Translator


class _StopFlag:
    """Ctrl-C sets a flag that the loop checks between steps; a second Ctrl-C stops at once."""

    def __init__(self):
        self.set = False

    def __enter__(self):
        self._previous = signal.getsignal(signal.SIGINT)
        with contextlib.suppress(ValueError):  # not in the main thread: leave SIGINT alone
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc):
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, self._previous)


_POSITIVE_INTS = ("batch_tokens", "max_len", "valid_every", "threads", "max_epochs",
                  "max_bad_steps")
_NON_NEGATIVE_INTS = ("max_steps", "patience", "warmup_steps", "seed")
_NON_NEGATIVE_NUMBERS = ("lr", "min_lr", "weight_decay", "clip_grad_norm", "max_minutes",
                         "label_smoothing", "plateau_factor")


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
    if not cfg.label_smoothing < 1 or not 0 < cfg.plateau_factor <= 1:
        raise Seq2SeqError("train.label_smoothing must be < 1 and train.plateau_factor in (0, 1]")
    if cfg.bf16 not in (True, False, "auto"):
        raise Seq2SeqError(f"train.bf16={cfg.bf16}: must be true, false or auto")
    if cfg.device not in ("cpu", "cuda"):
        raise Seq2SeqError(f"train.device={cfg.device}: choose cpu or cuda")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise Seq2SeqError("train.device=cuda but no CUDA device is available; use cpu")


def native_bf16(device: str) -> bool:
    """Whether bfloat16 matmuls run natively (and so faster than float32) on `device`."""
    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(cfg: DictConfig) -> bool:
    """`train.bf16`: true, false, or auto (on where the hardware has native bf16)."""
    return native_bf16(cfg.device) if cfg.bf16 == "auto" else bool(cfg.bf16)


def train_step(model: Seq2Seq, optimizer: torch.optim.Optimizer, batch, cfg: DictConfig,
               bf16: bool) -> tuple[float, bool]:
    """One update on `batch` (`cfg` is `train`): (loss, whether the update was applied).

    A non-finite loss or gradient norm skips the update, leaving the parameters as they were.
    """
    with torch.autocast(cfg.device, torch.bfloat16, enabled=bf16):
        loss = model.loss(batch, cfg.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        return loss_value, False
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm or float("inf"))
    if not torch.isfinite(norm):
        return loss_value, False
    optimizer.step()
    return loss_value, True


@torch.no_grad()
def validate(model: Seq2Seq, data: PairDataset, batches: list[list[int]], translator: Translator,
             src_text: list[str], refs: list[str], cfg: DictConfig, bf16: bool) -> dict:
    """Validation loss per token and greedy (or configured) BLEU on the validation split."""
    model.eval()
    total, tokens = 0.0, 0
    for idx in batches:
        batch = data.collate(idx).to(cfg.device)
        with torch.autocast(cfg.device, torch.bfloat16, enabled=bf16):
            loss = model.loss(batch)
        total += float(loss) * batch.n_tokens
        tokens += batch.n_tokens
    hyps = translator.translate_text(src_text)
    model.train()
    return {"valid_loss": total / max(tokens, 1), "valid_bleu": bleu(hyps, refs)}


def train(cfg: DictConfig, run_dir: Path, log=print) -> dict:
    """Train the model of `cfg` (the whole train.yaml config); returns the final summary."""
    tcfg = cfg.train
    _check_train_config(tcfg)
    torch.set_num_threads(tcfg.threads)
    prep = prepare(cfg.data, threads=tcfg.threads, log=log)
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
    model = build_model(cfg.model, vocab.src_size, vocab.tgt_size).to(tcfg.device)
    optimizer = build_optimizer(model.parameters(), tcfg)
    schedule = Schedule(optimizer, tcfg)
    n_params = sum(p.numel() for p in model.parameters())
    bf16 = use_bf16(tcfg)
    train_data = PairDataset(prep.train["src"], prep.train["tgt"], tcfg.max_len)
    log(f"model {cfg.model.name}: {n_params:,} parameters; vocabulary {vocab.src_size}/"
        f"{vocab.tgt_size}; {len(train_data)} training pairs; "
        f"{'bf16 autocast' if bf16 else 'fp32'}, {tcfg.threads} threads")

    sampler = TokenBatchSampler(train_data.sizes(), tcfg.batch_tokens, tcfg.seed)
    valid_data = PairDataset(prep.valid["src"], prep.valid["tgt"], tcfg.max_len)
    valid_batches = TokenBatchSampler(valid_data.sizes(), tcfg.batch_tokens, 0,
                                      shuffle=False).batches(0)
    translator = Translator(model, vocab, cfg.decode, cfg.data.normalize, tcfg.device)

    st = {"step": 0, "epoch": 0, "batch": 0, "best_bleu": float("-inf"), "best_step": 0,
          "bad_validations": 0, "elapsed": 0.0, "train_loss_sum": 0.0, "train_tokens": 0}
    if resume is not None:
        model.load_state_dict(resume["model"])
        ts = resume["train_state"]
        optimizer.load_state_dict(ts["optimizer"])
        schedule.load_state_dict(ts["schedule"])
        st.update(ts["loop"])
        torch.set_rng_state(ts["torch_rng"])
        random.setstate(ts["python_rng"])
        log(f"resumed from {tcfg.resume} at step {st['step']} (epoch {st['epoch'] + 1})")

    ckpt_dir = Path(run_dir) / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    config = OmegaConf.to_container(cfg, resolve=True)

    def save(name: str, metrics: dict) -> Path:
        state = {"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                 "loop": dict(st), "torch_rng": torch.get_rng_state(),
                 "python_rng": random.getstate()}
        path = ckpt_dir / name
        save_checkpoint({"model": model.state_dict(), "config": config, "vocab": vocab.to_dict(),
                         "train_state": state, "metrics": metrics}, path)
        return path

    per_epoch = len(sampler.batches(0))
    total = tcfg.max_epochs * per_epoch
    if tcfg.max_steps:
        total = min(total, tcfg.max_steps)
    metrics_file = Path(run_dir) / "metrics.jsonl"
    stop_reason, last = None, {}
    window_tokens, window_start = 0, time.perf_counter()
    bad_steps = 0
    model.train()
    bar = tqdm(total=total, initial=st["step"], desc="train", unit="step", dynamic_ncols=True,
               disable=None)

    def run_validation(final: bool) -> dict:
        nonlocal window_tokens, window_start
        speed = window_tokens / max(time.perf_counter() - window_start, 1e-9)
        v = validate(model, valid_data, valid_batches, translator, prep.valid["src_text"],
                     prep.valid["tgt_text"], tcfg, bf16)
        row = {"step": st["step"], "epoch": st["epoch"] + st["batch"] / per_epoch,
               "elapsed_s": round(st["elapsed"], 1),
               "train_loss": st["train_loss_sum"] / max(st["train_tokens"], 1),
               **v, "lr": optimizer.param_groups[0]["lr"], "tokens_per_s": round(speed, 1)}
        st["train_loss_sum"], st["train_tokens"] = 0.0, 0
        improved = v["valid_bleu"] > st["best_bleu"]
        if improved:
            st["best_bleu"], st["best_step"], st["bad_validations"] = v["valid_bleu"], st["step"], 0
        elif not final:
            st["bad_validations"] += 1
        if not final:
            schedule.validated(v["valid_bleu"])
        with metrics_file.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if improved:
            save("best.pt", row)
        save("last.pt", row)
        bar.write(f"step {st['step']}: valid loss {v['valid_loss']:.3f}, BLEU "
                  f"{v['valid_bleu']:.2f} (best {st['best_bleu']:.2f} at {st['best_step']}), "
                  f"{speed:.0f} tok/s")
        window_tokens, window_start = 0, time.perf_counter()
        return row

    run_start, base_elapsed = time.perf_counter(), st["elapsed"]
    with _StopFlag() as stop:
        while stop_reason is None:
            if st["epoch"] >= tcfg.max_epochs:
                stop_reason = f"reached max_epochs={tcfg.max_epochs}"
                break
            batches = sampler.batches(st["epoch"])
            while st["batch"] < len(batches):
                batch = train_data.collate(batches[st["batch"]]).to(tcfg.device)
                lr = schedule.set(st["step"])
                loss_value, ok = train_step(model, optimizer, batch, tcfg, bf16)
                if ok:
                    bad_steps = 0
                    st["train_loss_sum"] += loss_value * batch.n_tokens
                    st["train_tokens"] += batch.n_tokens
                else:
                    bad_steps += 1
                    bar.write(f"step {st['step'] + 1}: non-finite loss or gradient, update "
                              f"skipped ({bad_steps} in a row)")
                    if bad_steps >= tcfg.max_bad_steps:
                        raise Seq2SeqError(
                            f"training diverged: {bad_steps} non-finite losses in a row at step "
                            f"{st['step'] + 1}; lower train.lr or resume from "
                            f"{ckpt_dir / 'last.pt'}")
                st["step"] += 1
                st["batch"] += 1
                st["elapsed"] = base_elapsed + time.perf_counter() - run_start
                window_tokens += batch.n_tokens
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}", lr=f"{lr:.2g}", refresh=False,
                                tok_s=f"{window_tokens / (time.perf_counter() - window_start):.0f}")
                if st["step"] % tcfg.valid_every == 0:
                    last = run_validation(final=False)
                    if tcfg.patience and st["bad_validations"] >= tcfg.patience:
                        stop_reason = f"no better validation BLEU for {tcfg.patience} validations"
                if tcfg.max_steps and st["step"] >= tcfg.max_steps:
                    stop_reason = stop_reason or f"reached max_steps={tcfg.max_steps}"
                if tcfg.max_minutes and st["elapsed"] >= 60 * tcfg.max_minutes:
                    stop_reason = stop_reason or f"reached max_minutes={tcfg.max_minutes}"
                if stop.set:
                    stop_reason = "interrupted"
                if stop_reason:
                    break
            if st["batch"] >= len(batches):
                st["epoch"], st["batch"] = st["epoch"] + 1, 0
        bar.close()
        if stop_reason == "interrupted":
            save("last.pt", last)
        elif not last or last["step"] != st["step"]:
            last = run_validation(final=True)
    resume_line = f"python scripts/train.py train.resume={ckpt_dir / 'last.pt'}"
    log(f"stopped: {stop_reason} at step {st['step']}; best validation BLEU "
        f"{st['best_bleu']:.2f} at step {st['best_step']}; checkpoints in {ckpt_dir}")
    if stop_reason == "interrupted":
        log(f"to continue: {resume_line}")
    return {"stop_reason": stop_reason, "step": st["step"], "best_bleu": st["best_bleu"],
            "best_step": st["best_step"], "parameters": n_params, "last": last,
            "train_seconds": st["elapsed"], "checkpoint_dir": str(ckpt_dir),
            "interrupted": stop_reason == "interrupted"}
