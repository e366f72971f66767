"""A Hydra callback that sums up a sweep (`seq2seq-train -m ...`): every job writes its
overrides and result into its own run dir, and at the end of the sweep `summary.md` and
`summary.json` in the sweep dir list every trial, best validation BLEU first. Works with any
launcher, since each job leaves its result on disk (jobs may run in other processes or machines).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

RESULT = "result.json"


class SweepSummary(Callback):
    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        out = Path(config.hydra.runtime.output_dir)
        ok = job_return.status == JobStatus.COMPLETED
        value = job_return.return_value if ok else None
        result = {"overrides": list(job_return.overrides or []),
                  "valid_bleu": value if isinstance(value, (int, float)) else None,
                  "status": "completed" if ok else "failed", "run_dir": str(out)}
        if out.is_dir():
            (out / RESULT).write_text(json.dumps(result, indent=2) + "\n")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        rows = [json.loads(p.read_text()) for p in sorted(sweep.glob(f"*/{RESULT}"))]
        if not rows:
            return
        rows.sort(key=lambda r: -(r["valid_bleu"] if r["valid_bleu"] is not None and
                                  math.isfinite(r["valid_bleu"]) else -math.inf))
        common = set.intersection(*(set(r["overrides"]) for r in rows)) if len(rows) > 1 else set()
        for r in rows:  # what this job set differently from the others
            r["varied"] = [o for o in r["overrides"] if o not in common]
        (sweep / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
        lines = [f"# Sweep {sweep}", "", "| valid BLEU | settings | run dir |", "|---:|---|---|"]
        for r in rows:
            bleu = f"{r['valid_bleu']:.2f}" if r["valid_bleu"] is not None else r["status"]
            lines.append(f"| {bleu} | {' '.join(r['varied'])} | {Path(r['run_dir']).name} |")
        if common:
            lines += ["", f"Every job: {' '.join(sorted(common))}"]
        (sweep / "summary.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
