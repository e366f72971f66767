"""scripts/benchmark.py --quick runs end to end and writes a complete JSON (speed is never
asserted in a test)."""

import importlib.util
import json
import subprocess
import sys

import pytest

from .helpers import ROOT, TINY

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers


def test_quick_benchmark_writes_json_and_table(trained, script_env, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--quick",
                        "--checkpoint", str(trained), "--out", str(tmp_path), *TINY,
                        "train.batch_tokens=300", "train.threads=1"],
                       env=script_env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "benchmark.json").read_text())
    for key in ("matmul_gflops_fp32", "matmul_gflops_bf16", "flops_per_target_token_train",
                "train_tokens_per_s_fp32", "train_tokens_per_s_bf16", "train_mfu_fp32",
                "train_mfu_bf16", "decode_greedy_sents_per_s", "decode_beam5_sents_per_s",
                "decode_greedy_bleu", "decode_beam5_bleu", "peak_rss_mb_train_fp32",
                "peak_rss_mb_decode_greedy", "torch", "threads", "cpu", "isa", "memory",
                "auto_precision", "auto_vs_fastest", "train_faults_per_step_fp32",
                "train_system_cpu_share_bf16", "train_tokens_per_s_fp32_system_malloc",
                "minor_faults_decode_greedy"):
        assert key in report, key
    assert report["train_tokens_per_s_fp32"] > 0 and 0 < report["train_mfu_fp32"] < 1
    assert report["auto_precision"] in ("fp32", "bf16")
    assert report["memory"].startswith("malloc tuned")
    assert [d["ranks"] for d in report["ddp"]] == [1, 2] and report["ddp"][1]["tokens_per_s"] > 0
    if importlib.util.find_spec("onnxruntime"):
        assert report["onnx_greedy_identical"] >= 0.99 and report["startup_s_onnx"] > 0
    if importlib.util.find_spec("fastapi"):
        levels = report["serve"]["levels"]
        assert [lv["clients"] for lv in levels] == [1, 8, 32, 1, 8, 32]
        assert all(lv["failed"] == 0 and lv["different"] == 0 for lv in levels)
        assert report["serve"]["soak"]["requests"] == 500
        lt = report["serve"]["libretranslate"]
        assert [lv["clients"] for lv in lt] == [1, 8, 32] and lt[1]["requests_per_s"] > 0
        assert all(lv["failed"] == 0 and lv["different"] == 0 for lv in lt)
        assert "HTTP LibreTranslate route, greedy, 8 clients" in \
            (tmp_path / "benchmark.md").read_text()
    doc = report["text"]["document"]
    assert doc["lines_in"] == doc["lines_out"] and doc["markers_kept"]
    assert doc["lines_identical_to_one_per_line"] == 1.0
    for g in report["text"]["glossary"].values():
        assert g["placed_with"] >= 0.99 and g["sents_per_s_with"] > 0
    prep = report["prepare"][0]  # the toy corpus is small: joined pairs repeat, de-duplicated
    assert prep["pairs"] == 20000 and prep["kept"] > 15000 and prep["train_peak_rss_mb"] > 0
    assert report["decode_greedy_bleu"] > 20  # the toy model translates its test set
    assert report["stream"][0]["lines"] == 1000 and report["stream"][0]["peak_rss_mb"] > 0
    assert "| training target tokens/s fp32 / bf16 |" in (tmp_path / "benchmark.md").read_text()
    profile = report["step_profile"]["fp32"]
    phases = profile["phases_ms"]
    assert {"encoder", "encoder backward", "decoder RNN", "decoder RNN backward",
            "attention + combine", "output layer + loss", "optimizer"} <= set(phases)
    assert all(ms > 0 for ms in phases.values()) and profile["step_ms"] > 0
    assert profile["onednn_kernels_per_step"] >= 0
    assert set(report["step_profile"]["fp32 nn.GRU"]["phases_ms"]) == set(phases)
    assert "| output layer + loss backward |" in (tmp_path / "benchmark.md").read_text()


def test_a_student_is_decoded_beside_its_teacher(trained, script_env, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--quick",
                        "--only", "decode,onnx", "--checkpoint", str(trained), "--student",
                        str(trained), "--out", str(tmp_path), *TINY, "train.threads=1"],
                       env=script_env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "benchmark.json").read_text())
    for name in ("greedy", "greedy_int8", "beam5"):
        assert report[f"student_decode_{name}_sents_per_s"] > 0
    # the same model as teacher and student: the same parameters and the same greedy output
    assert report["student_parameters"] == report["teacher_parameters"] > 0
    assert report["student_decode_greedy_bleu"] == report["decode_greedy_bleu"]
    assert report["student_greedy_bleu_minus_teacher_beam5"] == round(
        report["decode_greedy_bleu"] - report["decode_beam5_bleu"], 2)
    if importlib.util.find_spec("onnxruntime"):
        assert report["student_onnx_greedy_identical"] >= 0.99
    table = (tmp_path / "benchmark.md").read_text()
    assert "student greedy against teacher beam 5: speed ×, BLEU difference" in table
    assert not any(k.startswith("_") for k in report)


def test_train_windows_end_at_their_time_limit(make_cfg):
    """A precision the CPU only emulates must not hold the benchmark for an hour: with
    `max_window_s`, each window stops after its first step once that much time has passed."""
    from seq2seq.bench.phases import train_throughput

    cfg = make_cfg()
    full = train_throughput(cfg, "fp32", warmup=2, windows=2, window_steps=3)
    bounded = train_throughput(cfg, "fp32", warmup=2, windows=2, window_steps=3,
                               max_window_s=1e-9)
    assert full["timed_steps"] == 6 and len(full["windows"]) == 2
    assert bounded["timed_steps"] == 2 and len(bounded["windows"]) == 2
    assert bounded["tokens_per_s"] > 0
