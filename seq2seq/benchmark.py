"""The benchmark behind scripts/benchmark.py: each phase runs in its own subprocess (so that its
peak RSS is its own) and prints one JSON object.

Phases: matmul peak (fp32, bf16), training throughput (fp32, bf16, and fp32 with glibc's default
allocator) with page faults and system CPU time, the choice of `precision=auto`, decoding speed
and BLEU (greedy, beam 5) on test_2016_flickr, and the RSS of streaming N lines through the
translate command. The report names the machine it ran on.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[1]


def machine_info(threads: int) -> dict:
    """What the figures depend on: processor and the instruction sets torch uses, torch and its
    build, threads, and the memory settings (see `memory.py`)."""
    from .memory import memory_setting

    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")
           if f in flags]
    return {"cpu": cpu_model(), "isa": isa, "torch_cpu_capability":
            torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "torch_cuda": torch.version.cuda, "threads": threads, "memory": memory_setting()}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """Median GFLOP/s of an n×n matmul over `reps` runs, after warm-up."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def train_throughput(cfg: DictConfig, precision: str, warmup: int, windows: int,
                     window_steps: int) -> dict:
    """Steady-state target tokens/s of real training steps on token-bucketed Multi30k batches,
    with the page faults and system CPU time of the timed windows."""
    from .data import PairDataset, TokenBatchSampler
    from .flops import train_flops_per_target_token
    from .model import build_model
    from .optim import build_optimizer
    from .prepare import prepare
    from .train import TrainingLoss, train_step

    t = cfg.train
    prep = prepare(cfg.data, threads=t.threads, log=lambda *_: None)
    torch.manual_seed(t.seed)
    model = build_model(cfg.model, prep.vocab.src_size, prep.vocab.tgt_size).train()
    loss_fn = TrainingLoss(model, t.label_smoothing)
    opt = build_optimizer(model.parameters(), t)
    data = PairDataset(prep.train["src"], prep.train["tgt"], t.max_len)
    batches = TokenBatchSampler(data.sizes(), t.batch_tokens, t.seed).batches(0)
    rates, src_tok, tgt_tok, src_pad, rows = [], 0, 0, 0, 0
    step = 0
    for w in range(-1, windows):
        steps = warmup if w < 0 else window_steps
        if w == 0:
            usage = resource.getrusage(resource.RUSAGE_SELF)
        tokens, start = 0, time.perf_counter()
        for _ in range(steps):
            batch = data.collate(batches[step % len(batches)])
            step += 1
            train_step(loss_fn, opt, [batch], t, precision)
            tokens += batch.n_tokens
            if w >= 0:
                src_tok += int(batch.src_lens.sum())
                tgt_tok += batch.n_tokens
                src_pad += batch.src.numel()
                rows += batch.src.size(0)
        if w >= 0:
            rates.append(tokens / (time.perf_counter() - start))
    end = resource.getrusage(resource.RUSAGE_SELF)
    timed_steps = windows * window_steps
    flops = train_flops_per_target_token(cfg.model, prep.vocab.tgt_size, src_tok / tgt_tok,
                                         src_pad / rows)
    return {"tokens_per_s": statistics.median(rates), "windows": [round(r) for r in rates],
            "flops_per_target_token": flops,
            "parameters": sum(p.numel() for p in model.parameters()),
            "minor_faults_per_step": round((end.ru_minflt - usage.ru_minflt) / timed_steps),
            "system_cpu_share": round((end.ru_stime - usage.ru_stime) / max(
                end.ru_stime - usage.ru_stime + end.ru_utime - usage.ru_utime, 1e-9), 3)}


