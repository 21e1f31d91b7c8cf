"""Tests of :mod:`sksubset.selectors.gradmatch` and its solver helpers (``_gradmatch_solve``)."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sksubset import GradMatchSelector, gradmatch
from sksubset._utils.budget import resolve_budget, split_budget
from sksubset.omp import orthogonal_matching_pursuit

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
#: the exact greedy search, against which these tests check the solver
EXACT = dict(criterion="gain", per_step=1)

def make_G(n=300, d=24, shift=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) + shift


def make_labels(sizes, seed=0, labels=None):
    labels = list(range(len(sizes))) if labels is None else labels
    y = np.concatenate([np.full(s, lab) for s, lab in zip(sizes, labels)])
    np.random.default_rng(seed).shuffle(y)
    return y


def random_last_layer(sizes, H, seed):
    """Labels and a :class:`~sksubset.gradients.LastLayer` of random logits and embeddings:
    ``E = softmax(Z) - onehot(y)``, ``Hb = [1, relu(N(0, 1))]``."""
    from sksubset.gradients import LastLayer

    rng = np.random.default_rng(seed)
    y = make_labels(sizes, seed=seed)
    n, C = len(y), len(sizes)
    Z = torch.as_tensor(rng.normal(size=(n, C)), dtype=torch.float32)
    yt = torch.as_tensor(y)
    E = torch.softmax(Z, 1) - torch.nn.functional.one_hot(yt, C).float()
    Hb = torch.cat([torch.ones(n, 1), torch.as_tensor(rng.normal(size=(n, H)),
                                                     dtype=torch.float32).relu()], 1)
    return y, LastLayer(E, Hb, Z, yt)


def rel_error(G, idx, w, target):
    G = np.asarray(G, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return np.linalg.norm(np.asarray(w) @ G[idx] - target) / np.linalg.norm(target)


def per_class_reference(G, y, k, targets=None, per_gradient=False, lam=0.05):
    """One independent OMP per class (classes in sorted order), all with the selector's one
    ridge: ``lam`` times the mean squared norm of every class's candidate rows."""
    classes = np.unique(y)
    rows = [np.flatnonzero(y == c) for c in classes]
    ks = split_budget(k, [len(r) for r in rows])
    C, d = len(classes), G.shape[1]
    W = d // C
    idx, w = [], []
    blocks = [np.asarray(G, dtype=np.float64)[r][:, slice(c * W, (c + 1) * W) if per_gradient
                                                 else slice(None)] for c, r in enumerate(rows)]
    s2 = np.concatenate([(a * a).sum(1) for a in blocks]).mean()
    for c, (r, kc) in enumerate(zip(rows, ks)):
        cols = slice(c * W, (c + 1) * W) if per_gradient else slice(None)
        A = G[r][:, cols]
        b = A.sum(0) if targets is None else targets[c, cols]
        lam_c = lam * s2 / (blocks[c] ** 2).sum(1).mean()  # the same ridge for every class
        i, wc = orthogonal_matching_pursuit(A, b, int(kc), lam=lam_c)
        idx.append(r[i])
        w.append(wc)
    return np.concatenate(idx), np.concatenate(w)


# ---------------------------------------------------------------------------
# per-class budget split inside the selector
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("sizes,budget,expected", [
    ([180, 90, 30], 30, [18, 9, 3]),
    ([100, 70, 30], 0.1, [10, 7, 3]),
    ([7, 5, 3], 5, [2, 2, 1]),
    ([20, 3, 3], 25, [19, 3, 3]),  # quotas 19.23, 2.88, 2.88
    ([97, 2, 1], 0.1, [8, 1, 1]),  # quotas 9.7, 0.2, 0.1: every class keeps a slot
])
def test_per_class_budget_split(sizes, budget, expected):
    y = make_labels(sizes, seed=1)
    G = make_G(n=len(y), seed=1)
    sel = GradMatchSelector(budget=budget, per_class=True).fit(G, y)
    counts = np.bincount(y[sel.indices_], minlength=len(sizes))
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == resolve_budget(budget, len(y))
    assert (counts <= np.asarray(sizes)).all()
    assert len(np.unique(sel.indices_)) == len(sel.indices_)
    np.testing.assert_array_equal(sel.classes_, np.arange(len(sizes)))
    # grouped by class, classes in sorted order
    assert (np.diff(y[sel.indices_]) >= 0).all()


