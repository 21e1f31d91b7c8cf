"""sksubset._submodular: facility location and the greedy maximizers (CRAIG, CREST, GLISTER)."""

import itertools
import math

import numpy as np
import pytest
import torch
from conftest import random_last_layer

from sksubset import _submodular
from sksubset._submodular import (
    Ground,
    facility_location_batched,
    facility_location_greedy,
    greedy_picks,
    pairwise_distances,
    sample_remaining,
    stochastic_sample_size,
)
from sksubset.gradients import sample_gradients

METRICS = ["euclidean", "sqeuclidean", "cosine"]


def _facility(Dmat, S, D):
    """F(S) = sum_i max_{j in S} (D - d_ij) on an explicit distance matrix."""
    return float((D - Dmat[:, list(S)]).max(1).values.sum())


def _reference_greedy(Dmat, k, D):
    """Textbook greedy on an explicit similarity matrix (first index wins ties)."""
    sim = D - Dmat
    cur = torch.zeros(len(sim), dtype=sim.dtype)
    S = []
    for _ in range(k):
        gains = (sim - cur[:, None]).clamp_min(0).sum(0)
        gains[S] = -math.inf
        c = int(torch.argmax(gains))
        S.append(c)
        cur = torch.maximum(cur, sim[:, c])
    return S
@pytest.mark.parametrize("metric", METRICS)
def test_factorized_distance_equals_explicit(metric):
    ll = random_last_layer(n=25)
    G = sample_gradients(ll.E, ll.Hb)
    explicit = {"euclidean": torch.cdist(G, G), "sqeuclidean": torch.cdist(G, G) ** 2,
                "cosine": 1 - torch.nn.functional.cosine_similarity(G[:, None], G[None], dim=2)}
    fac = pairwise_distances(None, metric, factors=(ll.E, ll.Hb))
    torch.testing.assert_close(fac, pairwise_distances(G, metric), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(fac, explicit[metric].clamp_min(0).fill_diagonal_(0),
                               rtol=1e-6, atol=1e-6)
    # the constant D bounds every distance, for both representations
    for ground in (Ground([ll.E, ll.Hb], metric), Ground([G], metric)):
        assert ground.bound() >= float(fac.max())
    assert abs(Ground([ll.E, ll.Hb], metric).bound() - Ground([G], metric).bound()) < 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_greedy_against_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(4, 11)), int(rng.integers(1, 4))
    G = torch.as_tensor(rng.normal(size=(n, 3)) * rng.uniform(0.5, 3, size=(n, 1)))
    ground = Ground([G], "euclidean")
    Dmat = ground.dist(torch.arange(n))
    for optimizer in ("naive", "lazy"):
        chosen, w, assign, obj, _, D = facility_location_greedy(ground, k, optimizer=optimizer,
                                                                chunk_size=3)
        assert len(set(chosen.tolist())) == k
        assert chosen.tolist() == _reference_greedy(Dmat, k, D)
        assert obj == pytest.approx(_facility(Dmat, chosen, D), rel=1e-12)
        best = max(_facility(Dmat, S, D) for S in itertools.combinations(range(n), k))
        assert obj >= (1 - 1 / math.e) * best - 1e-9
        assert obj <= best + 1e-9

