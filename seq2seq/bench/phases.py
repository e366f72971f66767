"""The benchmark's phases. Each runs in a subprocess of its own (`python -m seq2seq.bench PHASE
ARGS THREADS`, see `__main__.py`), so that its peak RSS, page faults and CPU time are its own,
and returns one JSON-ready dict."""

from __future__ import annotations

import resource
import statistics
import time

import torch
from omegaconf import DictConfig, OmegaConf


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 10, device: str = "cpu",
                  max_s: float = 5.0) -> float:
    """Median GFLOP/s of an n×n matmul over up to `reps` runs, after warm-up. Where one product
    would take over a fifth of `max_s` (a dtype the CPU only emulates: bf16 without AVX-512
    runs at about 1 GFLOP/s), n halves first; the timed runs stop once `max_s` has passed."""
    def timed(a: torch.Tensor, b: torch.Tensor) -> float:
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        return time.perf_counter() - t

    probe_n = 256
    a = torch.randn(probe_n, probe_n, dtype=dtype, device=device)
    timed(a, a)
    probe = timed(a, a)
    while n > probe_n and probe * (n / probe_n) ** 3 > max_s / 5:
        n //= 2
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    times = []
    while len(times) < reps and (not times or sum(times) < max_s):
        times.append(timed(a, b))
    return 2 * n**3 / statistics.median(times) / 1e9


def _model_and_batches(cfg: DictConfig, device: str):
    from ..data.batching import PairDataset, TokenBatchSampler
    from ..data.prepare import prepare
    from ..model.encoder_decoder import build_model

    t = cfg.train
    prep = prepare(cfg.data, threads=t.threads, log=lambda *_: None)
    torch.manual_seed(t.seed)
    model = build_model(cfg.model, prep.vocab.src_size, prep.vocab.tgt_size).to(device).train()
    data = PairDataset(prep.train["src"], prep.train["tgt"], t.max_len)
    batches = TokenBatchSampler(data.sizes(), t.batch_tokens, t.seed).batches(0)
    return prep, model, data, batches


def train_throughput(cfg: DictConfig, precision: str, warmup: int, windows: int,
                     window_steps: int, device: str = "cpu", max_window_s: float = 0) -> dict:
    """Steady-state target tokens/s of real training steps on token-bucketed batches (median of
    windows), with the page faults and system CPU time of the timed windows. With
    `max_window_s`, the warm-up and each window also end once they have run that long (after
    one step at least), so that a precision the CPU only emulates does not take an hour."""
    from ..model.flops import train_flops_per_target_token
    from ..training.loop import TrainingLoss, train_step
    from ..training.optim import build_optimizer

    t = cfg.train
    prep, model, data, batches = _model_and_batches(cfg, device)
    loss_fn = TrainingLoss(model, t.label_smoothing)
    opt = build_optimizer(model.parameters(), t)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    rates, src_tok, tgt_tok, src_pad, rows, step = [], 0, 0, 0, 0, 0
    for w in range(-1, windows):
        if w == 0:
            usage, warm_steps = resource.getrusage(resource.RUSAGE_SELF), step
        _sync(device)
        tokens, start = 0, time.perf_counter()
        for i in range(warmup if w < 0 else window_steps):
            if i and max_window_s and time.perf_counter() - start > max_window_s:
                break
            batch = data.collate(batches[step % len(batches)])
            step += 1
            train_step(loss_fn, opt, [batch.to(device, non_blocking=True)], t, precision,
                       scaler)
            tokens += batch.n_tokens
            if w >= 0:
                src_tok += int(batch.src_lens.sum())
                tgt_tok += batch.n_tokens
                src_pad += batch.src.numel()
                rows += batch.src.size(0)
        _sync(device)
        if w >= 0:
            rates.append(tokens / (time.perf_counter() - start))
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = end.ru_stime - usage.ru_stime + end.ru_utime - usage.ru_utime
    timed = step - warm_steps
    flops = train_flops_per_target_token(cfg.model, prep.vocab.tgt_size, src_tok / tgt_tok,
                                         src_pad / rows)
    return {"tokens_per_s": statistics.median(rates), "windows": [round(r) for r in rates],
            "flops_per_target_token": flops,
            "parameters": sum(p.numel() for p in model.parameters()),
            "timed_steps": timed,
            "minor_faults_per_step": round((end.ru_minflt - usage.ru_minflt) / timed),
            "system_cpu_share": round((end.ru_stime - usage.ru_stime) / max(cpu, 1e-9), 3)}


