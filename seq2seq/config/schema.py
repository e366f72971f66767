"""The typed schema of every config: each section of conf/ as a dataclass with its keys, their
types (an enum for every choice) and, for every number, a `Rule` (type, range, and the sentence
that says what is allowed). The YAML files keep the defaults and their comments; this says what
is allowed, and `checks.py` checks a composed config against it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

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
Precision = _choices("Precision", "auto", "fp32", "bf16", "fp16", "bf16_matmul")
Optimizer = _choices("Optimizer", "adam", "adamw")
Schedule = _choices("Schedule", "constant", "plateau", "warmup_decay", "budget")
DistBackend = _choices("DistBackend", "auto", "gloo", "nccl")
Corpus = _choices("Corpus", "multi30k", "tatoeba")
UnicodeForm = _choices("UnicodeForm", "NFC", "NFKC", "none")
SpmType = _choices("SpmType", "bpe", "unigram")
TargetPieces = _choices("TargetPieces", "seen", "all")
BadLines = _choices("BadLines", "error", "skip")
Sides = _choices("Sides", "src", "tgt", "both")


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
class SourceNoiseConfig:
    drop: float = below_one()
    shuffle: int = count()


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
    source_noise: SourceNoiseConfig = None
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
    init_from: str | None = None
    anchor: float = non_negative()
    freeze: list[str] = None
    select_on: str = ""
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
    vocab_from: str | None = None


@dataclass
class SubwordSamplingConfig:
    copies: int = count()
    alpha: float = up_to_one()
    nbest_size: int = _rule(Rule(True, "must be -1 (all) or an integer >= 1", lo=-1))
    sides: Sides = Sides.both
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
    sample: dict[str, int] = positive_int()
    sample_seed: int = count()
    valid_splits: list[str] = None
    test_splits: list[str] = None
    spm: SpmConfig = None
    subword_sampling: SubwordSamplingConfig | None = optional()  # absent in older checkpoints


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
class ServeLibreTranslate:
    prefix: str = ""
    char_limit: int = positive_int()
    max_alternatives: int = count()
    files_kept: int = positive_int()


@dataclass
class ServeAccess:
    api_keys: str | None = None
    requests_per_minute: int = count()


@dataclass
class ServeConfig:
    host: str = ""
    port: int = _rule(Rule(True, "must be a port number (1-65535)", lo=1, hi=65535))
    threads: int = positive_int()
    device: RunDevice = RunDevice.cpu
    limits: ServeLimits = None
    batching: ServeBatching = None
    libretranslate: ServeLibreTranslate = None
    access: ServeAccess = None


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
    glossary: str | None = None
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


Select = _choices("Select", "best", "chrf")


@dataclass
class DistillJob:
    data: DataConfig = None
    decode: DecodeConfig = None
    teacher: str | list[str] = ""
    average: bool = False
    out_dir: str = ""
    select: Select = Select.best
    chunk: int = positive_int()
    threads: int = positive_int()
    device: RunDevice = RunDevice.cpu


JOBS = {"train": TrainJob, "distill": DistillJob, "prepare_data": PrepareJob,
        "evaluate": EvaluateJob, "analyze": AnalyzeJob, "serve": ServeConfig}
SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
            "decode": DecodeConfig}
