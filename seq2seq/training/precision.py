"""Training precision: fp32, bf16 autocast, fp16 autocast (CUDA), bf16 matrix products on fp32
tensors (`bf16_matmul`, CPUs with native bf16), and `auto`, which measures.

`bf16_matmul` keeps every tensor in fp32 and has oneDNN compute the matrix products in bf16
(`torch.backends.mkldnn.matmul.fp32_precision = "bf16"`: AMX or AVX512-BF16 do the arithmetic)
— the products of bf16 autocast without its casts of activations and states before and after
each operation, which autocast cannot avoid inside the GRU (not on its lists: every time step
casts). It is offered only where oneDNN reports native bf16; elsewhere the setting does nothing.

Whether bf16 autocast trains faster than fp32 depends on the processor, the model and the batch
shapes, not on CPU flags alone: on some CPUs with native bf16 it is slower once the rest of the
step is fast. `auto` therefore times a few real training steps in each precision on a copy of
the model (interleaved, medians) and keeps bf16 only when it is faster by `margin`. The answer is
cached per machine, torch version, model and batch settings, so a second run does not measure
again. Calibration leaves the model, the optimizer and the random number generators untouched.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..machine import cpu_isa, cpu_model

logger = logging.getLogger(__name__)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
HOPELESS_WARMUP, HOPELESS = 0.125, 0.5  # measure: rate shares that drop a precision early


def autocast(device: str, precision: str) -> AbstractContextManager:
    """The context of a forward pass in `precision` on `device` ("cpu"/"cuda"): autocast for
    bf16 and fp16, bf16 matrix products for bf16_matmul, nothing for fp32."""
    if precision == "bf16_matmul":
        return _bf16_matmul()
    return torch.autocast(device, DTYPES.get(precision, torch.bfloat16),
                          enabled=precision in DTYPES)


def backward_precision(precision: str) -> AbstractContextManager:
    """The context of a backward pass: autocast's backward follows the dtypes its forward
    recorded, but bf16_matmul's products are a setting, which must hold while the gradients'
    products run too."""
    return _bf16_matmul() if precision == "bf16_matmul" else contextlib.nullcontext()


def bf16_matmul_supported() -> bool:
    """Whether oneDNN computes bf16 matrix products natively on this CPU (AMX, AVX512-BF16).
    oneDNN's own bf16 check also accepts plain AVX-512 (emulated bf16), where the bf16 setting
    for fp32 products is ignored, so on x86 the instructions are asked for by name."""
    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return False
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return True


@contextlib.contextmanager
def _bf16_matmul():
    flags = torch.backends.mkldnn.matmul
    before = flags.fp32_precision
    flags.fp32_precision = "bf16"
    try:
        yield
    finally:
        flags.fp32_precision = before


def check_precision(precision: str, device: str) -> None:
    from ..errors import Seq2SeqError

    if precision == "fp16" and device != "cuda":
        raise Seq2SeqError("train.precision=fp16 needs a CUDA device; on the CPU use bf16 or fp32")
    if precision == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise Seq2SeqError("this GPU has no bf16 support; use train.precision=fp16 or fp32")
    if precision == "bf16_matmul" and device == "cuda":
        raise Seq2SeqError("train.precision=bf16_matmul is for the CPU (oneDNN); on a GPU use "
                           "bf16, fp16 or fp32")
    if precision == "bf16_matmul" and not bf16_matmul_supported():
        raise Seq2SeqError("train.precision=bf16_matmul needs a CPU with native bf16 (AMX or "
                           "AVX512-BF16), which this one lacks; use fp32 or auto")


def candidates(device: str) -> list[str]:
    """The precisions `auto` chooses between on `device`."""
    if device == "cuda":
        return ["fp32", "bf16" if torch.cuda.is_bf16_supported() else "fp16"]
    return ["fp32", "bf16"] + (["bf16_matmul"] if bf16_matmul_supported() else [])


def choose(rates: dict[str, float], margin: float) -> str:
    """fp32 unless another precision is faster by more than `margin` (0.05 = 5 %)."""
    best = max(rates, key=rates.get)
    return best if best != "fp32" and rates[best] > rates["fp32"] * (1 + margin) else "fp32"


def machine_key(device: str, threads: int) -> str:
    """What the answer depends on besides the model: processor (name, generation and the
    instruction sets it has), device, threads, torch."""
    gpu = torch.cuda.get_device_name() if device == "cuda" else ""
    return (f"{cpu_model()} [{' '.join(cpu_isa())}] | {gpu} | {threads} threads | "
            f"torch {torch.__version__}")


def measure(step: Callable[[str], int], precisions: list[str], rounds: int, steps: int,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median target tokens/s of `step(precision)` (which returns its tokens) per precision,
    after one warm-up round; precisions alternate so that machine noise hits them alike.

    A precision far behind stops being measured (its figure is its last rate): under
    `HOPELESS_WARMUP` of the fastest rate in the warm-up round (which compiles kernels, so only
    a wide gap counts), or under `HOPELESS` in the first timed round; behind that far already
    after one of its steps, it does not finish the round. On a CPU without native bf16 a bf16
    step takes tens of times as long, and more of them would only delay the start of training."""
    rates: dict[str, list[float]] = {p: [] for p in precisions}
    alive = list(precisions)
    for r in range(rounds + 1):
        share = (HOPELESS_WARMUP, HOPELESS)[r] if r < 2 else 0.0
        last: dict[str, float] = {}
        for p in alive:
            floor = share * max(last.values(), default=0.0)
            tokens, start = 0, clock()
            for _ in range(steps):
                tokens += step(p)
                rate = tokens / (clock() - start)
                if rate < floor:
                    break
            last[p] = rate
            if r:  # round 0 warms up kernels and caches
                rates[p].append(last[p])
        floor = share * max(last.values())
        for p in [p for p in alive if last[p] < floor]:
            alive.remove(p)
            rates[p] = rates[p] or [last[p]]
    return {p: statistics.median(v) for p, v in rates.items()}


