import random

import numpy as np
import torch

from seq2seq.data.batching import PairDataset, TokenBatchSampler, pack
from seq2seq.data.vocab import BOS, EOS, PAD


def sizes(n=500, seed=0):
    rng = random.Random(seed)
    return [rng.randint(1, 60) for _ in range(n)]


def test_every_pair_once_per_epoch_within_budget():
    s = sizes()
    sampler = TokenBatchSampler(s, max_tokens=300, seed=3)
    for epoch in range(3):
        batches = sampler.batches(epoch)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(len(s)))
        for b in batches:
            assert len(b) * max(s[i] for i in b) <= 300


def test_deterministic_per_seed_and_epoch():
    s = sizes()
    a = TokenBatchSampler(s, 300, seed=3)
    assert a.batches(0) == TokenBatchSampler(s, 300, seed=3).batches(0)
    assert a.batches(0) != a.batches(1)
    assert a.batches(0) != TokenBatchSampler(s, 300, seed=4).batches(0)


def test_bucketing_keeps_padding_low():
    s = sizes(2000)
    batches = TokenBatchSampler(s, 1000, seed=0).batches(0)
    padded = sum(len(b) * max(s[i] for i in b) for b in batches)
    assert sum(s) / padded > 0.85


def test_collate_pads_and_shifts():
    data = PairDataset(pack([[5, 6, 7], [8]]), pack([[9], [10, 11]]), max_len=10)
    batch = data.collate([0, 1])
    assert batch.src.tolist() == [[5, 6, 7], [8, PAD, PAD]]
    assert batch.src_lens.tolist() == [3, 1]
    assert batch.tgt_in.tolist() == [[BOS, 9, PAD], [BOS, 10, 11]]
    assert batch.tgt_out.tolist() == [[9, EOS, PAD], [10, 11, EOS]]
    assert batch.n_tokens == 5
    assert batch.src.dtype == torch.long


def test_pack_round_trips_and_truncates():
    seqs = [[5, 6, 7, 8], [], [9]]
    packed = pack(seqs)
    assert packed["ids"].dtype == torch.int32 and packed["offsets"].tolist() == [0, 4, 4, 5]
    data = PairDataset(packed, pack([[1], [2], [3]]), max_len=2)
    assert data.sizes().tolist() == [2, 2, 2]
    assert data.collate([0]).src.tolist() == [[5, 6]]


def test_weights_repeat_each_corpus_as_asked():
    s = sizes(300)
    groups = [(0, 100, 3.0), (100, 300, 0.5)]  # corpus A thrice, corpus B half
    sampler = TokenBatchSampler(s, 300, seed=1, groups=groups)
    for epoch in range(2):
        flat = [i for b in sampler.batches(epoch) for i in b]
        assert len(flat) == 3 * 100 + 100
        counts = {i: flat.count(i) for i in set(flat)}
        assert all(counts[i] == 3 for i in range(100))
        assert all(counts.get(i, 0) <= 1 for i in range(100, 300))
        assert sum(1 for i in range(100, 300) if i in counts) == 100
    halves = [{i for b in sampler.batches(e) for i in b if i >= 100} for e in range(2)]
    assert halves[0] != halves[1]  # a fresh half of corpus B each epoch


def test_a_few_bytes_per_pair():
    """Pair sizes in 2 bytes and an epoch's pair order in 4 (one array, batches point into it):
    what lets training hold millions of pairs."""
    data = PairDataset(pack([[5] * 3] * 1000), pack([[6] * 4] * 1000), max_len=100)
    assert data.sizes().dtype == np.uint16 and data.sizes().tolist() == [5] * 1000
    batches = TokenBatchSampler(data.sizes(), 50, seed=0).batches(0)
    assert batches.flat.dtype == np.int32 and batches.flat.size == 1000
    assert sorted(i for b in batches for i in b) == list(range(1000))