def test_per_class_matches_independent_solves():
    y = make_labels([120, 50, 30], seed=2)
    G = make_G(n=len(y), seed=2)
    sel = GradMatchSelector(**EXACT, budget=20, per_class=True).fit(G, y)
    idx, w = per_class_reference(G, y, 20)
    np.testing.assert_array_equal(sel.indices_, idx)
    np.testing.assert_allclose(sel.weights_, w, rtol=1e-5)
    assert sel.gradient_error_ == pytest.approx(rel_error(G, idx, w, G.sum(0)), rel=1e-6)


def test_per_class_with_string_labels():
    y_int = make_labels([40, 25, 15], seed=3)
    names = np.array(["cat", "dog", "eel"])
    G = make_G(n=len(y_int), seed=3)
    a = GradMatchSelector(budget=16, per_class=True).fit(G, y_int)
    b = GradMatchSelector(budget=16, per_class=True).fit(G, names[y_int])
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_array_equal(b.classes_, names)


# ---------------------------------------------------------------------------
# per-gradient slices
# ---------------------------------------------------------------------------
def test_per_gradient_uses_each_class_block():
    C, W = 3, 6
    y = make_labels([60, 45, 35], seed=4)
    rng = np.random.default_rng(4)
    G = rng.normal(size=(len(y), C * W)) + 0.5
    # large noise outside each row's own block: it must not influence the selection
    G_noisy = G.copy()
    for c in range(C):
        rows = np.flatnonzero(y == c)
        for c2 in range(C):
            if c2 != c:
                G_noisy[np.ix_(rows, range(c2 * W, (c2 + 1) * W))] = \
                    50 * rng.normal(size=(len(rows), W))
    sel = GradMatchSelector(**EXACT, budget=18, per_class=True, per_gradient=True).fit(G_noisy, y)
    idx, w = per_class_reference(G, y, 18, per_gradient=True)
    np.testing.assert_array_equal(sel.indices_, idx)
    np.testing.assert_allclose(sel.weights_, w, rtol=1e-5)
    # the reported error is over all columns of the (noisy) matrix
    assert sel.gradient_error_ == pytest.approx(
        rel_error(G_noisy, idx, w, G_noisy.sum(0)), rel=1e-6)
    # and without per_gradient the noise does change the choice
    full = GradMatchSelector(**EXACT, budget=18, per_class=True).fit(G_noisy, y)
    assert full.indices_.tolist() != sel.indices_.tolist()


# ---------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------
def test_target_vector():
    G = make_G(seed=5)
    rng = np.random.default_rng(5)
    t = G[:40].sum(0) * 3 + rng.normal(size=G.shape[1])
    sel = GradMatchSelector(**EXACT, budget=15).fit(G, target=t)
    idx, w = orthogonal_matching_pursuit(G, t, 15, lam=0.05)
    np.testing.assert_array_equal(sel.indices_, idx)
    np.testing.assert_allclose(sel.weights_, w, rtol=1e-5)
    assert sel.gradient_error_ == pytest.approx(rel_error(G, idx, w, t), rel=1e-6)
    # a different target gives a different selection than the default
    default = GradMatchSelector(**EXACT, budget=15).fit(G)
    assert default.indices_.tolist() != sel.indices_.tolist()
    # torch target works as well
    sel_t = GradMatchSelector(**EXACT, budget=15).fit(G, target=torch.as_tensor(t))
    np.testing.assert_array_equal(sel_t.indices_, sel.indices_)