def auto_precision(cfg: DictConfig) -> dict:
    """What `train.precision=auto` picks on this machine (measured afresh, cache not used)."""
    from .data import PairDataset, TokenBatchSampler
    from .model import build_model
    from .optim import build_optimizer
    from .precision import calibrate
    from .prepare import prepare
    from .train import TrainingLoss, train_step

    t = OmegaConf.merge(cfg.train, {"precision": "auto"})
    prep = prepare(cfg.data, threads=t.threads, log=lambda *_: None)
    torch.manual_seed(t.seed)
    model = build_model(cfg.model, prep.vocab.src_size, prep.vocab.tgt_size).train()
    data = PairDataset(prep.train["src"], prep.train["tgt"], t.max_len)
    batches = [data.collate(b) for b in TokenBatchSampler(data.sizes(), t.batch_tokens,
                                                          t.seed).batches(0)[:8]]
    lines: list[str] = []

    def step(m, optimizer, batch, precision):
        train_step(TrainingLoss(m, t.label_smoothing), optimizer, [batch], t, precision)

    start = time.perf_counter()
    choice = calibrate(model, lambda p: build_optimizer(p, t), batches, step, t, cfg.model,
                       None, lines.append)
    return {"choice": choice, "log": lines[-1], "seconds": time.perf_counter() - start}


def decode_speed(cfg: DictConfig, checkpoint: str | None, beam: int, limit: int,
                 int8: bool = False) -> dict:
    """Sentences/s of the decode call on test_2016_flickr (median of 3 runs), and the BLEU."""
    from .metrics import bleu
    from .model import build_model
    from .prepare import load_splits, prepare
    from .translator import Translator

    decode = OmegaConf.merge(cfg.decode, {"beam_size": beam})
    if checkpoint:
        translator = Translator.from_checkpoint(checkpoint, decode)
    else:  # no trained model: an untrained one still measures speed
        prep = prepare(cfg.data, threads=cfg.train.threads, log=lambda *_: None)
        torch.manual_seed(0)
        model = build_model(cfg.model, prep.vocab.src_size, prep.vocab.tgt_size)
        translator = Translator(model, prep.vocab, decode, cfg.data.normalize)
    if int8:
        translator.quantize_int8()
    pairs = load_splits(cfg.data, ["multi30k.test_2016_flickr"])["multi30k.test_2016_flickr"]
    pairs = pairs[:limit]
    src, refs = [f for f, _ in pairs], [e for _, e in pairs]
    translator.translate_text(src[:64])  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        hyps = translator.translate_text(src)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"sents_per_s": len(src) / seconds, "seconds": seconds, "bleu": bleu(hyps, refs),
            "sentences": len(src)}


def run_phase(name: str, args: dict, threads: int, env: dict | None = None) -> dict:
    """Run one phase in a subprocess; its JSON result plus its own peak RSS in MB, minor page
    faults and system / user CPU seconds (of the whole subprocess)."""
    cmd = [sys.executable, "-m", "seq2seq.benchmark", name, json.dumps(args), str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, **(env or {})})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark phase {name} failed (exit {proc.returncode})")
    result = json.loads(out)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["minor_faults"] = usage.ru_minflt
    result["system_s"], result["user_s"] = round(usage.ru_stime, 1), round(usage.ru_utime, 1)
    return result


def _translate_cmd(checkpoint: str, threads: int, *options: str) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / "translate.py"), "--checkpoint", checkpoint,
            "--threads", str(threads), *options]


def translate_command(checkpoint: str, src: Path, beam: int, threads: int) -> float:
    """Wall seconds of the whole `scripts/translate.py --input` command (start-up included)."""
    cmd = _translate_cmd(checkpoint, threads, "--beam-size", str(beam), "--input", str(src),
                         "--output", os.devnull)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def stream_rss(checkpoint: str, lines: int, threads: int) -> dict:
    """Peak RSS and time of `scripts/translate.py` reading `lines` short lines from a pipe."""
    cmd = _translate_cmd(checkpoint, threads, "--batch-size", "256")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    sentences = [b"Un chien court.\n", b"Une femme lit un livre.\n", b"Deux enfants jouent.\n"]
    for i in range(lines):
        proc.stdin.write(sentences[i % 3])
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("translate.py failed while streaming")
    return {"lines": lines, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "seconds": round(time.perf_counter() - start, 1)}


