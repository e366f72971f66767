"""The typed schema of every config, and the one place where settings are checked.

Each section of conf/ has a dataclass here: its keys, their types (enums for choices) and their
ranges. `check_config(cfg, "train")` checks a whole composed config (the commands do it before
any work, right after composing); `check_section(node, "model")` one section (the library's entry
points: `build_model`, `prepare`, `Translator`). A bad value is one line naming the key, the value
and what is allowed: `train.lr=0: must be a number > 0`. The YAML files keep the defaults and
their comments; the schema says what is allowed.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from ..errors import Seq2SeqError

# The built-in corpora and their splits (`<corpus>.<split>` in data.valid_splits/test_splits).
MULTI30K_SPLITS = ("train", "val", "test_2016_flickr", "test_2017_flickr", "test_2017_mscoco")
CORPUS_SPLITS = {"multi30k": MULTI30K_SPLITS, "tatoeba": ("train", "dev", "test")}


# -- rules: a type and a range, with the sentence that says what is allowed --------------------

@dataclass(frozen=True)
class Rule:
    integer: bool
    allowed: str  # "must be ..." sentence
    lo: float = float("-inf")
    hi: float = float("inf")
    lo_open: bool = False
    hi_open: bool = False

    def ok(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int if self.integer else (int, float)):
            return False
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below


def _rule(rule: Rule):
    return field(default=None, metadata={"rule": rule})


def positive_int():
    return _rule(Rule(True, "must be a positive integer", lo=1))


def count():
    return _rule(Rule(True, "must be an integer >= 0", lo=0))


def positive():
    return _rule(Rule(False, "must be a number > 0", lo=0, lo_open=True))


def non_negative():
    return _rule(Rule(False, "must be a number >= 0", lo=0))


def below_one():
    return _rule(Rule(False, "must be in [0, 1)", lo=0, hi=1, hi_open=True))


def up_to_one():
    return _rule(Rule(False, "must be in (0, 1]", lo=0, hi=1, lo_open=True))


def optional():
    """A key that may be left out altogether (entries of data.files)."""
    return field(default=None, metadata={"optional": True})


# -- choices ---------------------------------------------------------------------------------

def _choices(name: str, *values: str) -> type[enum.Enum]:
    """An enum whose members are the strings a setting allows."""
    return enum.Enum(name, [(v, v) for v in values], type=str)


Cell = _choices("Cell", "gru", "lstm")
AttentionType = _choices("AttentionType", "none", "luong", "bahdanau")
Score = _choices("Score", "dot", "general")
Device = _choices("Device", "auto", "cpu", "cuda")
RunDevice = _choices("RunDevice", "cpu", "cuda")  # decoding commands: no auto
Precision = _choices("Precision", "auto", "fp32", "bf16", "fp16")
Optimizer = _choices("Optimizer", "adam", "adamw")
Schedule = _choices("Schedule", "constant", "plateau", "warmup_decay", "budget")
DistBackend = _choices("DistBackend", "auto", "gloo", "nccl")
Corpus = _choices("Corpus", "multi30k", "tatoeba")
UnicodeForm = _choices("UnicodeForm", "NFC", "NFKC", "none")
SpmType = _choices("SpmType", "bpe", "unigram")
TargetPieces = _choices("TargetPieces", "seen", "all")
BadLines = _choices("BadLines", "error", "skip")


# -- sections --------------------------------------------------------------------------------

@dataclass
class EncoderConfig:
    hidden: int = positive_int()  # per direction
    layers: int = positive_int()
    bidirectional: bool = True


@dataclass
class DecoderConfig:
    hidden: int = positive_int()
    layers: int = positive_int()
    input_feeding: bool = False


@dataclass
class AttentionConfig:
    type: AttentionType = AttentionType.luong
    score: Score = Score.general
    dim: int = positive_int()


@dataclass
class ModelConfig:
    name: str = ""
    cell: Cell = Cell.gru
    embed_dim: int = positive_int()
    dropout: float = below_one()
    tie_embeddings: bool = True
    encoder: EncoderConfig = None
    decoder: DecoderConfig = None
    attention: AttentionConfig = None


@dataclass
class CalibrationConfig:
    rounds: int = positive_int()
    steps: int = positive_int()
    margin: float = non_negative()


@dataclass
class TrainConfig:
    name: str = ""
    seed: int = count()
    threads: int = positive_int()
    device: Device = Device.cpu
    precision: Precision = Precision.auto
    calibration: CalibrationConfig = None
    optimizer: Optimizer = Optimizer.adam
    lr: float = positive()
    betas: list[float] = _rule(Rule(False, "must be in [0, 1)", lo=0, hi=1, hi_open=True))
    weight_decay: float = non_negative()
    schedule: Schedule = Schedule.budget
    warmup_steps: int = count()
    plateau_factor: float = up_to_one()
    plateau_patience: int = count()
    min_lr: float = non_negative()
    clip_grad_norm: float = non_negative()
    label_smoothing: float = below_one()
    ema_decay: float = below_one()
    batch_tokens: int = positive_int()
    accumulate: int = positive_int()
    max_len: int = positive_int()
    max_epochs: int = positive_int()
    max_steps: int = count()
    max_minutes: float = non_negative()
    valid_every: int = positive_int()
    log_every: int = positive_int()
    keep_checkpoints: int = count()
    patience: int = count()
    max_bad_steps: int = positive_int()
    resume: str | None = None
    dist_backend: DistBackend = DistBackend.auto
    dist_timeout_minutes: float = positive()


@dataclass
class DecodeConfig:
    beam_size: int = positive_int()  # 1 = greedy
    n_best: int = positive_int()  # <= beam_size
    length_penalty: float = non_negative()
    max_len_ratio: float = positive()
    max_len_extra: int = count()
    max_src_len: int = positive_int()
    batch_size: int = positive_int()


@dataclass
class UrlsConfig:
    multi30k: str = ""
    tatoeba: str = ""


@dataclass
class NormalizeConfig:
    unicode: UnicodeForm = UnicodeForm.NFC
    collapse_whitespace: bool = True
    strip_control: bool = True


@dataclass
class FilterConfig:
    max_words: int = positive_int()
    max_ratio: float = positive()


@dataclass
class TatoebaSplitConfig:
    seed: int = count()
    dev_size: int = count()
    test_size: int = count()
    max_group: int = positive_int()


@dataclass
class FileSpec:
    """One corpus of the user's: `src` + `tgt` (parallel files) or `tsv` (+ `columns`)."""

    name: str = ""
    src: str | None = optional()
    tgt: str | None = optional()
    tsv: str | None = optional()
    columns: list[str] | None = optional()


