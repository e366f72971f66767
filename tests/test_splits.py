from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.data.splits import connected_groups, split_groups


def test_groups_join_pairs_sharing_either_side():
    pairs = [("a", "A"), ("b", "A"), ("b", "B"), ("c", "C"), ("d", "D"), ("d", "E")]
    groups = sorted(sorted(g) for g in connected_groups(pairs))
    assert groups == [[0, 1, 2], [3], [4, 5]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=200),
       st.integers(0, 50), st.integers(0, 50), st.integers(1, 5), st.integers(0, 3))
def test_split_never_leaks_a_sentence(raw, dev_size, test_size, max_group, seed):
    pairs = [(f"fr{a}", f"en{b}") for a, b in raw]
    train, dev, test = split_groups(pairs, dev_size, test_size, max_group, seed)
    assert sorted(train + dev + test) == list(range(len(pairs)))  # a partition
    for held_out in (dev, test):
        for side in (0, 1):
            seen = {pairs[i][side] for i in train}
            assert not any(pairs[i][side] in seen for i in held_out)
    dev_fr, test_fr = {pairs[i][0] for i in dev}, {pairs[i][0] for i in test}
    assert not dev_fr & test_fr


def test_split_is_deterministic_and_sized():
    pairs = [(f"f{i}", f"e{i // 2}") for i in range(1000)]  # groups of two
    a = split_groups(pairs, 100, 50, 8, seed=1)
    assert a == split_groups(list(pairs), 100, 50, 8, seed=1)
    assert a != split_groups(pairs, 100, 50, 8, seed=2)
    assert len(a[1]) == 100 and len(a[2]) == 50 and len(a[0]) == 850


def test_large_groups_stay_in_train():
    pairs = [(f"f{i}", "same") for i in range(20)] + [(f"g{i}", f"h{i}") for i in range(20)]
    train, dev, test = split_groups(pairs, 5, 5, max_group=8, seed=0)
    assert set(range(20)) <= set(train)
