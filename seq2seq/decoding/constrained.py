"""Lexically constrained beam search: every constraint (a sequence of target ids, e.g. a
glossary term) must appear in the output. Dynamic beam allocation (Post & Vilar 2018, "Fast
Lexically Constrained Decoding with Dynamic Beam Allocation"), batched like `beam_search`.

At each step the candidates of a sentence are the usual best continuations, each beam's best
token, and each beam's next constraint token (the next token of the term it is inside, or the
first token of each term it has not met). Candidates are grouped in banks by how many
constraint tokens they have met, and the beam is shared among the banks, so that hypotheses
that have placed more of the terms are not crowded out by likelier ones that placed fewer.
`</s>` is allowed only once every term is in, and competes in its bank (a hypothesis that
placed its terms at some cost is not outscored by likelier ones still without them). A term
left unfinished does not count: its tokens must come in one run. A sentence ends once K
hypotheses with every term are finished.

Shapes: B sentences, K beam size, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.vocab import EOS
from .core import Hypothesis, length_penalty
from .search import beam_start, beam_step

NEG = float("-inf")


@dataclass(frozen=True)
class Progress:
    """Where a hypothesis stands with its sentence's terms."""

    terms: tuple[tuple[int, ...], ...]
    met: tuple[bool, ...]
    current: int = -1  # the term being written, -1 for none
    pos: int = 0  # its tokens written so far

    @classmethod
    def start(cls, terms: list[list[int]]) -> Progress:
        terms = tuple(tuple(t) for t in terms if t)
        return cls(terms, (False,) * len(terms))

    @property
    def done(self) -> bool:
        return all(self.met)

    @property
    def bank(self) -> int:
        """Constraint tokens met so far."""
        return sum(len(t) for t, m in zip(self.terms, self.met) if m) + self.pos

    def next_tokens(self) -> set[int]:
        if self.current >= 0:
            return {self.terms[self.current][self.pos]}
        return {t[0] for t, m in zip(self.terms, self.met) if not m}

    def advance(self, token: int) -> Progress:
        if self.current >= 0:
            term = self.terms[self.current]
            if token == term[self.pos]:
                if self.pos + 1 < len(term):
                    return Progress(self.terms, self.met, self.current, self.pos + 1)
                return self._meet(self.current)
            base = Progress(self.terms, self.met)  # broken off: the term starts over
        else:
            base = self
        for c, (term, met) in enumerate(zip(self.terms, self.met)):
            if not met and term[0] == token:
                return self._meet(c) if len(term) == 1 else \
                    Progress(self.terms, self.met, c, 1)
        return base

    def _meet(self, c: int) -> Progress:
        met = list(self.met)
        met[c] = True
        return Progress(self.terms, tuple(met))


def allocate(cands: list[tuple[float, int, int, Progress]], K: int) -> list:
    """K of the candidates (score, beam, token, progress): the beam is shared equally among
    the banks that have candidates (the rest to the banks nearest completion), the best of
    each bank first; slots a bank cannot fill go to the best remaining candidates."""
    by_bank: dict[int, list] = {}
    for c in sorted(cands, key=lambda c: -c[0]):
        by_bank.setdefault(c[3].bank, []).append(c)
    if not by_bank:
        return []
    share, rest = divmod(K, len(by_bank))
    chosen, left = [], []
    for n, b in enumerate(sorted(by_bank, reverse=True)):
        quota = share + (1 if n < rest else 0)
        chosen += by_bank[b][:quota]
        left += by_bank[b][quota:]
    chosen += sorted(left, key=lambda c: -c[0])[: K - len(chosen)]
    return sorted(chosen, key=lambda c: -c[0])


