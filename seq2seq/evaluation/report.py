"""The README's results table, from evaluation runs rather than by hand.

    seq2seq-report outputs/eval/quick-greedy outputs/eval/quick-beam5 ...

Each argument is a run dir of seq2seq-evaluate (its results.json); runs of the same
checkpoint(s) at different beam sizes become one row: BLEU greedy / beam 5 per test set, chrF
beam 5, training minutes and parameters (read from the checkpoint), and the sacreBLEU signature.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..checkpoint import load_checkpoint, tensor_identity
from ..errors import Seq2SeqError


def load_results(run_dirs: list[str]) -> list[dict]:
    out = []
    for d in run_dirs:
        path = Path(d) / "results.json" if Path(d).is_dir() else Path(d)
        if not path.is_file():
            raise Seq2SeqError(f"{path} not found; give run dirs of seq2seq-evaluate")
        out.append(json.loads(path.read_text()))
    return out


def checkpoint_facts(name: str) -> dict:
    """Training minutes, steps and parameters of an evaluation's checkpoint. An ensemble's
    ("ensemble of a.pt, b.pt") are its members' added up (training time and model size both
    grow with it); an average's ("average of ...") are its first checkpoint's."""
    kind, of, rest = name.partition(" of ")
    paths = rest.split(", ") if of else [name]
    members = paths if kind == "ensemble" else paths[:1]
    facts = [_one_checkpoint(p) for p in members]
    if not all(facts):
        return {}
    out = dict(facts[0])
    for key in ("minutes", "parameters"):
        out[key] = sum(f[key] for f in facts)
    for key in ("model", "data"):
        out[key] = " + ".join(dict.fromkeys(f[key] for f in facts))
    return out


def _one_checkpoint(path: str) -> dict:
    try:
        ckpt = load_checkpoint(path)
    except Seq2SeqError:
        return {}
    metrics = ckpt.get("metrics") or {}
    unique = {tensor_identity(v): v.numel() for v in ckpt["model"].values()
              if v.is_floating_point()}  # tied weights are one tensor: counted once
    return {"minutes": (metrics.get("elapsed_s") or 0) / 60, "step": metrics.get("step"),
            "parameters": sum(unique.values()), "model": ckpt["config"]["model"]["name"],
            "data": ckpt["config"]["data"]["name"],
            "recipe": ckpt["config"]["train"].get("name")}


def results_table(results: list[dict], labels: dict[str, str] | None = None) -> str:
    rows: dict[str, dict] = {}
    for r in results:
        row = rows.setdefault(r["checkpoint"], {"sets": {}})
        for name, s in r["sets"].items():
            row["sets"].setdefault(name, {})[r["beam_size"]] = s
    sets = list(dict.fromkeys(n for r in rows.values() for n in r["sets"]))
    head = " | ".join(f"{s}: BLEU greedy / beam 5 (chrF)" for s in sets)
    lines = [f"| recipe | model, data | minutes | parameters | {head} |",
             "|---|---|---:|---:|" + "---|" * len(sets)]
    signature = None
    for ckpt, row in rows.items():
        facts = checkpoint_facts(ckpt)
        cells = []
        for s in sets:
            by_beam = row["sets"].get(s, {})
            greedy, beam = by_beam.get(1), by_beam.get(5)
            signature = signature or (beam or greedy or {}).get("bleu_signature")
            g = f"{greedy['bleu']:.1f}" if greedy else "–"
            b = f"{beam['bleu']:.1f} ({beam['chrf']:.1f})" if beam else "–"
            cells.append(f"{g} / {b}")
        label = (labels or {}).get(ckpt) or facts.get("recipe", "?")
        minutes = f"{facts['minutes']:.0f}" if facts.get("minutes") else "–"
        params = f"{facts['parameters'] / 1e6:.1f} M" if facts.get("parameters") else "–"
        lines.append(f"| {label} | {facts.get('model', '?')}, {facts.get('data', '?')} | "
                     f"{minutes} | {params} | {' | '.join(cells)} |")
    if signature:
        lines += ["", f"BLEU signature: `{signature}`"]
    return "\n".join(lines)
