"""Greedy and beam search, batched: the encoder runs once per batch, beams are folded into the
batch dimension, and sentences leave the batch as soon as they are finished.

`model` is anything with `encode(src, src_lens) -> state` and `step_log_probs(y, state)`, whose
state has `select` and `reorder_beams`: a `Seq2Seq`, or an `Ensemble` of them.

Shapes: B sentences, K beam size, S source length, V vocabulary.
"""

from __future__ import annotations

import torch

from ..data.vocab import BOS, EOS
from ..model.encoder_decoder import Seq2Seq
from .core import Hypothesis, length_penalty


@torch.no_grad()
def greedy(model: Seq2Seq, src: torch.Tensor, src_lens: torch.Tensor, max_len: list[int],
           attention: bool = False) -> list[Hypothesis]:
    """The most probable next token at every step. src (B, S) int64, src_lens (B,)."""
    B = src.size(0)
    state = model.encode(src, src_lens)
    alive = list(range(B))  # original sentence index of each batch row
    tokens: list[list[int]] = [[] for _ in range(B)]
    scores = [0.0] * B
    steps: list[list[float]] = [[] for _ in range(B)]  # log-prob of each output token
    attn: list[list[torch.Tensor]] = [[] for _ in range(B)]
    out: list[Hypothesis | None] = [None] * B
    y = torch.full((B, 1), BOS, dtype=torch.long, device=src.device)
    for t in range(max(max_len)):
        logp, state, weights = model.step_log_probs(y, state)  # (n, V)
        best_logp, best = logp.max(dim=-1)  # (n,)
        keep = []
        for row, (i, tok, lp) in enumerate(zip(alive, best.tolist(), best_logp.tolist())):
            scores[i] += lp
            steps[i].append(lp)
            if attention:
                attn[i].append(weights[row, 0].float())
            if tok != EOS:
                tokens[i].append(tok)
            if tok == EOS or t + 1 >= max_len[i]:
                out[i] = Hypothesis(tokens[i], scores[i],
                                    torch.stack(attn[i]) if attention else None, steps[i])
            else:
                keep.append(row)
        if not keep:
            break
        if len(keep) < len(alive):  # drop finished sentences from the batch
            index = torch.tensor(keep, device=src.device)
            state, best = state.select(index), best.index_select(0, index)
            alive = [alive[r] for r in keep]
        y = best.unsqueeze(1)  # (n, 1)
    return out  # type: ignore[return-value]


def beam_start(model, src: torch.Tensor, src_lens: torch.Tensor, K: int) -> tuple:
    """The start of a beam search: the encoder's state with each sentence's row repeated K
    times; scores (B, K) of cumulative log-probs with one live beam per sentence; the empty
    sequences and their token log-probs (B*K, 0); the BOS inputs (B*K, 1)."""
    B, dev = src.size(0), src.device
    state = model.encode(src, src_lens).select(torch.arange(B, device=dev).repeat_interleave(K))
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0
    seqs = torch.full((B * K, 0), BOS, dtype=torch.long, device=dev)
    steps = torch.zeros((B * K, 0), device=dev)
    y = torch.full((B * K, 1), BOS, dtype=torch.long, device=dev)
    return state, scores, seqs, steps, y


def beam_step(model, y: torch.Tensor, state, hist, attention: bool) -> tuple:
    """One decoder step for every beam: log-probs (n*K, V), the new state, and the attention
    history (n*K, t, S) with this step's weights added when `attention` (else None)."""
    logp, state, weights = model.step_log_probs(y, state)
    if attention:
        w = weights.float()  # (n*K, 1, S)
        hist = w if hist is None else torch.cat([hist, w], dim=1)
    return logp, state, hist


@torch.no_grad()
def beam_search(model: Seq2Seq, src: torch.Tensor, src_lens: torch.Tensor, max_len: list[int],
                beam_size: int, n_best: int = 1, alpha: float = 0.0,
                attention: bool = False) -> list[list[Hypothesis]]:
    """The `n_best` highest-scoring hypotheses per sentence, best first.

    Scores are log-probabilities divided by `length_penalty(len, alpha)` (EOS counted). A
    sentence is done once it has `beam_size` finished hypotheses or reaches its maximum length.
    """
    B, K, dev = src.size(0), beam_size, src.device
    state, scores, seqs, steps, y = beam_start(model, src, src_lens, K)
    alive = list(range(B))  # original index of each active sentence
    hist = None  # (n*K, t, S) attention history, when asked for
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    for t in range(max(max_len)):
        logp, state, hist = beam_step(model, y, state, hist, attention)  # logp (n*K, V)
        n, V = len(alive), logp.size(-1)
        cand = (scores.unsqueeze(-1) + logp.view(n, K, V)).view(n, K * V)
        top_s, top_i = cand.topk(2 * K, dim=1)  # (n, 2K)
        top_beam, top_tok = top_i // V, top_i % V  # (n, 2K)
        top_lp = top_s - scores.gather(1, top_beam)  # (n, 2K) the new token's log-prob
        is_eos = top_tok == EOS
        rank = torch.arange(2 * K, device=dev)
        # Hypotheses ending here: EOS among the K best candidates.
        penalty = length_penalty(t + 1, alpha)
        for r, j in (is_eos[:, :K] & (top_s[:, :K] > float("-inf"))).nonzero().tolist():
            row = r * K + int(top_beam[r, j])
            finished[alive[r]].append(Hypothesis(
                seqs[row].tolist(), float(top_s[r, j]) / penalty,
                hist[row].clone() if attention else None,
                steps[row].tolist() + [float(top_lp[r, j])]))
        # The K best candidates that do not end go on.
        pick = (is_eos.long() * 2 * K + rank).argsort(dim=1)[:, :K]  # (n, K)
        scores = top_s.gather(1, pick)
        rows = (torch.arange(n, device=dev).unsqueeze(1) * K + top_beam.gather(1, pick)).view(-1)
        y = top_tok.gather(1, pick).view(-1, 1)  # (n*K, 1)
        seqs = torch.cat([seqs.index_select(0, rows), y], dim=1)
        steps = torch.cat([steps.index_select(0, rows), top_lp.gather(1, pick).view(-1, 1)],
                          dim=1)
        state = state.reorder_beams(rows)  # rows stay within their sentence
        if attention:
            hist = hist.index_select(0, rows)
        keep = []
        for r, i in enumerate(alive):
            if len(finished[i]) >= K:
                continue
            if t + 1 >= max_len[i]:  # out of length: the live beams end here, unfinished
                for k in range(K):
                    if scores[r, k] > float("-inf"):
                        row = r * K + k
                        finished[i].append(Hypothesis(
                            seqs[row].tolist(), float(scores[r, k]) / penalty,
                            hist[row].clone() if attention else None, steps[row].tolist()))
                continue
            keep.append(r)
        if not keep:
            break
        if len(keep) < n:  # drop finished sentences from the batch
            index = torch.tensor(keep, device=dev)
            rows = (index.unsqueeze(1) * K + torch.arange(K, device=dev)).view(-1)
            scores, y, seqs = scores.index_select(0, index), y.index_select(0, rows), \
                seqs.index_select(0, rows)
            steps = steps.index_select(0, rows)
            state = state.select(rows)
            if attention:
                hist = hist.index_select(0, rows)
            alive = [alive[r] for r in keep]
    return [sorted(f, key=lambda h: -h.score)[:n_best] for f in finished]