@torch.no_grad()
def constrained_beam_search(model, src: torch.Tensor, src_lens: torch.Tensor,
                            max_len: list[int], beam_size: int,
                            constraints: list[list[list[int]]], n_best: int = 1,
                            alpha: float = 0.0, attention: bool = False
                            ) -> list[list[Hypothesis]]:
    """The `n_best` best hypotheses per sentence that contain all of `constraints[i]` (target
    id sequences), best first; when none could be finished with all of them (no room within
    the maximum length), the best unfinished ones. Scores as in `beam_search`."""
    B, K, dev = src.size(0), beam_size, src.device
    state, scores, seqs, steps, y = beam_start(model, src, src_lens, K)  # scores (n, K)
    alive = list(range(B))
    hist = None  # (n*K, t, S)
    progress = [Progress.start(constraints[i]) for i in range(B) for _ in range(K)]
    finished: list[list[tuple[bool, Hypothesis]]] = [[] for _ in range(B)]
    for t in range(max(max_len)):
        logp, state, hist = beam_step(model, y, state, hist, attention)  # logp (n*K, V)
        n, V = len(alive), logp.size(-1)
        cand = scores.unsqueeze(-1) + logp.view(n, K, V)  # (n, K, V)
        unmet = torch.tensor([not p.done for p in progress], device=dev).view(n, K)
        cand[..., EOS] = cand[..., EOS].masked_fill(unmet, NEG)  # </s> once all terms are in
        top_s, top_i = cand.view(n, K * V).topk(min(2 * K, K * V), dim=1)  # (n, 2K)
        best = cand.argmax(dim=-1)  # (n, K) each beam's best token
        live = (scores > NEG).tolist()
        extra = [(r, k, v) for r in range(n) for k in range(K) if live[r][k]
                 for v in progress[r * K + k].next_tokens() | {int(best[r, k])}]
        extra_s = cand[[e[0] for e in extra], [e[1] for e in extra],
                       [e[2] for e in extra]].tolist() if extra else []
        per: list[dict[tuple[int, int], float]] = [{} for _ in range(n)]
        for r, (ss, ii) in enumerate(zip(top_s.tolist(), top_i.tolist())):
            for s, i in zip(ss, ii):
                per[r][(i // V, i % V)] = s
        for (r, k, v), s in zip(extra, extra_s):
            per[r][(k, v)] = s
        prev = scores.tolist()
        penalty = length_penalty(t + 1, alpha)
        rows, toks, new_scores, new_lp, new_progress, keep = [], [], [], [], [], []
        for r, i in enumerate(alive):
            cands = [(s, k, v, progress[r * K + k].advance(v))
                     for (k, v), s in per[r].items() if s > NEG]
            for s, k, v, _ in allocate(cands, K):  # </s> chosen in its bank: done
                if v == EOS:
                    row = r * K + k
                    finished[i].append((True, Hypothesis(
                        seqs[row].tolist(), s / penalty,
                        hist[row].clone() if attention else None,
                        steps[row].tolist() + [s - prev[r][k]])))
            chosen = allocate([c for c in cands if c[2] != EOS], K)
            if not chosen or sum(1 for ok, _ in finished[i] if ok) >= K:
                continue  # K hypotheses finished with every term
            if t + 1 >= max_len[i]:  # out of length: the live beams end here, unfinished
                for s, k, v, p in chosen:
                    row = r * K + k
                    finished[i].append((p.done, Hypothesis(
                        seqs[row].tolist() + [v], s / penalty,
                        hist[row].clone() if attention else None,
                        steps[row].tolist() + [s - prev[r][k]])))
                continue
            chosen += [(NEG, chosen[0][1], chosen[0][2], chosen[0][3])] * (K - len(chosen))
            keep.append(r)
            for s, k, v, p in chosen:
                rows.append(r * K + k)
                toks.append(v)
                new_scores.append(s)
                new_lp.append(s - prev[r][k] if s > NEG else NEG)
                new_progress.append(p)
        if not keep:
            break
        index = torch.tensor(rows, device=dev)
        y = torch.tensor(toks, device=dev).view(-1, 1)  # (n'*K, 1)
        seqs = torch.cat([seqs.index_select(0, index), y], dim=1)
        steps = torch.cat([steps.index_select(0, index),
                           torch.tensor(new_lp, device=dev).view(-1, 1)], dim=1)
        state = state.reorder_beams(index) if len(keep) == n else state.select(index)
        if attention:
            hist = hist.index_select(0, index)
        scores = torch.tensor(new_scores, device=dev).view(len(keep), K)
        progress = new_progress
        alive = [alive[r] for r in keep]
    return [[h for _, h in sorted(f, key=lambda x: (not x[0], -x[1].score))[:n_best]]
            for f in finished]
