"""sksubset._utils.sampling: draws without replacement across rounds (coverage, seeds)."""

import numpy as np
import pytest
import torch

from sksubset._utils.sampling import CyclicSampler, cyclic_draw, cyclic_sampler
from sksubset.selectors import SelectionContext


def test_rounds_partition_the_data_when_k_divides_n():
    s = CyclicSampler(30, np.random.RandomState(0))
    for _ in range(3):  # three cycles of five rounds
        rounds = [s.draw(6) for _ in range(5)]
        np.testing.assert_array_equal(np.sort(np.concatenate(rounds)), np.arange(30))
        assert all(len(np.unique(r)) == 6 for r in rounds)


@pytest.mark.parametrize("n, k", [(10, 3), (17, 5), (7, 7), (9, 8), (5, 1)])
def test_every_example_once_per_cycle(n, k):
    """After m rounds every index was drawn floor(mk/n) or ceil(mk/n) times; rounds distinct."""
    s = CyclicSampler(n, np.random.RandomState(1))
    counts = np.zeros(n, dtype=int)
    for m in range(1, 4 * n + 1):
        r = s.draw(k)
        assert len(r) == k == len(np.unique(r)) and r.min() >= 0 and r.max() < n
        assert np.all(np.diff(r) > 0)  # sorted
        counts[r] += 1
        assert counts.min() >= (m * k) // n and counts.max() <= -(-(m * k) // n)
    assert s.cycles == 4 * k - 1  # 4 k permutations' worth of draws, the first one given


def test_same_seed_same_rounds():
    a, b = CyclicSampler(23, np.random.RandomState(4)), CyclicSampler(23, np.random.RandomState(4))
    c = CyclicSampler(23, np.random.RandomState(5))
    ra = [a.draw(5) for _ in range(12)]
    rb = [b.draw(5) for _ in range(12)]
    rc = [c.draw(5) for _ in range(12)]
    for x, y in zip(ra, rb):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, z) for x, z in zip(ra, rc))


def test_bad_k():
    s = CyclicSampler(5, np.random.RandomState(0))
    for k in (0, 6):
        with pytest.raises(ValueError, match="k must be in"):
            s.draw(k)


def _ctx(n, seed):
    return SelectionContext(y=np.zeros(n, dtype=int), n_classes=1, budget=1, batch_size=1,
                            per_batch=False, rng=np.random.RandomState(seed), epoch=0,
                            device=torch.device("cpu"), train_fn=None)


def test_the_stream_follows_the_run():
    """One stream per run generator: a new run (new generator) or another n starts afresh."""
    class Owner:
        pass

    owner, ctx = Owner(), _ctx(12, 3)
    first = [cyclic_draw(owner, ctx, 12, 4) for _ in range(3)]
    np.testing.assert_array_equal(np.sort(np.concatenate(first)), np.arange(12))
    again = [cyclic_draw(owner, _ctx(12, 3), 12, 4)]  # a new run with the same seed
    np.testing.assert_array_equal(again[0], first[0])
    assert len(cyclic_draw(owner, ctx, 8, 4)) == 4 and cyclic_sampler(owner, ctx).n == 8
    assert vars(owner) == {}  # the streams live on the run, not on the selector


def test_the_stream_lives_in_the_run_state():
    """Contexts of one run share its ``run_state``: the stream goes on across them; a context
    with another dict (another run) starts afresh, whatever the generator."""
    class Owner:
        pass

    owner, rng, state = Owner(), np.random.RandomState(3), {}

    def ctx(run_state):
        return SelectionContext(y=np.zeros(12, dtype=int), n_classes=1, budget=1, batch_size=1,
                                per_batch=False, rng=rng, epoch=0, device=torch.device("cpu"),
                                train_fn=None, run_state=run_state)

    rounds = [cyclic_draw(owner, ctx(state), 12, 4) for _ in range(3)]
    np.testing.assert_array_equal(np.sort(np.concatenate(rounds)), np.arange(12))
    assert cyclic_sampler(owner, ctx(state)).cycles == 0
    assert cyclic_sampler(owner, ctx({})) is None
