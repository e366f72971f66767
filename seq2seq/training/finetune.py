"""Fine-tuning: a run that starts from a trained checkpoint (`train.init_from`) instead of
random weights. The run takes the checkpoint's model settings and its vocabulary (the new data
is encoded with the checkpoint's SentencePiece model, never refitted), loads its weights, and
starts a fresh optimizer and schedule; `train=finetune` is the recipe for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

from ..checkpoint import load_checkpoint
from ..data.prepare import given_vocab
from ..errors import Seq2SeqError

# Model settings that do not shape the weights: a fine-tuning run may set them anew.
TUNABLE = ("model.dropout",)


def model_overrides(overrides: Sequence[str]) -> dict[str, str]:
    """The command-line overrides that touch the model: {"model.encoder.layers": "2", "model":
    "gru_large"} from ["model.encoder.layers=2", "model=gru_large", "train.lr=0.001"]."""
    out = {}
    for item in overrides:
        key, _, value = item.lstrip("+~").partition("=")
        if key == "model" or key.startswith("model."):
            out[key] = value
    return out


def _at(tree, dotted: str):
    for part in dotted.split(".")[1:]:
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def adopt_checkpoint(cfg: DictConfig, overrides: Sequence[str] = ()) -> dict | None:
    """For a run with `train.init_from`: check the checkpoint, make `cfg.model` the
    checkpoint's and `cfg.data.spm.vocab_from` point to it; returns the checkpoint (None
    without init_from). `overrides` are the run's command-line overrides: one that sets a model
    setting to another value than the checkpoint has is an error, since the weights fix them
    (except those in TUNABLE, e.g. model.dropout, which the run takes)."""
    path = cfg.train.init_from
    if not path:
        return None
    ckpt = load_checkpoint(path)
    theirs = ckpt["config"]["model"]
    mine = OmegaConf.to_container(cfg.model, resolve=True)
    asked = model_overrides(overrides)
    tuned = {key: OmegaConf.select(cfg, key) for key in TUNABLE if key in asked}
    for key, value in asked.items():
        if key in tuned:
            continue
        if key == "model":
            if value != theirs.get("name"):
                raise Seq2SeqError(f"model={value} contradicts train.init_from={path}, a "
                                   f"{theirs.get('name')} model; fine-tuning keeps the "
                                   f"checkpoint's model: drop the override")
        elif _at(mine, key) != _at(theirs, key):
            raise Seq2SeqError(f"{key}={value} contradicts train.init_from={path} (which has "
                               f"{key}={_at(theirs, key)}); fine-tuning keeps the checkpoint's "
                               f"model settings: drop the override")
    named = cfg.data.spm.get("vocab_from")
    if named and named != path:
        other = given_vocab(cfg.data)
        if other.to_dict() != ckpt["vocab"]:
            raise Seq2SeqError(f"data.spm.vocab_from={named} has another vocabulary than "
                               f"train.init_from={path}; leave data.spm.vocab_from unset "
                               f"(fine-tuning encodes the data with the checkpoint's)")
    with open_dict(cfg):
        cfg.model = OmegaConf.create(theirs)
        for key, value in tuned.items():
            OmegaConf.update(cfg, key, value)
        cfg.data.spm.vocab_from = named or path
    return ckpt


def load_initial_weights(model, ckpt: dict, path: str) -> None:
    """The checkpoint's weights (the ones it validated and decodes: its moving average when it
    kept one) into `model`."""
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise Seq2SeqError(f"train.init_from={path} does not match its own model config "
                           f"({str(err).splitlines()[0]})")