@pytest.mark.parametrize("per_gradient", [False, True])
def test_target_per_class(per_gradient):
    C, W = 3, 5
    y = make_labels([50, 40, 30], seed=6)
    rng = np.random.default_rng(6)
    G = rng.normal(size=(len(y), C * W)) + 0.7
    T = np.stack([G[y == c].sum(0) + 3 * rng.normal(size=C * W) for c in range(C)])
    sel = GradMatchSelector(**EXACT, budget=15, per_class=True, per_gradient=per_gradient).fit(
        G, y, target=T)
    idx, w = per_class_reference(G, y, 15, targets=T, per_gradient=per_gradient)
    np.testing.assert_array_equal(sel.indices_, idx)
    np.testing.assert_allclose(sel.weights_, w, rtol=1e-5)
    assert sel.gradient_error_ == pytest.approx(rel_error(G, idx, w, T.sum(0)), rel=1e-6)


# ---------------------------------------------------------------------------
# quality, determinism, input types
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("per_class", [False, True])
def test_gradient_error_far_below_random_subset(per_class):
    n, k = 500, 25
    G = make_G(n=n, d=32, seed=7)
    y = make_labels([250, 150, 100], seed=7)
    sel = GradMatchSelector(budget=k, per_class=per_class).fit(G, y if per_class else None)
    target = G.sum(0)
    assert sel.gradient_error_ == pytest.approx(
        rel_error(G, sel.indices_, sel.weights_, target), rel=1e-4, abs=1e-6)
    rng = np.random.default_rng(0)
    random_errors = [rel_error(G, rng.choice(n, k, replace=False), np.full(k, n / k), target)
                     for _ in range(50)]
    # below the luckiest of 50 random subsets, and far below a typical one
    assert sel.gradient_error_ < min(random_errors)
    assert sel.gradient_error_ < 0.3 * np.median(random_errors)
    assert (sel.weights_ >= 0).all()
    assert 0.5 * n < sel.weights_.sum() < 1.5 * n  # on the scale of the target


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
def test_criterion_is_forwarded(criterion):
    rng = np.random.default_rng(18)
    G = rng.normal(size=(200, 16)) * rng.uniform(0.2, 4.0, size=(200, 1)) + 0.5
    sel = GradMatchSelector(budget=12, criterion=criterion).fit(G)
    idx, w = orthogonal_matching_pursuit(G, G.sum(0), 12, lam=0.05, criterion=criterion)
    np.testing.assert_array_equal(sel.indices_, idx)
    np.testing.assert_allclose(sel.weights_, w, rtol=1e-5)
    other = "correlation" if criterion == "gain" else "gain"
    idx_other, _ = orthogonal_matching_pursuit(G, G.sum(0), 12, lam=0.05, criterion=other)
    assert idx_other.tolist() != idx.tolist()  # the two rules really differ here


def test_deterministic():
    G = make_G(seed=8)
    y = make_labels([150, 100, 50], seed=8)
    a = GradMatchSelector(budget=0.1, per_class=True).fit(G, y)
    b = GradMatchSelector(budget=0.1, per_class=True).fit(G, y)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.gradient_error_ == b.gradient_error_


@pytest.mark.parametrize("per_class", [False, True])
def test_numpy_and_torch_inputs_agree(per_class):
    G = make_G(seed=9)
    y = make_labels([150, 100, 50], seed=9)
    yy = y if per_class else None
    a = GradMatchSelector(budget=20, per_class=per_class).fit(G, yy)
    b = GradMatchSelector(budget=20, per_class=per_class).fit(torch.from_numpy(G), yy)
    c = GradMatchSelector(budget=20, per_class=per_class).fit(
        torch.from_numpy(G).float(), None if yy is None else torch.as_tensor(yy).numpy())
    for other in (b, c):
        np.testing.assert_array_equal(a.indices_, other.indices_)
        np.testing.assert_allclose(a.weights_, other.weights_, rtol=1e-5)
    assert isinstance(b.indices_, np.ndarray) and b.indices_.dtype == np.int64
    assert isinstance(b.weights_, np.ndarray)


def test_dtype_float64_close_to_float32():
    G = make_G(seed=10)
    a = GradMatchSelector(budget=20, dtype="float32").fit(G)
    b = GradMatchSelector(budget=20, dtype="float64").fit(G)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-4)