@dataclass
class FilesConfig:
    train: list[FileSpec] = None
    valid: list[FileSpec] = None
    test: list[FileSpec] = None


@dataclass
class SpmConfig:
    joint: bool = True
    model_type: SpmType = SpmType.bpe
    vocab_size: int = positive_int()
    target_pieces: TargetPieces = TargetPieces.seen
    character_coverage: float = up_to_one()
    byte_fallback: bool = True
    max_sentences: int = positive_int()
    seed: int = count()


@dataclass
class DataConfig:
    name: str = ""
    corpora: list[Corpus] = None
    root: str = ""
    cache_dir: str = ""
    download: bool = True
    urls: UrlsConfig = None
    normalize: NormalizeConfig = None
    filter: FilterConfig = None
    tatoeba_split: TatoebaSplitConfig = None
    files: FilesConfig = None
    dedupe: bool = False
    drop_leaks: bool = False
    tsv_bad_lines: BadLines = BadLines.error
    weights: dict[str, float] = positive()
    valid_splits: list[str] = None
    test_splits: list[str] = None
    spm: SpmConfig = None


@dataclass
class ServeLimits:
    max_body_bytes: int = positive_int()
    max_sentences: int = positive_int()
    max_chars: int = positive_int()
    max_beam: int = positive_int()
    timeout_s: float = positive()


@dataclass
class ServeBatching:
    wait_ms: float = non_negative()
    max_sentences: int = positive_int()


@dataclass
class ServeConfig:
    host: str = ""
    port: int = _rule(Rule(True, "must be a port number (1-65535)", lo=1, hi=65535))
    threads: int = positive_int()
    device: RunDevice = RunDevice.cpu
    limits: ServeLimits = None
    batching: ServeBatching = None


# -- the top-level configs of the commands ---------------------------------------------------

@dataclass
class TrainJob:
    data: DataConfig = None
    model: ModelConfig = None
    train: TrainConfig = None
    decode: DecodeConfig = None


@dataclass
class PrepareJob:
    data: DataConfig = None
    threads: int = positive_int()
    force: bool = False


@dataclass
class EvaluateJob:
    data: DataConfig = None
    decode: DecodeConfig = None
    checkpoint: str | list[str] = ""
    average: bool = False
    testsets: list[str] = None
    src: str | None = None
    ref: str | None = None
    device: RunDevice = RunDevice.cpu
    threads: int = positive_int()


@dataclass
class AnalyzeJob:
    data: DataConfig = None
    decode: DecodeConfig = None
    checkpoints: list[str] = None
    labels: list[str] | None = None
    test_set: str = ""
    buckets: list[int] = _rule(Rule(True, "must be integers >= 0", lo=0))
    worst: int = positive_int()
    threads: int = positive_int()
    device: RunDevice = RunDevice.cpu


JOBS = {"train": TrainJob, "prepare_data": PrepareJob, "evaluate": EvaluateJob,
        "analyze": AnalyzeJob, "serve": ServeConfig}
SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
            "decode": DecodeConfig}


# -- checking --------------------------------------------------------------------------------

def check_config(cfg: DictConfig, job: str) -> None:
    """Check the whole composed config of a command (`train`, `prepare_data`, `evaluate`,
    `analyze`, `serve`): every key known, every value of its type and in its range, and the
    settings that depend on each other consistent."""
    _check_node(cfg, JOBS[job], "")
    for name in SECTIONS:
        if name in cfg:
            _CROSS[name](cfg[name], name)


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
    if cfg.precision == "fp16" and cfg.device == "cpu":
        raise Seq2SeqError(f"{name}.precision=fp16 needs a CUDA device; on the CPU use bf16 or "
                           f"fp32")
    if cfg.dist_backend == "nccl" and cfg.device == "cpu":
        raise Seq2SeqError(f"{name}.dist_backend=nccl needs {name}.device=cuda; use gloo on the "
                           f"CPU")


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
    for corpus in cfg.weights:
        if corpus not in training:
            raise Seq2SeqError(f"{name}.weights.{corpus}: not a training corpus of "
                               f"data={cfg.name} ({training})")


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