def run_benchmark(cfg: DictConfig, quick: bool, checkpoint: str | None, stream_lines: list[int],
                  train_run: str | None, log=print) -> dict:
    """All phases; returns the JSON-ready report."""
    threads = cfg.train.threads
    container = OmegaConf.to_container(cfg, resolve=True)
    from .prepare import prepare

    prepare(cfg.data, threads=threads, log=log)  # build the cache outside the timed phases
    report: dict = {**machine_info(threads), "quick": quick, "model": cfg.model.name,
                    "checkpoint": checkpoint}
    log("matmul peak ...")
    peak = run_phase("matmul", {}, threads)
    report["matmul_gflops_fp32"], report["matmul_gflops_bf16"] = peak["fp32"], peak["bf16"]
    steps = {"warmup": 5, "windows": 3, "window_steps": 5} if quick else \
        {"warmup": 20, "windows": 7, "window_steps": 25}
    variants = [("fp32", "fp32", {}), ("bf16", "bf16", {}),
                ("fp32_system_malloc", "fp32", {"SEQ2SEQ_MALLOC": "system"})]
    for name, precision, env in variants:
        log(f"training {name} ...")
        r = run_phase("train", {"cfg": container, "precision": precision, **steps}, threads, env)
        report["flops_per_target_token_train"] = r["flops_per_target_token"]
        report["parameters"] = r["parameters"]
        report[f"train_tokens_per_s_{name}"] = r["tokens_per_s"]
        report[f"train_windows_{name}"] = r["windows"]
        report[f"train_mfu_{name}"] = r["tokens_per_s"] * r["flops_per_target_token"] / (
            report[f"matmul_gflops_{precision}"] * 1e9)
        report[f"train_faults_per_step_{name}"] = r["minor_faults_per_step"]
        report[f"train_system_cpu_share_{name}"] = r["system_cpu_share"]
        report[f"peak_rss_mb_train_{name}"] = r["peak_rss_mb"]
    log("precision auto ...")
    r = run_phase("auto", {"cfg": container}, threads)
    report["auto_precision"], report["auto_precision_log"] = r["choice"], r["log"]
    report["auto_precision_seconds"] = round(r["seconds"], 1)
    fastest = max(("fp32", "bf16"), key=lambda p: report[f"train_tokens_per_s_{p}"])
    report["auto_vs_fastest"] = round(report[f"train_tokens_per_s_{r['choice']}"] /
                                      report[f"train_tokens_per_s_{fastest}"], 3)
    limit = 100 if quick else 1000
    for name, beam, int8 in (("greedy", 1, False), ("beam5", 5, False),
                             ("greedy_int8", 1, True), ("beam5_int8", 5, True)):
        log(f"decoding {name} ...")
        r = run_phase("decode", {"cfg": container, "checkpoint": checkpoint, "beam": beam,
                                 "limit": limit, "int8": int8}, threads)
        report[f"decode_{name}_sents_per_s"] = r["sents_per_s"]
        report[f"decode_{name}_bleu"] = r["bleu"]
        report[f"peak_rss_mb_decode_{name}"] = r["peak_rss_mb"]
        report[f"minor_faults_decode_{name}"] = r["minor_faults"]
        report[f"system_s_decode_{name}"] = r["system_s"]
    report["decode_sentences"] = limit
    if checkpoint:
        from .prepare import load_splits

        pairs = load_splits(cfg.data, ["multi30k.test_2016_flickr"])["multi30k.test_2016_flickr"]
        src = Path(tempfile.mkdtemp()) / "test_2016_flickr.fr"
        src.write_text("".join(f + "\n" for f, _ in pairs[:limit]), encoding="utf-8")
        for name, beam in (("greedy", 1), ("beam5", 5)):
            log(f"translate.py --input, {name} ...")
            report[f"translate_command_s_{name}"] = translate_command(checkpoint, src, beam,
                                                                      threads)
        report["stream"] = []
        for n in stream_lines:
            log(f"streaming {n} lines ...")
            report["stream"].append(stream_rss(checkpoint, n, threads))
    if train_run:
        metrics = Path(train_run) / "metrics.jsonl"
        rows = [json.loads(x) for x in metrics.read_text().splitlines()]
        report["bleu_curve"] = [
            {"elapsed_s": r["elapsed_s"], "valid_bleu": round(r["valid_bleu"], 2)} for r in rows]
    return report


