"""The one place where settings are checked: `check_config(cfg, "train")` checks a whole composed
config against the schema (`schema.py`) — the commands do it right after composing, before any
work — and `check_section(node, "model")` one section (the library's entry points:
`build_model`, `prepare`, the translators). Unknown keys are refused; settings that depend on
each other are checked together. A bad value is one line naming the key, the value and what is
allowed: `train.lr=0: must be a number > 0`.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from typing import Any, Union

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from ..errors import Seq2SeqError
from .schema import CORPUS_SPLITS, JOBS, SECTIONS, Rule


def check_config(cfg: DictConfig, job: str) -> None:
    """Check the whole composed config of a command (`train`, `prepare_data`, `evaluate`,
    `analyze`, `serve`): every key known, every value of its type and in its range, and the
    settings that depend on each other consistent."""
    _check_node(cfg, JOBS[job], "")
    for name in SECTIONS:
        if name in cfg:
            _CROSS[name](cfg[name], name)
    if job == "serve":
        _cross_serve(cfg)
    if job == "train":
        _cross_train_job(cfg)
    if job == "distill" and cfg.select == "chrf" and cfg.decode.n_best < 2:
        raise Seq2SeqError("select=chrf picks among the teacher's n-best translations: set "
                           "decode.n_best (e.g. decode.n_best=5 with beam 5)")


def check_section(node: DictConfig, name: str) -> None:
    """Check one section (`data`, `model`, `train` or `decode`), with keys named from it."""
    _check_node(node, SECTIONS[name], f"{name}.")
    _CROSS[name](node, name)


def _fail(key: str, value: Any, allowed: str) -> None:
    shown = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    raise Seq2SeqError(f"{key}={_show(shown)}: {allowed}")


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _check_node(node: Any, schema: type, prefix: str) -> None:
    if not isinstance(node, (DictConfig, dict)):
        _fail(prefix.rstrip("."), node, "must be a group of settings")
    hints = typing.get_type_hints(schema)
    names = set()
    for f in dataclasses.fields(schema):
        names.add(f.name)
        key = prefix + f.name
        if f.name not in node.keys():  # (`in` is False for a `???` value)
            if f.metadata.get("optional"):
                continue
            raise Seq2SeqError(f"{key} is missing; add it to the config (see conf/)")
        try:
            value = node[f.name]
        except MissingMandatoryValue:
            raise Seq2SeqError(f"{key} is required: give {key}=...")
        _check_value(value, hints[f.name], f.metadata.get("rule"), key)
    unknown = sorted(set(node.keys()) - names)
    if unknown:
        raise Seq2SeqError(f"{prefix}{unknown[0]}: unknown setting; known: {sorted(names)}")


def _check_value(value: Any, hint: Any, rule: Rule | None, key: str) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _check_value(value, option, rule, key)
            except Seq2SeqError as err:
                errors.append(err)
        raise errors[-1]
    if origin is list:
        if not isinstance(value, (ListConfig, list)):
            _fail(key, value, "must be a list")
        for i, item in enumerate(value):
            _check_value(item, args[0], rule, f"{key}[{i}]")
        return
    if origin is dict:
        if not isinstance(value, (DictConfig, dict)):
            _fail(key, value, "must be a mapping")
        for k, item in value.items():
            _check_value(item, args[1], rule, f"{key}.{k}")
        return
    if dataclasses.is_dataclass(hint):
        _check_node(value, hint, f"{key}.")
        return
    if rule is not None:
        if not rule.ok(value):
            _fail(key, value, rule.allowed)
        return
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if value not in [e.value for e in hint]:
            _fail(key, value, f"choose one of {[e.value for e in hint]}")
        return
    if hint is bool and not isinstance(value, bool):
        _fail(key, value, "must be true or false")
    if hint is str and not isinstance(value, str):
        _fail(key, value, "must be a string")


# -- settings that depend on each other ------------------------------------------------------

_NATIVE_PATHS = ("/translate", "/health", "/info", "/static", "/docs", "/openapi.json", "/redoc")


def _cross_serve(cfg: DictConfig) -> None:
    prefix = cfg.libretranslate.prefix
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix or "") or prefix in _NATIVE_PATHS:
        _fail("libretranslate.prefix", prefix, "must be a path such as /libretranslate (no "
              "trailing slash, not one of the native API's paths)")


def _cross_train_job(cfg: DictConfig) -> None:
    if cfg.train.name == "finetune" and not cfg.train.init_from:
        raise Seq2SeqError("train=finetune starts from a trained model: give "
                           "train.init_from=<checkpoint>, e.g. outputs/main/checkpoints/best.pt")
    if cfg.train.anchor and not cfg.train.init_from:
        raise Seq2SeqError("train.anchor pulls the weights toward a starting checkpoint: give "
                           "train.init_from=<checkpoint>, or leave train.anchor=0")
    choice, splits = cfg.train.select_on, list(cfg.data.valid_splits)
    if choice not in ("all", "first") and choice not in splits:
        _fail("train.select_on", choice, f"choose all, first or one of data.valid_splits "
              f"{splits}")


def _cross_model(cfg: DictConfig, name: str) -> None:
    att = cfg.attention
    memory = cfg.encoder.hidden * (2 if cfg.encoder.bidirectional else 1)
    if att.type == "luong" and att.score == "dot" and memory != cfg.decoder.hidden:
        raise Seq2SeqError(f"dot attention needs decoder.hidden ({cfg.decoder.hidden}) equal to "
                           f"the encoder output size ({memory}); use attention.score=general")
    if cfg.decoder.input_feeding and att.type == "none":
        raise Seq2SeqError(f"{name}.decoder.input_feeding needs attention; set attention.type")


def _cross_train(cfg: DictConfig, name: str) -> None:
    if cfg.schedule == "budget" and not (cfg.max_minutes or cfg.max_steps):
        raise Seq2SeqError(f"{name}.schedule=budget decays over the budget: set "
                           f"{name}.max_minutes or {name}.max_steps")
    if len(cfg.betas) != 2:
        _fail(f"{name}.betas", cfg.betas, "must be two numbers in [0, 1)")


def _cross_decode(cfg: DictConfig, name: str) -> None:
    if cfg.n_best > cfg.beam_size:
        raise Seq2SeqError(f"{name}.n_best={cfg.n_best}: must be at most {name}.beam_size "
                           f"({cfg.beam_size})")


def _cross_data(cfg: DictConfig, name: str) -> None:
    files = {part: list(cfg.files[part] or []) for part in ("train", "valid", "test")}
    for part, specs in files.items():
        for i, spec in enumerate(specs):
            _check_file_spec(spec, f"{name}.files.{part}[{i}]")
    train_files = [s.name for s in files["train"]]
    if not (cfg.corpora or train_files):
        raise Seq2SeqError(f"{name}.corpora=[]: choose from {list(CORPUS_SPLITS)}, or name "
                           f"training files in {name}.files.train")
    clash = set(train_files) & set(CORPUS_SPLITS) or {n for n in train_files
                                                      if train_files.count(n) > 1}
    if clash:
        raise Seq2SeqError(f"{name}.files.train: the name {sorted(clash)[0]} is taken; give each "
                           f"corpus its own name")
    held_files = {f"files.{s.name}" for p in ("valid", "test") for s in files[p]}
    for split_name in list(cfg.valid_splits) + list(cfg.test_splits):
        corpus, _, split = split_name.partition(".")
        if split_name not in held_files and split not in CORPUS_SPLITS.get(corpus, ()):
            known = [f"{c}.{s}" for c, splits in CORPUS_SPLITS.items() for s in splits
                     if s != "train"]
            raise Seq2SeqError(f"unknown split '{split_name}' in data config; known: "
                               f"{known + sorted(held_files)}")
    if not cfg.valid_splits:
        raise Seq2SeqError(f"{name}.valid_splits is empty; training needs a validation split")
    training = list(cfg.corpora) + train_files
    for key in ("weights", "sample"):
        for corpus in cfg[key]:
            if corpus not in training:
                raise Seq2SeqError(f"{name}.{key}.{corpus}: not a training corpus of "
                                   f"data={cfg.name} ({training})")
    sampling = cfg.get("subword_sampling")
    if sampling is not None and sampling.nbest_size == 0:
        _fail(f"{name}.subword_sampling.nbest_size", 0, "must be -1 (sample from every "
              "segmentation) or an integer >= 1 (from the n best; unigram models)")


def _check_file_spec(spec: DictConfig, where: str) -> None:
    """A corpus entry names src and tgt, or tsv (with columns [fr, en] or [en, fr])."""
    has_pair, has_tsv = bool(spec.get("src") or spec.get("tgt")), bool(spec.get("tsv"))
    if not spec.get("name"):
        raise Seq2SeqError(f"{where}: every corpus needs a name")
    if has_pair == has_tsv or (has_pair and not (spec.get("src") and spec.get("tgt"))):
        raise Seq2SeqError(f"{where} ({spec.name}): give src and tgt (parallel files) or tsv "
                           f"(tab-separated pairs), not both")
    if has_tsv:
        columns = list(spec.get("columns") or ["fr", "en"])
        if sorted(columns) != ["en", "fr"]:
            raise Seq2SeqError(f"{where} ({spec.name}): columns={columns}; give [fr, en] or "
                               f"[en, fr]")


_CROSS = {"model": _cross_model, "train": _cross_train, "decode": _cross_decode,
          "data": _cross_data}
