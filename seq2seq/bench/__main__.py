"""One benchmark phase in this process: `python -m seq2seq.bench PHASE ARGS_JSON THREADS`."""

import json
import sys

import torch
from omegaconf import OmegaConf

from ..memory import tune_memory
from . import phases


def main() -> None:
    tune_memory()
    name, args, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    cfg = OmegaConf.create(args.pop("cfg")) if "cfg" in args else None
    if name == "matmul":
        device = args.get("device", "cpu")
        result = {"fp32": phases.matmul_gflops(torch.float32, device=device),
                  "bf16": phases.matmul_gflops(torch.bfloat16, device=device)}
    elif name == "train":
        result = phases.train_throughput(cfg, **args)
    elif name == "profile":
        from .step_profile import step_profile

        result = step_profile(cfg, **args)
    elif name == "auto":
        result = phases.auto_precision(cfg)
    elif name == "decode":
        result = phases.decode_speed(cfg, **args)
    elif name == "onnx":
        result = phases.onnx_decode(cfg, **args)
    else:
        raise SystemExit(f"unknown phase {name}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