def markdown(report: dict) -> str:
    r = report
    rows = [
        ("matmul peak fp32 / bf16, GFLOP/s",
         f"{r['matmul_gflops_fp32']:.0f} / {r['matmul_gflops_bf16']:.0f}"),
        ("training FLOPs per target token", f"{r['flops_per_target_token_train'] / 1e6:.1f} M"),
        ("training target tokens/s fp32 / bf16",
         f"{r['train_tokens_per_s_fp32']:,.0f} / {r['train_tokens_per_s_bf16']:,.0f}"),
        ("training MFU fp32 / bf16", f"{r['train_mfu_fp32']:.2f} / {r['train_mfu_bf16']:.2f}"),
        ("precision=auto picks (its speed / the faster one's)",
         f"{r['auto_precision']} ({r['auto_vs_fastest']:.2f})"),
        ("training minor page faults per step fp32 / bf16",
         f"{r['train_faults_per_step_fp32']:,} / {r['train_faults_per_step_bf16']:,}"),
        ("training system CPU share fp32 / bf16",
         f"{r['train_system_cpu_share_fp32']:.1%} / {r['train_system_cpu_share_bf16']:.1%}"),
        ("fp32 with glibc's default malloc: tokens/s, faults per step, system CPU",
         f"{r['train_tokens_per_s_fp32_system_malloc']:,.0f}, "
         f"{r['train_faults_per_step_fp32_system_malloc']:,}, "
         f"{r['train_system_cpu_share_fp32_system_malloc']:.1%}"),
        (f"decoding sentences/s greedy / beam 5 ({r['decode_sentences']} sentences)",
         f"{r['decode_greedy_sents_per_s']:.0f} / {r['decode_beam5_sents_per_s']:.0f}"),
        ("BLEU of that output, greedy / beam 5",
         f"{r['decode_greedy_bleu']:.1f} / {r['decode_beam5_bleu']:.1f}"),
        ("--quantize int8: sentences/s greedy / beam 5",
         f"{r['decode_greedy_int8_sents_per_s']:.0f} / {r['decode_beam5_int8_sents_per_s']:.0f}"),
        ("--quantize int8: BLEU greedy / beam 5",
         f"{r['decode_greedy_int8_bleu']:.1f} / {r['decode_beam5_int8_bleu']:.1f}"),
        ("peak RSS training fp32 / bf16, MB",
         f"{r['peak_rss_mb_train_fp32']:.0f} / {r['peak_rss_mb_train_bf16']:.0f}"),
        ("peak RSS decoding greedy / beam 5, MB",
         f"{r['peak_rss_mb_decode_greedy']:.0f} / {r['peak_rss_mb_decode_beam5']:.0f}"),
    ]
    if "translate_command_s_greedy" in r:
        greedy, beam5 = r["translate_command_s_greedy"], r["translate_command_s_beam5"]
        rows.append(("whole translate.py --input command, seconds, greedy / beam 5",
                     f"{greedy:.1f} / {beam5:.1f}"))
    for s in r.get("stream", []):
        rows.append((f"translate.py streaming {s['lines']:,} lines: peak RSS MB, seconds",
                     f"{s['peak_rss_mb']:.0f}, {s['seconds']:.0f}"))
    lines = [f"{r['cpu']} ({', '.join(r['isa'])}; torch uses {r['torch_cpu_capability']}), "
             f"{r['threads']} threads, torch {r['torch']}, {r['memory']}; model {r['model']} "
             f"({r['parameters']:,} parameters)", "", "| measure | value |", "|---|---:|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    if r.get("bleu_curve"):
        lines += ["", "| training minutes | validation BLEU |", "|---:|---:|"]
        lines += [f"| {p['elapsed_s'] / 60:.1f} | {p['valid_bleu']:.2f} |" for p in r["bleu_curve"]]
    return "\n".join(lines)


def _phase_main() -> None:
    from .memory import tune_memory

    tune_memory()
    name, args, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    cfg = OmegaConf.create(args.pop("cfg")) if "cfg" in args else None
    if name == "matmul":
        result = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    elif name == "train":
        result = train_throughput(cfg, **args)
    elif name == "decode":
        result = decode_speed(cfg, **args)
    elif name == "auto":
        result = auto_precision(cfg)
    else:
        raise SystemExit(f"unknown phase {name}")
    print(json.dumps(result))


if __name__ == "__main__":
    _phase_main()
