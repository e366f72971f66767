"""Word alignments from the attention: for each output word, the source word it attended to
most (attention summed over the pieces of each word, as Marian and fairseq's
`--print-alignment` do with their attention heads). Words align with words and punctuation
with punctuation: the first output word, decoded before the attention has found its place,
often looks at the final full stop, which would otherwise pull it to the last source word."""

from __future__ import annotations

import numpy as np

from .core import Translation

_SPACE = "▁"  # SentencePiece's word-start mark


def word_of_pieces(pieces: list[str]) -> list[int]:
    """The word index of each piece (a word starts at a piece with the word-start mark)."""
    out, word = [], -1
    for i, p in enumerate(pieces):
        if p.startswith(_SPACE) or i == 0:
            word += 1
        out.append(word)
    return out


def word_alignment(t: Translation, tgt_pieces: list[str]) -> list[int]:
    """For each word of the best translation (its `tgt_pieces`), the index of the aligned
    source word; `t` must come from `translations(..., attention=True)`."""
    if t.hypothesis.attention is None or not tgt_pieces:
        return []
    src_words = word_of_pieces(t.src_pieces)
    tgt_words = word_of_pieces(tgt_pieces)
    weights = np.asarray(t.hypothesis.attention, dtype=np.float64)  # (steps, S)
    weights = weights[: len(tgt_pieces), : len(src_words)]  # pieces only: no </s> row/column
    n_src, n_tgt = src_words[-1] + 1, tgt_words[-1] + 1
    by_word = np.zeros((n_tgt, weights.shape[1]))  # (target words, source pieces)
    np.add.at(by_word, tgt_words[: weights.shape[0]], weights)
    src_mark = np.array([_is_mark(p) for p in t.src_pieces[: weights.shape[1]]])
    text = ["" for _ in range(n_tgt)]
    for w, p in zip(tgt_words, tgt_pieces):
        text[w] += p
    for j in range(n_tgt):  # a word looks at words, a mark at marks, where there are some
        keep = src_mark == _is_mark(text[j])
        if keep.any() and by_word[j, keep].sum() > 0:
            by_word[j, ~keep] = 0
    merged = np.zeros((n_tgt, n_src))  # (target words, source words)
    np.add.at(merged.T, src_words[: weights.shape[1]], by_word.T)
    return merged.argmax(axis=1).tolist()


def _is_mark(piece: str) -> bool:
    """Whether a piece (or word) is punctuation or symbols only."""
    return not any(c.isalnum() for c in piece)


def piece_links(t: Translation, tgt_pieces: list[str]) -> list[tuple[int, int]]:
    """The word alignment as (output piece, source piece) cells, every piece of each aligned
    word pair: what the attention plot frames."""
    align = word_alignment(t, tgt_pieces)
    src_words, tgt_words = word_of_pieces(t.src_pieces), word_of_pieces(tgt_pieces)
    return [(r, c) for r, tw in enumerate(tgt_words) for c, sw in enumerate(src_words)
            if tw < len(align) and align[tw] == sw]
