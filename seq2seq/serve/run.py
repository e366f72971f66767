"""`serve(args)`: load the checkpoint(s), build the app, run it on uvicorn."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from omegaconf import OmegaConf

from ..config import check_config, load_config_file
from ..decoding.translator import Translator
from ..errors import Seq2SeqError


def serve_config(overrides: list[str], host: str | None = None, port: int | None = None,
                 api_keys: str | None = None, req_limit: int | None = None):
    cfg = load_config_file("serve.yaml")
    try:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))
    except Exception as err:  # OmegaConf's several error types
        raise Seq2SeqError(f"--set {' '.join(overrides)}: {str(err).splitlines()[0]}")
    if host:
        cfg.host = host
    if port:
        cfg.port = port
    if api_keys:
        cfg.access.api_keys = api_keys
    if req_limit is not None:
        cfg.access.requests_per_minute = req_limit
    check_config(cfg, "serve")
    return cfg


def model_info(paths: list[str], translator: Translator, scores: str | None) -> dict:
    from ..checkpoint import load_checkpoint

    first = load_checkpoint(paths[0])
    info = {"checkpoints": paths, "model": first["config"]["model"],
            "parameters": sum(p.numel() for p in translator.model.parameters()),
            "vocabulary": {"source": translator.vocab.src_size,
                           "target": translator.vocab.tgt_size,
                           "joint": translator.vocab.joint},
            "validation": first.get("metrics")}
    if scores:
        try:
            info["evaluation"] = json.loads(Path(scores).read_text())
        except (OSError, ValueError) as err:
            raise Seq2SeqError(f"--scores {scores}: not a results.json ({err})")
    return info


def serve(args) -> None:
    try:
        import uvicorn

        from .app import create_app
    except ImportError:
        raise Seq2SeqError('serving needs its extra: pip install -e ".[serve]"')
    cfg = serve_config(args.set, args.host, args.port, args.api_keys, args.req_limit)
    torch.set_num_threads(cfg.threads)
    translator = Translator.from_checkpoint(args.checkpoint, device=cfg.device,
                                            beam_size=args.beam_size)
    app = create_app(translator, cfg, model_info(args.checkpoint, translator, args.scores))
    base = f"http://{cfg.host}:{cfg.port}"
    print(f"serving on {base}/ (API docs at /docs); Ctrl-C stops\n"
          f"LibreTranslate clients: use {base}{cfg.libretranslate.prefix}/ as the server URL"
          + (" (with an API key)" if cfg.access.api_keys else ""), flush=True)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