def test_functional_form_matches_selector():
    G = make_G(seed=11)
    y = make_labels([150, 100, 50], seed=11)
    idx, w = gradmatch(G, budget=12, y=y, per_class=True, lam=0.2)
    sel = GradMatchSelector(budget=12, per_class=True, lam=0.2).fit(G, y)
    np.testing.assert_array_equal(idx, sel.indices_)
    np.testing.assert_array_equal(w, sel.weights_)


def test_lam_changes_weights():
    G = make_G(seed=12)
    lo = GradMatchSelector(budget=10, lam=1e-6).fit(G)
    hi = GradMatchSelector(budget=10, lam=1e4).fit(G)
    assert lo.gradient_error_ < hi.gradient_error_
    assert hi.weights_.sum() < lo.weights_.sum()


# ---------------------------------------------------------------------------
# transform and the estimator API
# ---------------------------------------------------------------------------
def test_transform_numpy_and_torch():
    G = make_G(seed=13)
    sel = GradMatchSelector(budget=10).fit(G)
    np.testing.assert_array_equal(sel.transform(G), G[sel.indices_])
    Gt = torch.from_numpy(G)
    out = sel.transform(Gt)
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out, Gt[torch.as_tensor(sel.indices_)])
    # any data aligned with the rows, e.g. the raw inputs
    X = np.arange(G.shape[0] * 2).reshape(-1, 2)
    np.testing.assert_array_equal(sel.transform(X), X[sel.indices_])
    np.testing.assert_array_equal(GradMatchSelector(budget=10).fit_transform(G),
                                  G[sel.indices_])
    with pytest.raises(ValueError, match="rows"):
        sel.transform(G[:-1])


def test_transform_before_fit():
    with pytest.raises(NotFittedError):
        GradMatchSelector().transform(make_G())


def test_clone_get_set_params():
    sel = GradMatchSelector(budget=7, lam=0.3, tol=1e-8, positive=True, per_class=True,
                            per_gradient=False, criterion="correlation", device="cpu",
                            dtype="float64", random_state=3)
    params = sel.get_params()
    assert params == dict(budget=7, lam=0.3, tol=1e-8, positive=True, per_class=True,
                          per_gradient=False, pool_factor=3, max_support=256, sampling="cycle",
                          criterion="correlation", per_step="auto",
                          device="cpu", dtype="float64", random_state=3)
    G = make_G(seed=14)
    y = make_labels([150, 100, 50], seed=14)
    sel.fit(G, y)
    c = clone(sel)
    assert c.get_params() == params
    assert not hasattr(c, "indices_")
    c.fit(G, y)
    np.testing.assert_array_equal(c.indices_, sel.indices_)
    assert c.set_params(budget=0.5, lam=1.0) is c
    assert c.budget == 0.5 and c.lam == 1.0
    c.fit(G, y)
    assert len(c.indices_) == 150
    assert sel.budget == 7  # the original is untouched


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
G_OK = make_G(n=60, d=12, seed=15)
Y_OK = make_labels([30, 20, 10], seed=15)


@pytest.mark.parametrize("G,match", [
    (np.ones(10), "G"),
    (np.ones((4, 5, 6)), "G"),
    (np.ones((0, 5)), "G"),
])
def test_bad_shape(G, match):
    with pytest.raises(ValueError, match=match):
        GradMatchSelector(budget=1).fit(G)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("as_torch", [False, True])
def test_non_finite(bad, as_torch):
    G = G_OK.copy()
    G[5, 3] = bad
    G = torch.from_numpy(G) if as_torch else G
    with pytest.raises(ValueError, match="G contains NaN or infinite"):
        GradMatchSelector(budget=5).fit(G)


def test_non_numeric_G():
    with pytest.raises(TypeError, match="G must be"):
        GradMatchSelector(budget=1).fit([["a", "b"], ["c", "d"]])


