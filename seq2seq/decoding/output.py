"""What the translate command writes for a translation: the text, and on request the word
alignments (Pharaoh format: `source-output` word index pairs, 0-based) and the scores
(sentence confidence, then each output word's probability), as tab-separated columns."""

from __future__ import annotations

from ..errors import Seq2SeqError
from .alignment import word_alignment
from .confidence import sentence_confidence, word_probabilities
from .core import Translation


def pharaoh(alignment: list[int]) -> str:
    """`[2, 0]` (output word j aligned to source word alignment[j]) -> "2-0 0-1"."""
    return " ".join(f"{i}-{j}" for j, i in enumerate(alignment))


class Columns:
    """Formats one output line; `alignments` needs translations made with attention."""

    def __init__(self, translator, alignments: bool = False, scores: bool = False):
        self.translator, self.alignments, self.scores = translator, alignments, scores

    def line(self, t: Translation) -> str:
        cols = [t.text]
        pieces = self.translator.vocab.tgt_pieces(t.hypothesis.tokens) \
            if (self.alignments or self.scores) and t.hypothesis.tokens else []
        if self.alignments:
            cols.append(pharaoh(word_alignment(t, pieces)) if pieces else "")
        if self.scores:
            confidence = sentence_confidence(t)
            if confidence is None and t.hypothesis.tokens:
                raise Seq2SeqError("--scores needs the PyTorch path; drop --onnx")
            cols.append(f"{confidence:.4f}" if confidence is not None else "")
            cols.append(" ".join(f"{p:.3f}" for p in word_probabilities(t, pieces)))
        return "\t".join(cols)