def auto_precision(cfg: DictConfig) -> dict:
    """What `train.precision=auto` picks on this machine (measured afresh, cache not used)."""
    from ..training.loop import TrainingLoss, train_step
    from ..training.optim import build_optimizer
    from ..training.precision import calibrate

    t = OmegaConf.merge(cfg.train, {"precision": "auto"})
    _, model, data, batches = _model_and_batches(cfg, "cpu")
    micro = [data.collate(b) for b in batches[:8]]
    lines: list[str] = []

    def step(m, optimizer, batch, precision):
        train_step(TrainingLoss(m, t.label_smoothing), optimizer, [batch], t, precision)

    start = time.perf_counter()
    choice = calibrate(model, lambda p: build_optimizer(p, t), micro, step, t, cfg.model,
                       None, lines.append)
    return {"choice": choice, "log": lines[-1], "seconds": time.perf_counter() - start}


def _test_set(cfg: DictConfig, limit: int) -> tuple[list[str], list[str]]:
    from ..data.prepare import load_splits

    pairs = load_splits(cfg.data, ["multi30k.test_2016_flickr"])["multi30k.test_2016_flickr"]
    return [f for f, _ in pairs[:limit]], [e for _, e in pairs[:limit]]


def _timed(translate, src: list[str], device: str = "cpu") -> tuple[float, list[str]]:
    """Median seconds of three runs of `translate(src)` after a warm-up, and its output."""
    translate(src[:64])
    times = []
    for _ in range(3):
        _sync(device)
        start = time.perf_counter()
        hyps = translate(src)
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), hyps


def decode_speed(cfg: DictConfig, checkpoint: str | None, beam: int, limit: int,
                 int8: bool = False, device: str = "cpu") -> dict:
    """Sentences/s of the decode call on test_2016_flickr (median of 3 runs), and the BLEU."""
    from ..data.prepare import prepare
    from ..decoding.translator import Translator
    from ..evaluation.metrics import bleu
    from ..model.encoder_decoder import build_model

    decode = OmegaConf.merge(cfg.decode, {"beam_size": beam})
    if checkpoint:
        translator = Translator.from_checkpoint(checkpoint, decode, device)
    else:  # no trained model: an untrained one still measures speed
        prep = prepare(cfg.data, threads=cfg.train.threads, log=lambda *_: None)
        torch.manual_seed(0)
        model = build_model(cfg.model, prep.vocab.src_size, prep.vocab.tgt_size)
        translator = Translator(model, prep.vocab, decode, cfg.data.normalize, device)
    if int8:
        translator.quantize_int8()
    src, refs = _test_set(cfg, limit)
    seconds, hyps = _timed(translator.translate, src, device)
    return {"sents_per_s": len(src) / seconds, "seconds": seconds, "bleu": bleu(hyps, refs),
            "sentences": len(src), "hypotheses": hyps}


def onnx_decode(cfg: DictConfig, export_dir: str, beam: int, limit: int, threads: int) -> dict:
    """Sentences/s and BLEU of the ONNX export on onnxruntime (no torch in the forward passes)."""
    from ..evaluation.metrics import bleu
    from ..export.onnx_runtime import OnnxTranslator

    translator = OnnxTranslator(export_dir, OmegaConf.merge(cfg.decode, {"beam_size": beam}),
                                threads)
    src, refs = _test_set(cfg, limit)
    seconds, hyps = _timed(translator.translate, src)
    return {"sents_per_s": len(src) / seconds, "bleu": bleu(hyps, refs), "hypotheses": hyps}
