"""What the tests share: a tiny synthetic corpus in the real data layout, the real configs
composed and shrunk, and where the repository's files are. The fixtures over these are in
conftest.py."""

from __future__ import annotations

import gzip
import itertools
import random
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

SUBJECTS = [("le chat", "the cat"), ("le chien", "the dog"), ("la femme", "the woman"),
            ("l'homme", "the man"), ("la fille", "the girl"), ("le garçon", "the boy")]
COLOURS = [("noir", "black"), ("blanc", "white"), ("rouge", "red")]
VERBS = [("dort", "sleeps"), ("court", "runs"), ("mange", "eats"), ("joue", "plays"),
         ("saute", "jumps")]
PLACES = [("dans le jardin", "in the garden"), ("sur la plage", "on the beach"),
          ("à la fenêtre", "at the window"), ("", "")]


def toy_pairs() -> list[tuple[str, str]]:
    """360 (French, English) pairs from templates, in a fixed shuffled order."""
    pairs = []
    for (s, se), (c, ce), (v, ve), (p, pe) in itertools.product(SUBJECTS, COLOURS, VERBS, PLACES):
        fr = " ".join(x for x in (s, c, v, p) if x) + " ."
        art, noun = se.split()
        en = " ".join(x for x in (art, ce, noun, ve, pe) if x) + " ."
        pairs.append((fr[0].upper() + fr[1:], en[0].upper() + en[1:]))
    random.Random(0).shuffle(pairs)
    return pairs


def write_gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def write_toy_root(root: Path) -> Path:
    pairs = toy_pairs()
    parts = {"train": pairs[:280], "val": pairs[280:310], "test_2016_flickr": pairs[310:330],
             "test_2017_flickr": pairs[330:345], "test_2017_mscoco": pairs[345:360]}
    for split, ps in parts.items():
        write_gz(root / "multi30k" / f"{split}.fr.gz", [f for f, _ in ps])
        write_gz(root / "multi30k" / f"{split}.en.gz", [e for _, e in ps])
    tatoeba = [f"{e}\t{f}" for f, e in pairs]
    tatoeba += [f"{pairs[0][1]}\t{pairs[1][0]}", f"{pairs[2][1]}\t{pairs[2][0]} !"]
    write_gz(root / "tatoeba" / "fra-eng.txt.gz", tatoeba)
    return root


TINY = [
    "data=multi30k",
    "data.spm.vocab_size=300",
    "data.tatoeba_split.dev_size=30",
    "data.tatoeba_split.test_size=30",
    "model.embed_dim=32", "model.encoder.hidden=32", "model.decoder.hidden=64",
    "model.attention.dim=32", "model.dropout=0.1",
]
TINY_TRAIN = ["train.batch_tokens=400", "train.threads=2", "train.max_minutes=0",
              "train.precision=fp32", "train.valid_every=50", "train.max_steps=100",
              "train.lr=0.005"]


def compose_config(name: str, root: Path, cache: Path, overrides: list[str] = ()) -> DictConfig:
    """The real `conf/<name>.yaml`, composed with overrides and pointed at `root`/`cache`."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides))
    with open_dict(cfg):
        cfg.data.root = str(root)
        cfg.data.cache_dir = str(cache)
        cfg.data.download = False
    return cfg




def assert_resume_is_exact(make_cfg, tmp_path: Path, overrides: list[str], steps: int = 40,
                           cut: int = 23, log=None) -> None:
    """Train `steps` updates in one run (into tmp_path/full, logging to `log`), and `cut` of them
    then the rest resumed from last.pt: the final weights must be bit-for-bit equal."""
    import torch

    from seq2seq.checkpoint import load_checkpoint
    from seq2seq.training.loop import train

    quiet = lambda *_: None  # noqa: E731
    common = list(overrides) + ["train.valid_every=20", "train.batch_tokens=200",
                                "train.schedule=warmup_decay", "train.warmup_steps=10"]
    train(make_cfg("train", common + [f"train.max_steps={steps}"]), tmp_path / "full",
          log=log or quiet)
    train(make_cfg("train", common + [f"train.max_steps={cut}"]), tmp_path / "a", log=quiet)
    train(make_cfg("train", common + [f"train.max_steps={steps}",
                                      f"train.resume={tmp_path / 'a/checkpoints/last.pt'}"]),
          tmp_path / "b", log=quiet)
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")["model"]
    b = load_checkpoint(tmp_path / "b/checkpoints/last.pt")["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