def calibrate(model: torch.nn.Module, make_optimizer: Callable, batches: list,
              train_step: Callable, tcfg: DictConfig, model_cfg: DictConfig,
              cache_file: Path | None, log=None) -> str:
    """The precision for training (`tcfg` is the train config; `tcfg.precision` may be auto).

    `batches` are real training batches (already on the device); `train_step(model, optimizer,
    batch, precision)` does one update. Only copies of the model and optimizer are trained, and
    the RNG state is restored afterwards.
    """
    log = log or logger.info
    if tcfg.precision != "auto":
        return tcfg.precision
    options = candidates(tcfg.device)
    key_blob = json.dumps({"machine": machine_key(tcfg.device, tcfg.threads),
                           "model": OmegaConf.to_container(model_cfg, resolve=True),
                           "batch_tokens": tcfg.batch_tokens,
                           **({"options": options} if len(options) > 2 else {})},
                          sort_keys=True)
    key = hashlib.sha256(key_blob.encode()).hexdigest()[:16]
    cache = _read_cache(cache_file)
    if key in cache:
        found = cache[key]
        log(f"precision auto: {found['choice']} (measured before on this machine: "
            f"{_rates_text(found['rates'])}; delete {cache_file} to measure again)")
        return found["choice"]
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if tcfg.device == "cuda" else None
    trial = copy.deepcopy(model)
    optimizer = make_optimizer(trial.parameters())
    position = {"i": 0}

    def step(precision: str) -> int:
        batch = batches[position["i"] % len(batches)]
        position["i"] += 1
        train_step(trial, optimizer, batch, precision)
        return batch.n_tokens

    c = tcfg.calibration
    rates = measure(step, options, c.rounds, c.steps)
    torch.set_rng_state(rng)
    if cuda_rng is not None:
        torch.cuda.set_rng_state_all(cuda_rng)
    choice = choose(rates, c.margin)
    why = f"{choice} faster" if choice != "fp32" else \
        f"{' / '.join(options[1:])} not faster by more than {c.margin:.0%}"
    log(f"precision auto: {choice} ({_rates_text(rates)} on this machine; {why})")
    cache[key] = {"choice": choice, "rates": {p: round(r) for p, r in rates.items()},
                  "machine": machine_key(tcfg.device, tcfg.threads)}
    _write_cache(cache_file, cache)
    return choice


def _rates_text(rates: dict) -> str:
    return ", ".join(f"{p} {r:,.0f} tok/s" for p, r in rates.items())


def _read_cache(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path | None, cache: dict) -> None:
    if path is None:
        return
    from ..atomic import atomic_open

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path) as f:
            f.write(json.dumps(cache, indent=2).encode() + b"\n")
    except OSError:
        pass  # a read-only cache only means measuring again next time


def default_cache_file(cache_dir: str) -> Path:
    return Path(os.path.expanduser(cache_dir)) / "precision.json"
