"""Fine-tuning only part of a model: `train.freeze` names modules whose weights stay as they are.

OpenNMT-py's `freeze_encoder`/`freeze_decoder` and Thompson et al. (2018), "Freezing Subnetworks
to Analyze Domain Adaptation in Neural Machine Translation": adapting some components and keeping
the rest trades what is gained in the new domain against what is kept of the old one. A frozen
module also costs less per step: no gradients for its weights, and none below it when nothing
under it trains (a frozen encoder runs no backward at all).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import Seq2SeqError


def module_names(model: torch.nn.Module) -> list[str]:
    """The prefixes `train.freeze` accepts: every module that holds parameters, e.g. encoder,
    encoder.embed, encoder.rnn, decoder.attention, decoder.output."""
    return sorted(name for name, module in model.named_modules()
                  if name and next(module.parameters(), None) is not None)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def freeze(model: torch.nn.Module, prefixes: Sequence[str]) -> int:
    """Stop training every parameter under the modules `prefixes` (requires_grad False); returns
    how many weights that is. A prefix that names no module, or freezing every parameter, is an
    error."""
    params = dict(model.named_parameters())
    for prefix in prefixes:
        if not any(_under(name, prefix) for name in params):
            raise Seq2SeqError(f"train.freeze: the model has no module {prefix!r}; choose among "
                               f"{', '.join(module_names(model))}")
    frozen = 0
    for name, p in params.items():
        if any(_under(name, prefix) for prefix in prefixes):
            p.requires_grad_(False)
            frozen += p.numel()
    if prefixes and all(not p.requires_grad for p in params.values()):
        raise Seq2SeqError(f"train.freeze={list(prefixes)} freezes every weight, so nothing would "
                           f"train; name fewer modules")
    return frozen