@pytest.mark.parametrize("params,match", [
    (dict(budget=0), "budget"),
    (dict(budget=1.5), "budget"),
    (dict(budget=-0.2), "budget"),
    (dict(budget=61), "budget"),
    (dict(lam=-0.1), "lam"),
    (dict(tol=-1.0), "tol"),
    (dict(dtype="float16"), "dtype"),
    (dict(positive="yes"), "positive"),
    (dict(device="not_a_device"), "device"),
    (dict(criterion="best"), "criterion"),
])
def test_bad_params(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        GradMatchSelector(**params).fit(G_OK)


# -- inputs shared by every selector that reads G -----------------------------
_SELECTORS = ["GradMatchSelector", "CraigSelector", "GlisterSelector", "CrestSelector"]
_BAD_SHARED = [
    (lambda G: G + 1j, {}, TypeError, "G must be real"),
    (lambda G: torch.tensor(G, dtype=torch.complex128), {}, TypeError, "G must be real"),
    (lambda G: G, {"budget": True}, TypeError, "boolean"),
]
if not torch.cuda.is_available():
    _BAD_SHARED.append((lambda G: G, {"device": "cuda"}, ValueError, "CUDA is not available"))


@pytest.mark.parametrize("name", _SELECTORS)
@pytest.mark.parametrize("make,params,error,match", _BAD_SHARED)
def test_bad_shared_inputs(name, make, params, error, match):
    import sksubset.selectors as selectors

    with pytest.raises(error, match=match):
        getattr(selectors, name)(**params).fit(make(G_OK))


def test_float32_numpy_is_read_without_a_copy():
    from sksubset._utils.validation import check_matrix

    G = np.ones((50, 4), dtype=np.float32)
    Gt = check_matrix(G, torch.device("cpu"), torch.float32)
    assert np.shares_memory(Gt.numpy(), G)
    assert check_matrix(G.astype(np.float64), "cpu", torch.float32).dtype == torch.float32


# -- no silently empty or degenerate selection ---------------------------------
def test_huge_values_keep_k_rows():
    """Values near 1e30 overflow float32 products: the matrix is rescaled first."""
    G = make_G(n=400, d=16).astype(np.float32)
    sel = GradMatchSelector(budget=10).fit(G * np.float32(1e30))
    assert len(sel.indices_) == 10 and sel.gradient_error_ < 0.1
    # a power-of-two scale is the same problem (lam is relative to the rows' norms)
    for e in (100, -100):
        ref = GradMatchSelector(budget=30).fit(G)
        big = GradMatchSelector(budget=30).fit(G * np.float32(2.0 ** e))
        np.testing.assert_array_equal(big.indices_, ref.indices_)
        np.testing.assert_allclose(big.weights_, ref.weights_, rtol=1e-12)


@pytest.mark.parametrize("per_class", [False, True])
def test_all_zero_gradients_warn_and_give_even_rows(per_class):
    G = np.zeros((300, 8))
    y = np.arange(300) % 3
    with pytest.warns(UserWarning, match="gradient to match is zero"):
        sel = GradMatchSelector(budget=30, per_class=per_class).fit(G, y)
    assert len(np.unique(sel.indices_)) == 30
    np.testing.assert_allclose(sel.weights_, 10.0)  # equal, summing to the rows matched
    if per_class:
        assert np.bincount(y[sel.indices_]).tolist() == [10, 10, 10]


def test_y_length_mismatch():
    with pytest.raises(ValueError, match="y"):
        GradMatchSelector(budget=5, per_class=True).fit(G_OK, Y_OK[:-1])
    with pytest.raises(ValueError, match="y"):
        GradMatchSelector(budget=5).fit(G_OK, Y_OK[:-3])


def test_per_class_without_labels_is_one_problem_over_all_rows():
    a = GradMatchSelector(budget=5).fit(G_OK)
    b = GradMatchSelector(budget=5, per_class=False).fit(G_OK)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert not hasattr(a, "classes_")
    with pytest.raises(ValueError, match="per_gradient=True requires y"):
        GradMatchSelector(budget=5, per_gradient=True).fit(G_OK)


def test_per_gradient_needs_per_class():
    with pytest.raises(ValueError, match="per_gradient"):
        GradMatchSelector(budget=5, per_class=False, per_gradient=True).fit(G_OK, Y_OK)


def test_per_gradient_needs_divisible_columns():
    G = make_G(n=60, d=13, seed=16)
    with pytest.raises(ValueError, match="per_gradient"):
        GradMatchSelector(budget=5, per_class=True, per_gradient=True).fit(G, Y_OK)


@pytest.mark.parametrize("per_class,target", [
    (False, np.ones(11)),
    (False, np.ones((2, 12))),
    (True, np.ones(12)),
    (True, np.ones((2, 12))),
    (True, np.ones((3, 11))),
])
def test_target_wrong_shape(per_class, target):
    with pytest.raises(ValueError, match="target"):
        GradMatchSelector(budget=5, per_class=per_class).fit(
            G_OK, Y_OK if per_class else None, target=target)


def test_target_non_finite():
    t = np.ones(12)
    t[2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GradMatchSelector(budget=5).fit(G_OK, target=t)


# ---------------------------------------------------------------------------
# select(context): the factored path of a training run equals fit on the matrix
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("per_class,per_gradient", [(False, False), (True, False),
                                                    (True, True)])
def test_select_matches_fit_on_sample_gradients(per_class, per_gradient):
    from sksubset.gradients import sample_gradients
    from sksubset.selectors import SelectionContext

    y, ll = random_last_layer([70, 50, 30], H=7, seed=17)
    C = 3
    ctx = SelectionContext(y=y, n_classes=C, budget=15, batch_size=16, per_batch=False,
                           rng=np.random.RandomState(0), epoch=0, device=torch.device("cpu"),
                           train_fn=lambda idx: ll if idx is None else ll[torch.as_tensor(idx)])
    params = dict(pool_factor=None, budget=15, per_class=per_class, per_gradient=per_gradient)
    out = GradMatchSelector(**params).select(ctx)
    G = sample_gradients(ll.E, ll.Hb).numpy()
    ref = GradMatchSelector(**params).fit(G, y if per_class else None)
    np.testing.assert_array_equal(out.indices, ref.indices_)
    np.testing.assert_allclose(out.weights, ref.weights_, rtol=1e-4)
    assert out.info["gradient_error"] == pytest.approx(ref.gradient_error_, rel=1e-3)
    assert len(out.indices) == 15 and (out.weights >= 0).all()


@pytest.mark.usefixtures("no_min_pool")
@pytest.mark.parametrize("per_batch", [False, True])
def test_select_from_a_random_pool(per_batch):
    """pool_factor: only the pool's rows are examined; the target is their sum scaled up."""
    from sksubset.gradients import sample_gradients
    from sksubset.selectors import SelectionContext

    y, ll = random_last_layer([100, 60, 40], H=5, seed=21)
    n, C = 200, 3
    seen = []

    def train_fn(idx):
        seen.append(None if idx is None else np.asarray(idx))
        return ll if idx is None else ll[torch.as_tensor(idx)]

    ctx = SelectionContext(y=y, n_classes=C, budget=10, batch_size=4, per_batch=per_batch,
                           rng=np.random.RandomState(5), epoch=0, device=torch.device("cpu"),
                           train_fn=train_fn)
    out = GradMatchSelector(pool_factor=5, per_class=False).select(ctx)
    pool = np.sort(np.random.RandomState(5).choice(n, 50, replace=False))
    np.testing.assert_array_equal(seen[0], pool)  # one forward pass, over the pool only
    assert out.info["pool_size"] == 50
    assert set(out.indices) <= set(pool) and len(np.unique(out.indices)) == len(out.indices)
    if not per_batch:  # the same as matching the scaled pool gradient on the pool's rows
        G = sample_gradients(ll.E, ll.Hb).numpy()[pool]
        ref = GradMatchSelector(budget=10, per_class=False).fit(G, target=G.sum(0) * n / 50)
        np.testing.assert_array_equal(out.indices, pool[ref.indices_])
        np.testing.assert_allclose(out.weights, ref.weights_, rtol=1e-4)


@pytest.mark.usefixtures("no_min_pool")
def test_pools_without_replacement_cover_every_example_once_per_cycle():
    """sampling="cycle": four pools of 50 of 200 rows partition them, then a new cycle;
    the same seed gives the same pools."""
    from sksubset.selectors import SelectionContext

    y, ll = random_last_layer([100, 60, 40], H=5, seed=22)
    n, C = 200, 3

    def pools(seed, m):
        seen = []

        def train_fn(idx):
            seen.append(np.asarray(idx))
            return ll[torch.as_tensor(idx)]

        ctx = SelectionContext(y=y, n_classes=C, budget=10, batch_size=4, per_batch=False,
                               rng=np.random.RandomState(seed), epoch=0,
                               device=torch.device("cpu"), train_fn=train_fn)
        sel = GradMatchSelector(per_class=True, pool_factor=5, sampling="cycle")
        outs = [sel.select(ctx) for _ in range(m)]
        for out, pool in zip(outs, seen):
            assert set(out.indices) <= set(pool)
        return seen

    seen = pools(3, 8)
    for cycle in (seen[:4], seen[4:]):
        np.testing.assert_array_equal(np.sort(np.concatenate(cycle)), np.arange(n))
    for a, b in zip(seen, pools(3, 8)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.usefixtures("no_min_pool")
@pytest.mark.parametrize("sampling", ["independent", "cycle"])
def test_pools_are_drawn_regardless_of_the_free_rows(sampling):
    """context.free (rows whose factors cost no forward pass) does not change the pools: the
    same draws from the same generator as without it."""
    from sksubset.selectors import SelectionContext

    y, ll = random_last_layer([100, 60, 40], H=5, seed=23)

    def pools(free, rounds=3, seed=4):
        seen = []

        def train_fn(idx):
            seen.append(np.asarray(idx))
            return ll[torch.as_tensor(idx)]

        ctx = SelectionContext(y=y, n_classes=3, budget=10, batch_size=4, per_batch=False,
                               rng=np.random.RandomState(seed), epoch=0,
                               device=torch.device("cpu"), train_fn=train_fn)
        if free is not None:
            ctx.free = np.asarray(free, dtype=np.int64)
        sel = GradMatchSelector(pool_factor=5, sampling=sampling)
        for _ in range(rounds):
            out = sel.select(ctx)
            assert out.info["pool_size"] == 50 and set(out.indices) <= set(seen[-1])
        return seen

    default = pools(None)
    for free in (np.empty(0), np.arange(3, 200, 9), np.arange(0, 200, 2)):
        for a, b in zip(default, pools(free)):
            np.testing.assert_array_equal(a, b)
    if sampling == "independent":  # each class's share, 5 times its budget (5, 3 and 2)
        rng = np.random.RandomState(4)
        groups = [np.flatnonzero(y == c) for c in range(3)]
        expected = [g[np.sort(rng.choice(len(g), m, replace=False))]
                    for g, m in zip(groups, (25, 15, 10))]
        np.testing.assert_array_equal(default[0], np.sort(np.concatenate(expected)))
    else:  # the pools cycle through the data
        assert len(np.unique(np.concatenate(default))) == 150


# ---------------------------------------------------------------------------
# fit on a net's last-layer gradients given by their factors
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("per_class,per_gradient", [(False, False), (True, False),
                                                    (True, True)])
def test_factored_and_dense_gradients_give_the_same_selection(per_class, per_gradient,
                                                               toy_gradients):
    net, X, y, G = toy_gradients(n=240)
    params = dict(budget=0.1, per_class=per_class, per_gradient=per_gradient)
    D = G.dense()
    # float32: the same subset up to float ties, the same gradient error
    a = GradMatchSelector(**params).fit(G, y)
    b = GradMatchSelector(**params).fit(D.numpy(), y)
    assert len(set(a.indices_) & set(b.indices_)) >= 0.9 * len(b.indices_)
    assert a.gradient_error_ == pytest.approx(b.gradient_error_, rel=1e-3, abs=1e-6)
    # float64: exactly the same problem, the same answer
    a = GradMatchSelector(**params, dtype="float64").fit(G, y)
    from sksubset.gradients import sample_gradients

    Dd = sample_gradients(G.E.double(), G.Hb.double()).numpy()  # formed in float64
    b = GradMatchSelector(**params, dtype="float64").fit(Dd, y)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-8)
    assert a.gradient_error_ == pytest.approx(b.gradient_error_, rel=1e-8)
    # the error computed from the factors is the dense one of that selection
    w = a.weights_
    ref = np.linalg.norm(w @ Dd[a.indices_] - Dd.sum(0)) / np.linalg.norm(Dd.sum(0))
    assert a.gradient_error_ == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("per_class", [False, True])
def test_held_out_gradients_as_target(per_class, toy_gradients):
    """target=<held-out factors>: its gradient sum (per class) scaled to the training rows."""
    net, X, y, G = toy_gradients(n=150)
    _, Xv, yv, Gv = toy_gradients(n=45, seed=1)
    from sksubset.gradients import last_layer_gradients, sample_gradients

    Gv = last_layer_gradients(net, Xv, yv)  # the same net on other rows
    Dv = sample_gradients(Gv.E.double(), Gv.Hb.double()).numpy()
    if per_class:
        T = np.stack([Dv[yv == c].sum(0) * (y == c).sum() / (yv == c).sum() for c in range(3)])
    else:
        T = Dv.sum(0) * len(y) / len(yv)
    params = dict(EXACT, budget=15, per_class=per_class, dtype="float64", pool_factor=None)
    a = GradMatchSelector(**params).fit(G, y, target=Gv)
    b = GradMatchSelector(**params).fit(G, y, target=T)
    c = GradMatchSelector(**params).fit(sample_gradients(G.E.double(), G.Hb.double()).numpy(),
                                        y, target=T)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_array_equal(a.indices_, c.indices_)
    assert a.gradient_error_ == pytest.approx(c.gradient_error_, rel=1e-8)
    # and it is what a training round with held-out data selects
    from sksubset.selectors import SelectionContext

    ctx = SelectionContext(y=y, n_classes=3, budget=15, batch_size=16, per_batch=False,
                           rng=np.random.RandomState(0), epoch=0, device=torch.device("cpu"),
                           train_fn=lambda idx: G, valid_fn=lambda: Gv)
    out = GradMatchSelector(**params).select(ctx)
    np.testing.assert_array_equal(out.indices, a.indices_)


@pytest.mark.parametrize("factor", [2.0 ** 100, 2.0 ** -100])
def test_factors_of_extreme_magnitude_give_the_same_selection(factor, toy_gradients):
    """Gradients are linear in Hb: scaling it by a power of two far outside float32's comfortable
    range selects the same rows with the same weights (the solver rescales; lam is relative)."""
    from sksubset.gradients import LastLayer

    _, _, y, G = toy_gradients(n=120)
    ref = GradMatchSelector(budget=12, per_class=True, dtype="float64").fit(G, y)
    big = LastLayer(G.E, G.Hb.double() * factor, G.Z, G.y)
    got = GradMatchSelector(budget=12, per_class=True, dtype="float64").fit(big, y)
    np.testing.assert_array_equal(got.indices_, ref.indices_)
    np.testing.assert_allclose(got.weights_, ref.weights_, rtol=1e-9)
    assert got.gradient_error_ == pytest.approx(ref.gradient_error_, rel=1e-9)
def test_per_step_reaches_the_solver():
    """per_step=1 is the exact search; per_step=4 is omp_batched's block search."""
    from sksubset.omp import omp_batched

    G = make_G(seed=31)
    exact = GradMatchSelector(**EXACT, budget=20).fit(G)
    one = GradMatchSelector(budget=20, criterion="gain", per_step=1).fit(G)
    assert exact.indices_.tolist() == one.indices_.tolist()
    block = GradMatchSelector(budget=20, criterion="gain", per_step=4, dtype="float64").fit(G)
    Gt = torch.as_tensor(G, dtype=torch.float64)
    ref = omp_batched(Gt[None], Gt.sum(0)[None], [20], per_step=4)[0]
    assert block.indices_.tolist() == ref.indices.tolist()
    with pytest.raises(ValueError, match="per_step"):
        GradMatchSelector(per_step=0).fit(G)
