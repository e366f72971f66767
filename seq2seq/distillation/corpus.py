"""`distill(cfg)`: the teacher's translation of a training corpus, written as a parallel corpus
(`<out_dir>/train.fr`, `train.en`) that `data=distilled` trains a student on.

The pairs are translated a chunk at a time (`chunk` sentences; inside a chunk the translator
batches them by length) and each chunk is appended to both files and flushed to disk before the
next starts, so memory stays bounded and a run killed halfway keeps what it wrote: run the same
command again and it continues after the last complete line of both files (a partly written
line is cut off). `<out_dir>/distill.json` records the teacher, the decoding and the data
settings; continuing with other ones is refused.

`select=chrf` keeps, of the teacher's n-best list, the translation closest to the reference by
sentence chrF (a common filter against the teacher's errors); `best` keeps its best hypothesis.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from sacrebleu.metrics import CHRF
from tqdm import tqdm

from ..atomic import atomic_open
from ..config import check_config
from ..decoding.translator import Translator
from ..errors import Seq2SeqError
from .pairs import identity, training_pairs

logger = logging.getLogger(__name__)

META = "distill.json"


def _teachers(cfg: DictConfig) -> list[str]:
    t = cfg.teacher
    return [str(x) for x in t] if OmegaConf.is_list(t) else [str(t)]


def _settings(cfg: DictConfig, teachers: list[str]) -> dict:
    """What decides the output: a run continues only a file written with the same."""
    files = [Path(p) for p in teachers]
    return {"teacher": [str(p.resolve()) for p in files],
            "teacher_bytes": [p.stat().st_size for p in files],
            "average": cfg.average, "select": cfg.select,
            "decode": OmegaConf.to_container(cfg.decode, resolve=True),
            "data": identity(cfg.data)}


def complete_lines(path: Path) -> int:
    """How many lines of a file end with a line break (0 when it is missing)."""
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(raw.endswith(b"\n") for raw in f)


def _cut(path: Path, lines: int) -> None:
    """Keep the first `lines` lines of `path`."""
    size = 0
    with open(path, "rb") as f:
        for raw in itertools.islice(f, lines):
            size += len(raw)
    with open(path, "r+b") as f:
        f.truncate(size)


def _start(out_dir: Path, settings: dict, log) -> int:
    """How many pairs earlier runs wrote completely (the files are cut to that)."""
    meta_path = out_dir / META
    fr, en = out_dir / "train.fr", out_dir / "train.en"
    if meta_path.exists():
        try:
            before = json.loads(meta_path.read_text())["settings"]
        except (ValueError, KeyError):
            raise Seq2SeqError(f"{meta_path} is damaged; delete {out_dir} to start again")
        if before != settings:
            what = [k for k in settings if before.get(k) != settings[k]]
            raise Seq2SeqError(f"{out_dir} holds a distillation with other settings "
                               f"({', '.join(what)}); choose another out_dir or delete it")
    elif fr.exists() or en.exists():
        raise Seq2SeqError(f"{out_dir} has train.fr/train.en but no {META}: not a "
                           f"distillation output; choose another out_dir")
    done = min(complete_lines(fr), complete_lines(en))
    for path in (fr, en):
        if path.exists():
            _cut(path, done)
    if done:
        log(f"continuing after the {done:,} pairs already in {out_dir}")
    return done


def _choose(translations, refs: list[str], select: str, chrf: CHRF) -> list[str]:
    if select == "best":
        return [t.text for t in translations]
    out = []
    for t, ref in zip(translations, refs):
        scored = [(chrf.sentence_score(c.text, [ref]).score, -i, c.text)
                  for i, c in enumerate(t.nbest) if c.text]
        out.append(max(scored)[2] if scored else t.text)
    return out


def _write_meta(out_dir: Path, settings: dict, done: int, finished: bool, stats: dict) -> None:
    with atomic_open(out_dir / META) as f:
        f.write(json.dumps({"settings": settings, "pairs": done, "finished": finished,
                            **stats}, indent=2).encode() + b"\n")


def distill(cfg: DictConfig, log=None) -> dict:
    """Translate the training corpus of `cfg.data` with the teacher (the whole distill.yaml
    config) into `cfg.out_dir`; returns the counts and speed."""
    check_config(cfg, "distill")
    log = log or logger.info
    teachers = _teachers(cfg)
    torch.set_num_threads(cfg.threads)
    translator = Translator.from_checkpoint(teachers, cfg.decode, cfg.device,
                                            average=cfg.average)
    out_dir = Path(cfg.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise Seq2SeqError(f"cannot write to {out_dir} ({err.strerror}); set out_dir")
    settings = _settings(cfg, teachers)
    done = _start(out_dir, settings, log)
    pairs = training_pairs(cfg.data)
    total = _count(cfg) if not list(cfg.data.files.train or []) else None
    if total == 0:
        raise Seq2SeqError(f"data={cfg.data.name} has no training pairs to translate; check "
                           f"data.corpora and data.filter")
    log(f"teacher {', '.join(teachers)}: beam {cfg.decode.beam_size}, select={cfg.select}; "
        f"{'the' if total is None else f'{total:,}'} training pairs of data={cfg.data.name} "
        f"→ {out_dir}")
    rest = itertools.islice(pairs, done, None)
    chrf, written, empty = CHRF(), 0, 0
    start = time.perf_counter()
    bar = tqdm(total=total, initial=done, desc="distilling", unit=" sent", disable=None,
               dynamic_ncols=True)
    with open(out_dir / "train.fr", "ab") as fr_f, open(out_dir / "train.en", "ab") as en_f:
        while chunk := list(itertools.islice(rest, cfg.chunk)):
            src = [fr for _, (fr, _) in chunk]
            refs = [en for _, (_, en) in chunk]
            unique = list(dict.fromkeys(src))  # a repeated source is translated once
            found = dict(zip(unique, translator.translations(unique)))
            hyps = _choose([found[s] for s in src], refs, cfg.select, chrf)
            empty += sum(not h for h in hyps)
            hyps = [h or ref for h, ref in zip(hyps, refs)]  # nothing to learn from an empty one
            fr_f.write("".join(s + "\n" for s in src).encode())
            en_f.write("".join(h + "\n" for h in hyps).encode())
            for f in (fr_f, en_f):
                f.flush()
                os.fsync(f.fileno())
            written += len(chunk)
            bar.update(len(chunk))
            _write_meta(out_dir, settings, done + written, False, {})
    bar.close()
    seconds = time.perf_counter() - start
    stats = {"translated_now": written, "seconds_now": round(seconds, 1),
             "sentences_per_s": round(written / seconds, 1) if written else None,
             "empty_kept_reference": empty}
    _write_meta(out_dir, settings, done + written, True, stats)
    log(f"{done + written:,} pairs in {out_dir}/train.fr, train.en ({written:,} translated now "
        f"in {seconds:.0f} s" + (f", {written / seconds:.0f} sentences/s)" if written else ")"))
    log(f"train a student on them: seq2seq-train data=distilled "
        f"data.files.train.0.src={out_dir}/train.fr data.files.train.0.tgt={out_dir}/train.en "
        f"model=gru_small")
    return {"pairs": done + written, **stats}


def _count(cfg: DictConfig) -> int:
    return sum(1 for _ in training_pairs(cfg.data))
