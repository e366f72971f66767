"""seq2seq: French-to-English translation with recurrent encoder-decoder models.

    from seq2seq import Translator
    tr = Translator.from_checkpoint("outputs/main/checkpoints/best.pt", beam_size=5)
    tr.translate(["Je suis étudiant.", "Où est la gare ?"])   # -> list of English strings

The package, by layer (lower layers never import higher ones): `config` (schema and composition)
and the small shared modules (`errors`, `atomic`, `checkpoint`, `machine`, `memory`, `plot`);
`data` (corpora → cleaned pairs → SentencePiece → cached arrays → batches); `model`; `decoding`
(search and translators); `evaluation` and `distillation` (a teacher's corpus); `training`; then
`export`, `serve`, `bench` and `cli` (the commands). Names are imported on first use, so that
`import seq2seq` stays cheap and the ONNX translator never imports torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Translator": "seq2seq.decoding.translator",
    "OnnxTranslator": "seq2seq.export.onnx_runtime",
    "Translation": "seq2seq.decoding.core",
    "Candidate": "seq2seq.decoding.core",
    "Seq2SeqError": "seq2seq.errors",
    "load_config": "seq2seq.api",
    "prepare": "seq2seq.api",
    "train": "seq2seq.api",
    "evaluate": "seq2seq.api",
    "distill": "seq2seq.api",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seq2seq' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
