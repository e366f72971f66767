"""`run_benchmark`: every section of the benchmark in turn; the JSON-ready report.

Sections: `train` (matmul peak, training tokens/s in fp32 and bf16 and with glibc's default
allocator, page faults, system CPU, MFU, what precision=auto picks), `decode` (sentences/s and
BLEU on test_2016_flickr, greedy / beam 5, plain and int8), `commands` (whole seq2seq-translate
commands, streaming RSS), `ddp` (2 processes under torchrun beside 1), `onnx` (the export on
onnxruntime: speed, start-up, agreement with PyTorch), `serve` (HTTP load: requests/s and
latency at 1, 8 and 32 clients), `curve` (validation BLEU against minutes of a training run),
`prepare` (a synthetic corpus of millions of pairs: preparation speed and memory, time to the
first training step).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..machine import cpu_isa, cpu_model
from ..memory import memory_setting
from ..training.precision import bf16_matmul_supported
from .commands import (
    run_phase,
    startup_seconds,
    stream_rss,
    torchrun_throughput,
    translate_command,
)

SECTIONS = ("train", "decode", "commands", "ddp", "onnx", "serve", "curve", "prepare", "text")


def machine_info(threads: int, device: str) -> dict:
    """What the figures depend on: processor and instruction sets, the GPU if used, torch and
    its build, threads, and the memory settings (see `seq2seq/memory.py`)."""
    return {"cpu": cpu_model(), "isa": cpu_isa(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
            "device": device, "torch": torch.__version__, "torch_cuda": torch.version.cuda,
            "threads": threads, "memory": memory_setting()}


def run_benchmark(cfg: DictConfig, quick: bool, checkpoint: str | None, stream_lines: list[int],
                  train_run: str | None, device: str = "cpu", sections=SECTIONS,
                  overrides: list[str] = (), prepare_pairs: list[int] = (),
                  log=print, soak_requests: int | None = None, student: str | None = None
                  ) -> dict:
    """`overrides`: the Hydra overrides that made `cfg`, for the commands run under torchrun.
    `student`: a distilled student's checkpoint, decoded beside `checkpoint` (its teacher)."""
    threads = cfg.train.threads
    container = OmegaConf.to_container(cfg, resolve=True)
    from ..data.prepare import load_splits, prepare

    prepare(cfg.data, threads=threads, log=log)  # build the cache outside the timed phases
    report: dict = {**machine_info(threads, device), "quick": quick, "model": cfg.model.name,
                    "checkpoint": checkpoint, "sections": list(sections)}
    limit = 100 if quick else 1000
    pairs = load_splits(cfg.data, ["multi30k.test_2016_flickr"])["multi30k.test_2016_flickr"]
    src_file = Path(tempfile.mkdtemp()) / "test_2016_flickr.fr"
    src_file.write_text("".join(f + "\n" for f, _ in pairs[:limit]), encoding="utf-8")
    if "train" in sections:
        _train(report, container, threads, device, quick, log)
    if "decode" in sections:
        _decode(report, container, checkpoint, threads, device, limit, log)
        if student:
            _decode(report, container, student, threads, device, limit, log, "student_",
                    [("greedy", 1, False), ("greedy_int8", 1, True), ("beam5", 5, False)])
            _student_summary(report, checkpoint, student)
    if "commands" in sections and checkpoint:
        for name, beam in (("greedy", 1), ("beam5", 5)):
            log(f"seq2seq-translate --input, {name} ...")
            report[f"translate_command_s_{name}"] = translate_command(
                ["--checkpoint", checkpoint], src_file, beam, threads)
        report["stream"] = []
        for n in stream_lines:
            log(f"streaming {n} lines ...")
            report["stream"].append(stream_rss(checkpoint, n, threads))
    if "ddp" in sections and device == "cpu":
        log("training with 1 process and with 2 processes (torchrun, gloo) ...")
        steps = 10 if quick else 60
        report["ddp"] = [torchrun_throughput(list(overrides), 1, threads, steps),
                         torchrun_throughput(list(overrides), 2, max(threads // 2, 1), steps)]
    if "onnx" in sections and checkpoint and _have("onnxruntime", "onnx", log=log):
        _onnx(report, container, checkpoint, threads, limit, log)
        if student:
            _onnx(report, container, student, threads, limit, log, "student_", [("greedy", 1)])
    if "serve" in sections and checkpoint and _have("fastapi", "uvicorn", "httpx", log=log):
        from .serve_load import serve_load

        log("serving load ...")
        report["serve"] = serve_load(checkpoint, [f for f, _ in pairs[:limit]], threads,
                                     quick, log, soak_requests)
    if "prepare" in sections and prepare_pairs:
        from .prepare_scale import prepare_scale

        log("preparing synthetic corpora ...")
        both = load_splits(OmegaConf.merge(cfg.data, {"corpora": ["multi30k", "tatoeba"]}),
                           ["multi30k.train", "tatoeba.train"])
        report["prepare"] = prepare_scale(both["multi30k.train"] + both["tatoeba.train"],
                                          prepare_pairs, threads, log, list(overrides))
    if "text" in sections and checkpoint:
        log("documents and glossaries ...")
        report["text"] = _text(cfg, checkpoint, threads, device, quick, log)
    if "curve" in sections and train_run:
        rows = [json.loads(x) for x in (Path(train_run) / "metrics.jsonl").read_text()
                .splitlines()]
        report["bleu_curve"] = [{"elapsed_s": r["elapsed_s"], "step": r["step"],
                                 "valid_bleu": round(r["valid_bleu"], 2)} for r in rows]
    return report


def _text(cfg: DictConfig, checkpoint: str, threads: int, device: str, quick: bool,
          log) -> dict:
    """Documents against one sentence per line (greedy), and a glossary built from the
    references (beam 5): see text_bench.py."""
    import torch

    from ..data.prepare import load_splits, prepare
    from ..decoding.translator import Translator
    from .text_bench import alignment_section, document_section, glossary_section

    torch.set_num_threads(threads)
    data = OmegaConf.merge(cfg.data, {"corpora": ["multi30k", "tatoeba"]})
    prepare(data, threads=threads, log=log)
    names = ["multi30k.test_2016_flickr", "tatoeba.test"]
    splits = load_splits(data, names + ["multi30k.train", "tatoeba.train"])
    limit = 100 if quick else None
    translator = Translator.from_checkpoint(checkpoint, device=device)
    ended = [f for f, _ in splits[names[0]][:limit] if re.search(r"[.!?…]$", f)]
    doc = document_section(translator, ended, log)  # sentences that end as sentences do
    train = splits["multi30k.train"] + splits["tatoeba.train"]
    return {"document": doc, "alignment": alignment_section(translator),
            "glossary": glossary_section(translator, {n: splits[n][:limit] for n in names},
                                         train, log)}


def _have(*modules: str, log) -> bool:
    """Whether an optional extra is installed (its section is skipped, saying so, if not)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        log(f"skipped: {', '.join(missing)} not installed (see the extras in pyproject.toml)")
    return not missing


def _train(report: dict, container: dict, threads: int, device: str, quick: bool, log) -> None:
    log("matmul peak ...")
    peak = run_phase("matmul", {"device": device}, threads)
    report["matmul_gflops_fp32"], report["matmul_gflops_bf16"] = peak["fp32"], peak["bf16"]
    steps = {"warmup": 5, "windows": 3, "window_steps": 5, "max_window_s": 10} if quick else \
        {"warmup": 20, "windows": 7, "window_steps": 25, "max_window_s": 30}
    variants = [("fp32", "fp32", {}), ("bf16", "bf16", {})]
    if device == "cpu" and bf16_matmul_supported():  # fp32 tensors, oneDNN's bf16 products
        variants.append(("bf16_matmul", "bf16_matmul", {}))
    if device == "cpu":
        variants.append(("fp32_system_malloc", "fp32", {"SEQ2SEQ_MALLOC": "system"}))
    for name, precision, env in variants:
        log(f"training {name} ...")
        r = run_phase("train", {"cfg": container, "precision": precision, "device": device,
                                **steps}, threads, env)
        report["flops_per_target_token_train"] = r["flops_per_target_token"]
        report["parameters"] = r["parameters"]
        report[f"train_tokens_per_s_{name}"] = r["tokens_per_s"]
        report[f"train_windows_{name}"] = r["windows"]
        report[f"train_timed_steps_{name}"] = r["timed_steps"]
        # against the precision's own matmul peak, or fp32's where that is higher: autocast
        # leaves much of a step in fp32, and an emulated bf16 peak (AVX2) is no ceiling
        peak_gflops = max(report[f"matmul_gflops_{precision.replace('_matmul', '')}"],
                          report["matmul_gflops_fp32"])
        report[f"train_mfu_{name}"] = r["tokens_per_s"] * r["flops_per_target_token"] / (
            peak_gflops * 1e9)
        report[f"train_faults_per_step_{name}"] = r["minor_faults_per_step"]
        report[f"train_system_cpu_share_{name}"] = r["system_cpu_share"]
        report[f"peak_rss_mb_train_{name}"] = r["peak_rss_mb"]
    _profile(report, container, threads, device, quick, log)
    if device == "cpu":
        log("precision auto ...")
        r = run_phase("auto", {"cfg": container}, threads)
        report["auto_precision"], report["auto_precision_log"] = r["choice"], r["log"]
        report["auto_precision_seconds"] = round(r["seconds"], 1)
        fastest = max((p for p in ("fp32", "bf16", "bf16_matmul")
                       if f"train_tokens_per_s_{p}" in report),
                      key=lambda p: report[f"train_tokens_per_s_{p}"])
        report["auto_vs_fastest"] = round(report[f"train_tokens_per_s_{r['choice']}"] /
                                          report[f"train_tokens_per_s_{fastest}"], 3)


def _profile(report: dict, container: dict, threads: int, device: str, quick: bool,
             log) -> None:
    """The step profile (`step_profile.py`) in fp32, and in bf16 (and bf16_matmul) where the
    CPU has bf16 of its own (bf16 trains at least half as fast as fp32: an emulated bf16 step
    takes tens of times as long, and its profile would say only that)."""
    steps = {"warmup": 2, "steps": 3} if quick else {"warmup": 10, "steps": 20}
    report["step_profile"] = {}
    runs = [(p, p, {}) for p in ("fp32", "bf16", "bf16_matmul")
            if report.get(f"train_tokens_per_s_{p}", 0) >= 0.5 * report["train_tokens_per_s_fp32"]]
    if device == "cpu":  # the encoder's fused GRU against nn.GRU
        runs.append(("fp32 nn.GRU", "fp32", {"SEQ2SEQ_FUSED_GRU": "0"}))
    for name, precision, env in runs:
        log(f"step profile {name} ...")
        r = run_phase("profile", {"cfg": container, "precision": precision, "device": device,
                                  **steps}, threads, env)
        report["step_profile"][name] = {k: r[k] for k in (
            "phases_ms", "step_ms", "target_tokens_per_step", "tokens_per_s",
            "onednn_kernels_per_step")}


def _decode(report: dict, container: dict, checkpoint: str | None, threads: int, device: str,
            limit: int, log, prefix: str = "", variants=None) -> None:
    """Sentences/s, BLEU and memory of each search (`variants`: name, beam, int8); `prefix`
    tells a student's keys from its teacher's."""
    if variants is None:
        variants = [("greedy", 1, False), ("beam5", 5, False)]
        if device == "cpu":
            variants += [("greedy_int8", 1, True), ("beam5_int8", 5, True)]
    for name, beam, int8 in variants:
        if int8 and device != "cpu":
            continue
        log(f"decoding {prefix}{name} ...")
        r = run_phase("decode", {"cfg": container, "checkpoint": checkpoint, "beam": beam,
                                 "limit": limit, "int8": int8, "device": device}, threads)
        report[f"{prefix}decode_{name}_sents_per_s"] = r["sents_per_s"]
        report[f"{prefix}decode_{name}_bleu"] = r["bleu"]
        report[f"{prefix}peak_rss_mb_decode_{name}"] = r["peak_rss_mb"]
        report[f"{prefix}minor_faults_decode_{name}"] = r["minor_faults"]
        report[f"{prefix}system_s_decode_{name}"] = r["system_s"]
        report.setdefault(f"_{prefix}hyps", {})[name] = r["hypotheses"]
    report["decode_sentences"] = limit


def _student_summary(report: dict, teacher: str | None, student: str) -> None:
    """The student against its teacher: parameters, and greedy against the teacher's beam 5."""
    from ..checkpoint import load_checkpoint

    def params(path):
        if path is None:
            return None
        state = load_checkpoint(path)["model"]
        seen = {}
        for t in state.values():  # tied weights are one tensor under two names
            seen[(t.data_ptr(), t.shape)] = t.numel()
        return sum(seen.values())

    report["student"] = student
    report["student_parameters"], report["teacher_parameters"] = params(student), params(teacher)
    report["student_greedy_speedup_vs_teacher_beam5"] = round(
        report["student_decode_greedy_sents_per_s"] / report["decode_beam5_sents_per_s"], 2)
    report["student_greedy_bleu_minus_teacher_beam5"] = round(
        report["student_decode_greedy_bleu"] - report["decode_beam5_bleu"], 2)


def _onnx(report: dict, container: dict, checkpoint: str, threads: int, limit: int,
          log, prefix: str = "", searches=(("greedy", 1), ("beam5", 5))) -> None:
    from ..export.onnx_export import export_onnx

    folder = export_onnx(checkpoint, Path(tempfile.mkdtemp()) / "export")
    for name, beam in searches:
        log(f"ONNX decoding {prefix}{name} ...")
        r = run_phase("onnx", {"cfg": container, "export_dir": str(folder), "beam": beam,
                               "limit": limit, "threads": threads}, threads)
        report[f"{prefix}onnx_{name}_sents_per_s"] = r["sents_per_s"]
        report[f"{prefix}onnx_{name}_bleu"] = r["bleu"]
        torch_hyps = report.get(f"_{prefix}hyps", {}).get(name)
        if torch_hyps:
            same = sum(a == b for a, b in zip(r["hypotheses"], torch_hyps))
            report[f"{prefix}onnx_{name}_identical"] = same / len(torch_hyps)
    if prefix:
        return
    report["startup_s_onnx"] = startup_seconds(["--onnx", str(folder)], threads)
    report["startup_s_torch"] = startup_seconds(["--checkpoint", checkpoint], threads)
