"""CUDA checks, run on a machine with a GPU (skipped, saying so, everywhere else):

    python -m pytest tests/test_cuda.py -v

bf16 and fp16 (with its gradient scaler) training, translation on the GPU, checkpoints moving
between GPU and CPU, and a 2-GPU DDP run where two GPUs exist."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from seq2seq.checkpoint import load_checkpoint
from seq2seq.decoding.translator import Translator
from seq2seq.training.loop import train

from .helpers import ROOT, TINY

pytestmark = [pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
              pytest.mark.slow]

SENTENCES = ["Le chat noir dort .", "La femme rouge mange sur la plage .", "Le garçon saute ."]
GREEDY = OmegaConf.create({"beam_size": 1, "n_best": 1, "length_penalty": 1.0,
                           "max_len_ratio": 1.5, "max_len_extra": 10, "max_src_len": 250,
                           "batch_size": 64})


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_on_the_gpu(make_cfg, tmp_path, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    cfg = make_cfg("train", ["train.device=cuda", f"train.precision={precision}",
                             "train.max_steps=300", "train.valid_every=100"])
    summary = train(cfg, tmp_path, log=lambda *_: None)
    assert summary["precision"] == precision and summary["step"] == 300
    rows = [r for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert all(t.device.type == "cpu" for t in ckpt["model"].values())  # loads anywhere
    assert summary["best_bleu"] > 50  # the toy task is learnt


def test_gpu_checkpoint_translates_on_the_cpu_and_back(make_cfg, tmp_path, trained):
    cfg = make_cfg("train", ["train.device=cuda", "train.precision=fp32",
                             "train.max_steps=300", "train.valid_every=100"])
    train(cfg, tmp_path, log=lambda *_: None)
    gpu_ckpt = tmp_path / "checkpoints" / "best.pt"
    on_cpu = Translator.from_checkpoint(gpu_ckpt, GREEDY, "cpu").translate(SENTENCES)
    on_gpu = Translator.from_checkpoint(gpu_ckpt, GREEDY, "cuda").translate(SENTENCES)
    assert on_cpu == on_gpu
    cpu_trained = Translator.from_checkpoint(trained, GREEDY, "cuda").translate(SENTENCES)
    assert cpu_trained == Translator.from_checkpoint(trained, GREEDY).translate(SENTENCES)


def test_translate_script_on_the_gpu(trained, script_env):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "translate.py"), "-c",
                        str(trained), "--device", "cuda", "--beam-size", "5", *SENTENCES],
                       env=script_env, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "The black cat sleeps ."


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_gpus_with_ddp(script_env, tmp_path):
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc_per_node=2", str(ROOT / "scripts" / "train.py"), *TINY,
                        "train.device=cuda", "train.max_steps=50", "train.valid_every=25",
                        "train.max_minutes=0", f"hydra.run.dir={tmp_path}"],
                       env=script_env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "2 ranks (nccl, cuda)" in r.stdout