def _grouped_problems(seed, kind):
    """Features and (groups, ks) of facility-location problems with sizes 1 .. 90."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 91, size=25)
    sizes[:3] = [1, 2, 90]
    N = int(sizes.sum())
    if kind == "continuous":
        F = rng.normal(size=(N, 6))
    elif kind == "duplicates":      # few distinct points, each repeated: many exactly equal gains
        F = rng.normal(size=(7, 6))[rng.integers(0, 7, size=N)]
    else:                           # corners of a square and its center: symmetric ties
        F = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [0.5, 0.5]])[rng.integers(0, 5, size=N)]
    perm = rng.permutation(N)       # groups are arbitrary (unsorted) rows of F
    groups = np.split(perm, np.cumsum(sizes)[:-1])
    ks = [int(rng.integers(1, s + 3)) for s in sizes]   # k > size too
    return torch.as_tensor(F, dtype=torch.float64), groups, ks


@pytest.mark.parametrize("kind", ["continuous", "duplicates", "square"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_equals_the_lazy_greedy_per_group(kind, seed, monkeypatch):
    F, groups, ks = _grouped_problems(seed, kind)
    expected = [facility_location_greedy(Ground([F[torch.as_tensor(g)]], "euclidean"), k)[:2]
                for g, k in zip(groups, ks)]

    def check(result):
        for (c0, w0), (c1, w1), g in zip(expected, result, groups):
            assert np.array_equal(c0, c1) and np.array_equal(w0, w1)
            assert w1.sum() == len(g) and (w1 >= 1).all()

    check(facility_location_batched(F, groups, ks))
    # several batches, and large groups through the per-group lazy greedy
    monkeypatch.setattr(_submodular, "_STACK_MAX_ELEMENTS", 3000)
    monkeypatch.setattr(_submodular, "_STACK_MAX_ROWS", 40)
    check(facility_location_batched(F, groups, ks))


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_batched_equals_the_lazy_greedy_per_group_other_metrics_and_chunks(metric):
    F, groups, ks = _grouped_problems(4, "continuous")
    expected = [facility_location_greedy(Ground([F[torch.as_tensor(g)]], metric), k,
                                         chunk_size=7)[:2] for g, k in zip(groups, ks)]
    result = facility_location_batched(F, groups, ks, metric=metric, chunk_size=7)
    for (c0, w0), (c1, w1) in zip(expected, result):
        assert np.array_equal(c0, c1) and np.array_equal(w0, w1)


def test_stochastic_sample_size():
    assert stochastic_sample_size(1000, 10, 0.01) == math.ceil(100 * math.log(100))
    assert stochastic_sample_size(5, 0, 0.5) == math.ceil(5 * math.log(2))  # k=0 counts as 1


@pytest.mark.parametrize("n_left, s", [(1000, 10), (30, 10), (5, 10)])
def test_sample_remaining_draws_distinct_remaining_rows(n_left, s):
    rng = np.random.RandomState(0)
    left = np.zeros(1000, dtype=bool)
    left[rng.permutation(1000)[:n_left]] = True
    draw = sample_remaining(left, n_left, s, rng)
    assert len(draw) == min(s, n_left) == len(np.unique(draw))
    assert left[draw].all() and np.all(np.diff(draw) > 0)


def _scores(seed, n=40, d=5):
    g = torch.Generator().manual_seed(seed)
    G = torch.randn(n, d, generator=g, dtype=torch.float64)
    return G, torch.randn(d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("update_every", [1, 3])
def test_greedy_picks_naive_is_matching_pursuit_with_a_fixed_step(update_every):
    """The loop picks the best remaining gains, ``update_every`` at a time, then updates."""
    G, b = _scores(0)
    state = {"r": b.clone()}

    def score(cols):
        return G[cols] @ state["r"]

    def update(new):
        state["r"] = state["r"] - 0.3 * G[new].sum(0)

    picks, gains = greedy_picks(len(G), 7, score, update, update_every=update_every,
                                optimizer="naive", epsilon=0.01, rng=None, device="cpu")
    r, expected = b.clone(), []
    while len(expected) < 7:
        g = G @ r
        g[expected] = -math.inf
        new = torch.sort(g, descending=True, stable=True).indices[:min(update_every,
                                                                        7 - len(expected))]
        expected += new.tolist()
        r = r - 0.3 * G[new].sum(0)
    assert picks.tolist() == expected and len(gains) == 7


def test_greedy_picks_stochastic_is_seeded_and_distinct():
    G, b = _scores(1, n=200)

    def run(seed):
        return greedy_picks(len(G), 20, lambda c: G[c] @ b, lambda new: None, update_every=1,
                            optimizer="stochastic", epsilon=0.1,
                            rng=np.random.RandomState(seed), device="cpu")[0]

    a = run(0)
    assert len(np.unique(a)) == 20
    np.testing.assert_array_equal(a, run(0))
    assert not np.array_equal(a, run(1))
    # each pick is the best of its sample, so the picks beat random rows on average
    assert float((G[a] @ b).mean()) > float((G @ b).mean())


@pytest.mark.parametrize("optimizer", ["naive", "lazy", "stochastic"])
def test_facility_location_weights_count_served_points(optimizer):
    G = torch.as_tensor(np.random.default_rng(3).normal(size=(90, 4)))
    chosen, w, assign, _, n_eval, _ = facility_location_greedy(
        Ground([G], "euclidean"), 9, optimizer=optimizer, rng=0)
    assert len(np.unique(chosen)) == 9 and w.sum() == 90 and (w >= 1).all()
    np.testing.assert_array_equal(w, [np.sum(assign == c) for c in chosen])
    assert n_eval > 0
