"""`evaluate(cfg, run_dir)`: translate test sets with a checkpoint and score them with sacreBLEU.

Writes `<run_dir>/<test set>.hyp.en` (one translation per line) and `<run_dir>/results.json`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..config import check_config
from ..data.cleaning import normalize
from ..data.corpora import read_lines
from ..data.prepare import load_splits
from ..data.testsets import load_testset
from ..decoding.confidence import sentence_confidence
from ..decoding.translator import Translator
from ..errors import Seq2SeqError
from ..text.glossary import fold, read_glossary
from .metrics import confidence_correlation, score_all

logger = logging.getLogger(__name__)


def test_sets(cfg: DictConfig) -> dict[str, tuple[list[str], list[str]]]:
    """{name: (French lines, English references)}: the data config's test splits, sacreBLEU's
    test sets named in `testsets`, and the optional `src=FILE ref=FILE` pair."""
    sets = {name: ([f for f, _ in pairs], [e for _, e in pairs])
            for name, pairs in load_splits(cfg.data, list(cfg.data.test_splits)).items()}
    for name in cfg.testsets or []:
        src, refs = load_testset(str(name))
        sets[f"sacrebleu.{name}"] = (src, [normalize(r, cfg.data.normalize) for r in refs])
    if (cfg.src is None) != (cfg.ref is None):
        raise Seq2SeqError("give both src=FILE and ref=FILE, or neither")
    if cfg.src is not None:
        src, ref = read_lines(Path(cfg.src)), read_lines(Path(cfg.ref))
        if len(src) != len(ref):
            raise Seq2SeqError(f"{cfg.src} has {len(src)} lines but {cfg.ref} has {len(ref)}")
        sets[Path(cfg.src).stem] = (src, [normalize(r, cfg.data.normalize) for r in ref])
    return sets


def evaluate(cfg: DictConfig, run_dir: Path, log=None) -> dict:
    """Translate the test sets of `cfg` (the whole evaluate.yaml config) and score them;
    writes the hypotheses and results.json to `run_dir` and returns the results."""
    check_config(cfg, "evaluate")
    log = log or logger.info
    torch.set_num_threads(cfg.threads)
    checkpoints = cfg.checkpoint
    if OmegaConf.is_list(checkpoints):
        checkpoints = [str(c) for c in checkpoints]
    translator = Translator.from_checkpoint(checkpoints, cfg.decode, cfg.device,
                                            average=cfg.average)
    glossary = read_glossary(cfg.glossary, translator.warn) if cfg.glossary else None
    if glossary:
        translator = translator.with_glossary(glossary)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = {"checkpoint": checkpoints if isinstance(checkpoints, str) else
               f"{'average' if cfg.average else 'ensemble'} of {', '.join(checkpoints)}",
               "beam_size": cfg.decode.beam_size,
               "length_penalty": cfg.decode.length_penalty, "glossary": cfg.glossary,
               "sets": {}}
    for name, (src, refs) in test_sets(cfg).items():
        start = time.perf_counter()
        translations = translator.translations(src)
        seconds = time.perf_counter() - start
        hyps = [t.text for t in translations]
        (run_dir / f"{name}.hyp.en").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
        scores = score_all(hyps, refs)
        rho = confidence_correlation([sentence_confidence(t) for t in translations], hyps, refs)
        scores["confidence_chrf_spearman"] = None if rho != rho else round(rho, 3)
        if glossary:
            scores.update(glossary_terms(glossary, src, hyps, cfg.data.normalize))
        scores.update(sentences=len(src), seconds=round(seconds, 2),
                      sentences_per_s=round(len(src) / max(seconds, 1e-9), 1))
        results["sets"][name] = scores
    (run_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    log(format_table(results))
    log(f"hypotheses and results.json in {run_dir}")
    return results


def glossary_terms(glossary, src: list[str], hyps: list[str], normalize_cfg) -> dict:
    """How many glossary terms the test set's sources call for, and the share of them whose
    English side the translation contains."""
    wanted = placed = 0
    for line, hyp in zip(src, hyps):
        for _, en in glossary.terms(normalize(line, normalize_cfg)):
            wanted += 1
            placed += fold(en) in fold(hyp)
    return {"glossary_terms": wanted,
            "glossary_terms_placed": round(placed / wanted, 4) if wanted else None}


def format_table(results: dict) -> str:
    search = "greedy" if results["beam_size"] == 1 else f"beam {results['beam_size']}"
    lines = [f"{results['checkpoint']}, {search} search:", "",
             "| test set | BLEU | chrF | TER | sentences/s | confidence ~ sentence chrF "
             "(Spearman) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, s in results["sets"].items():
        rho = s.get("confidence_chrf_spearman")
        lines.append(f"| {name} | {s['bleu']:.2f} | {s['chrf']:.2f} | {s['ter']:.2f} | "
                     f"{s['sentences_per_s']:.0f} | {'–' if rho is None else f'{rho:.3f}'} |")
    for name, s in results["sets"].items():
        if s.get("glossary_terms"):
            lines.append(f"glossary {results['glossary']}, {name}: {s['glossary_terms']} terms, "
                         f"{s['glossary_terms_placed']:.1%} in the translations")
    first = next(iter(results["sets"].values()), None)
    if first:
        lines += ["", f"BLEU: {first['bleu_signature']}", f"chrF: {first['chrf_signature']}",
                  f"TER:  {first['ter_signature']}"]
    return "\n".join(lines)
