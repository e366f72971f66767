import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from seq2seq.data.vocab import BOS, EOS
from seq2seq.decoding.core import max_lengths
from seq2seq.decoding.search import beam_search, greedy
from seq2seq.model.decoder import DecoderState
from seq2seq.model.encoder_decoder import build_model

A, B_ = 4, 5  # two real tokens of the toy vocabulary (PAD, UNK, BOS, EOS, a, b)


class TableDecoder(nn.Module):
    """Next-token probabilities depend only on the previous token, from a fixed table."""

    def __init__(self, table: dict[int, dict[int, float]]):
        super().__init__()
        logp = torch.full((6, 6), -1e9)
        for prev, row in table.items():
            for tok, p in row.items():
                logp[prev, tok] = math.log(p)
        self.logp = logp

    def step(self, y, state: DecoderState):
        feats = self.logp[y[:, 0]].unsqueeze(1)  # (B, 1, V)
        weights = state.mask.float().unsqueeze(1) / state.mask.sum(1, keepdim=True).unsqueeze(1)
        return feats, state, weights

    def logits(self, feats):
        return feats


class TableModel(nn.Module):
    def __init__(self, table):
        super().__init__()
        self.decoder = TableDecoder(table)

    def encode(self, src, src_lens):
        B = src.size(0)
        return DecoderState(torch.zeros(B, src.size(1), 1), None, src != 0,
                            torch.zeros(1, B, 1), None)

    def step_log_probs(self, y, state):
        feats, state, weights = self.decoder.step(y, state)
        return torch.log_softmax(self.decoder.logits(feats[:, 0]), dim=-1), state, weights


# From BOS: a 0.6, b 0.4. After a: EOS 0.4 (so "a" = 0.24). After b: EOS 0.9 ("b" = 0.36).
TABLE = {BOS: {A: 0.6, B_: 0.4}, A: {EOS: 0.4, A: 0.3, B_: 0.3}, B_: {EOS: 0.9, A: 0.1}}


def test_beam_finds_the_better_sequence_that_greedy_misses():
    model = TableModel(TABLE)
    src, lens = torch.tensor([[7, 7]]), torch.tensor([2])
    g = greedy(model, src, lens, [10])[0]
    assert g.tokens[0] == A
    best = beam_search(model, src, lens, [10], beam_size=2, n_best=2, alpha=0.0)[0]
    assert best[0].tokens == [B_]
    assert math.isclose(best[0].score, math.log(0.36), rel_tol=1e-5)
    assert best[1].tokens == [A]
    assert math.isclose(best[1].score, math.log(0.24), rel_tol=1e-5)


def test_max_length_stops_unfinished_hypotheses():
    model = TableModel({BOS: {A: 1.0}, A: {A: 0.9, EOS: 0.1}})
    src, lens = torch.tensor([[7]]), torch.tensor([1])
    assert greedy(model, src, lens, [3])[0].tokens == [A, A, A]
    assert beam_search(model, src, lens, [3], beam_size=3)[0][0].tokens == [A, A, A]


def test_length_penalty_prefers_longer_with_larger_alpha():
    limits = SimpleNamespace(max_len_ratio=1.5, max_len_extra=2)
    assert max_lengths([4, 10], limits) == [8, 17]
    # "a" has probability 0.6 (2 steps with EOS), "b u" 0.4 (3 steps); u is token id 1.
    table = {BOS: {A: 0.6, B_: 0.4}, A: {EOS: 1.0}, B_: {1: 1.0}, 1: {EOS: 1.0}}
    model = TableModel(table)
    src, lens = torch.tensor([[7]]), torch.tensor([1])
    raw = beam_search(model, src, lens, [6], beam_size=2, alpha=0.0)[0][0]
    long = beam_search(model, src, lens, [6], beam_size=2, alpha=5.0)[0][0]
    assert raw.tokens == [A] and long.tokens == [B_, 1]


def trained_like_model(make_cfg, seed=0):
    torch.manual_seed(seed)
    return build_model(make_cfg("train").model, 40, 40).eval()


def random_sources(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(4, 40, (int(torch.randint(1, 12, (1,), generator=g)),),
                          generator=g).tolist() for _ in range(n)]


def run(model, sources, beam):
    from seq2seq.data.batching import pad

    src, lens = pad(sources)
    ml = max_lengths(lens.tolist(), SimpleNamespace(max_len_ratio=1.5, max_len_extra=5))
    if beam == 0:
        return [h.tokens for h in greedy(model, src, lens, ml)]
    return [h[0].tokens for h in beam_search(model, src, lens, ml, beam_size=beam, alpha=1.0)]


def test_beam_one_equals_greedy(make_cfg):
    model = trained_like_model(make_cfg)
    sources = random_sources(12)
    assert run(model, sources, 1) == run(model, sources, 0)


def test_batching_does_not_change_translations(make_cfg):
    model = trained_like_model(make_cfg, seed=1)
    sources = random_sources(10, seed=1)
    for beam in (0, 4):
        together = run(model, sources, beam)
        alone = [run(model, [s], beam)[0] for s in sources]
        assert together == alone


def test_attention_of_best_hypothesis(make_cfg):
    from seq2seq.data.batching import pad

    model = trained_like_model(make_cfg)
    src, lens = pad(random_sources(3))
    ml = max_lengths(lens.tolist(), SimpleNamespace(max_len_ratio=1.5, max_len_extra=5))
    for hyp in [h[0] for h in beam_search(model, src, lens, ml, 3, attention=True)] + \
            greedy(model, src, lens, ml, attention=True):
        assert hyp.attention.shape[0] in (len(hyp.tokens), len(hyp.tokens) + 1)
        torch.testing.assert_close(hyp.attention.sum(-1), torch.ones(hyp.attention.shape[0]))


def test_token_scores_add_up_to_the_hypothesis_score():
    model = TableModel(TABLE)
    src = torch.ones(2, 3, dtype=torch.long)
    lens = torch.tensor([3, 3])
    for hyp in greedy(model, src, lens, [5, 5]):
        assert len(hyp.token_scores) == len(hyp.tokens) + 1  # </s> last
        assert math.isclose(sum(hyp.token_scores), hyp.score, abs_tol=1e-5)
    for hyps in beam_search(model, src, lens, [5, 5], beam_size=3, n_best=3, alpha=0.0):
        for hyp in hyps:
            assert len(hyp.token_scores) == len(hyp.tokens) + 1
            assert math.isclose(sum(hyp.token_scores), hyp.score, abs_tol=1e-5)
            assert all(s <= 0 for s in hyp.token_scores)
    best = beam_search(model, src, lens, [5, 5], beam_size=3, alpha=0.0)[0][0]
    assert best.tokens == [B_] and best.token_scores == pytest.approx([math.log(0.4),
                                                                       math.log(0.9)])
