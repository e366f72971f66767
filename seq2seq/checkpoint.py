"""Checkpoints: one self-contained file written atomically and loaded without running code.

A checkpoint is a plain dict of tensors and primitive containers::

    {"format": "seq2seq-checkpoint", "version": 1,
     "model": state_dict, "config": resolved config (dict), "vocab": {"src": bytes, "tgt": ...},
     "train_state": {...} or None, "metrics": {...}}

It is read with `torch.load(..., weights_only=True)`, whose unpickler refuses any object other
than tensors and plain containers, so a crafted file cannot run code when loaded.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import zipfile
from pathlib import Path

import torch

from .atomic import atomic_open
from .errors import Seq2SeqError

FORMAT = "seq2seq-checkpoint"
VERSION = 1


def tensor_identity(t: torch.Tensor) -> tuple:
    """The same for a state dict's entries that are one tensor (tied weights, which `torch.save`
    keeps shared), different for views at other places of one storage (flattened RNN weights)."""
    return t.data_ptr(), t.shape, t.stride()


def save_checkpoint(obj: dict, path: Path) -> None:
    """Write `obj` to `path` atomically (see `atomic_open`): a crash or a full disk leaves the
    previous file at `path` intact."""
    try:
        with atomic_open(Path(path)) as f:
            torch.save({"format": FORMAT, "version": VERSION, **obj}, f)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise Seq2SeqError(f"no space left to write {path}; the previous checkpoint there "
                               f"is intact; free some disk space and resume")
        raise Seq2SeqError(f"cannot write checkpoint {path}: {err.strerror or err}")
    except RuntimeError as err:  # torch wraps write errors of its zip writer
        if "No space" in str(err) or "file write failed" in str(err):
            raise Seq2SeqError(f"no space left to write {path}; the previous checkpoint there "
                               f"is intact; free some disk space and resume")
        raise


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint safely; one clear error for a missing, damaged or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise Seq2SeqError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise Seq2SeqError(f"checkpoint {path} is empty")
    if not zipfile.is_zipfile(path):
        raise Seq2SeqError(f"checkpoint {path} is truncated or not a checkpoint (not a torch "
                           f"archive); use another copy")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        what = f" ({found.group(1)})" if found else ""
        raise Seq2SeqError(f"checkpoint {path} was refused: it holds objects other than tensors "
                           f"and plain data{what}, and such files are never unpickled")
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise Seq2SeqError(f"checkpoint {path} is truncated or not a checkpoint "
                           f"({type(err).__name__}); use another copy")
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise Seq2SeqError(f"{path} is not a seq2seq checkpoint")
    if obj.get("version") != VERSION:
        raise Seq2SeqError(f"checkpoint {path} has format version {obj.get('version')}; "
                           f"this release reads version {VERSION}")
    for key in ("model", "config", "vocab"):
        if key not in obj:
            raise Seq2SeqError(f"checkpoint {path} lacks '{key}'; it is incomplete")
    return obj
