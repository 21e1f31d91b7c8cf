"""Tests of the selector contract (:mod:`sksubset.selectors._base`, with its row helpers
``_rows`` and factor checks ``_checks``): every selector on factored last-layer gradients,
``transform`` of the rows it was fitted on, ``fit_resample``, one meaning of the weights."""

import numpy as np
import pytest
import torch

from sksubset import (
    CraigSelector,
    CrestSelector,
    GlisterSelector,
    GradMatchSelector,
    RandomSelector,
)
from sksubset.gradients import LastLayer
from sksubset.selectors import Selection, SelectionContext
from sksubset.selectors._crest_model import features
from sksubset.selectors._rows import expand_batches, group_rows

SELECTORS = {
    "gradmatch": lambda: GradMatchSelector(budget=12, per_class=True),
    "craig": lambda: CraigSelector(budget=12),
    "glister": lambda: GlisterSelector(budget=12, optimizer="naive"),
    "crest": lambda: CrestSelector(budget=12, batch_size=6, subset_fraction=0.3,
                                   random_state=0),
    "random": lambda: RandomSelector(budget=12, random_state=0),
}


def _dense_equivalent(name, G):
    """What the selector sees of ``G`` when it is given as a matrix."""
    return features(G)[1].numpy() if name == "crest" else G.dense().numpy()


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_selector_selects_on_factors_as_on_the_dense_matrix(name, toy_gradients):
    """Same rows and weights as on the matrix the factors stand for (float64: no ties)."""
    net, X, y, G = toy_gradients()
    make = SELECTORS[name]
    a = make().set_params(**({"dtype": "float64"} if "dtype" in make().get_params() else {}))
    b = a.__class__(**a.get_params())
    a.fit(G, y)
    b.fit(_dense_equivalent(name, G), y)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-6, atol=1e-9)
    assert len(a.indices_) == 12 and a.n_samples_fit_ == len(y)
    # transform returns rows of whatever the selector was fitted on, and of the inputs
    np.testing.assert_array_equal(a.transform(X), X[a.indices_])
    rows = a.transform(G)
    assert isinstance(rows, LastLayer)
    torch.testing.assert_close(rows.dense(), G.dense()[a.indices_])
    # y may be omitted: the factors carry the labels
    c = a.__class__(**a.get_params()).fit(G)
    np.testing.assert_array_equal(c.indices_, a.indices_)


def test_transform_gives_a_dataset_view_and_checks_rows(toy_gradients):
    net, X, y, G = toy_gradients()
    sel = GradMatchSelector(budget=10).fit(G, y)
    ds = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    sub = sel.transform(ds)
    assert isinstance(sub, torch.utils.data.Subset) and len(sub) == 10
    torch.testing.assert_close(sub[0][0], torch.as_tensor(X[sel.indices_[0]]))
    np.testing.assert_array_equal(sel.transform(list(X))[1], X[sel.indices_[1]])
    for bad in (X[:-1], G[torch.arange(5)], torch.utils.data.TensorDataset(torch.zeros(3, 1)),
                list(X[:3])):
        with pytest.raises(ValueError, match="fitted on 120"):
            sel.transform(bad)


def test_fit_resample_returns_rows_labels_and_weights(toy_gradients):
    net, X, y, G = toy_gradients()
    sel = GradMatchSelector(budget=0.1, per_class=True)
    X_res, y_res = sel.fit_resample(X, y, gradients=G)
    ref = GradMatchSelector(budget=0.1, per_class=True).fit(G, y)
    np.testing.assert_array_equal(sel.indices_, ref.indices_)
    np.testing.assert_array_equal(X_res, X[ref.indices_])
    np.testing.assert_array_equal(y_res, y[ref.indices_])
    assert sel.weights_.shape == (len(X_res),)
    # a target goes to fit; without gradients the rows of X themselves are selected on
    X_v, y_v = sel.fit_resample(X, y, gradients=G, target=G[torch.arange(30)])
    assert len(X_v) == 12
    X_c, y_c = CraigSelector(budget=6).fit_resample(X, y)
    np.testing.assert_array_equal(X_c, X[CraigSelector(budget=6).fit(X, y).indices_])
    np.testing.assert_array_equal(y_c, y[CraigSelector(budget=6).fit(X, y).indices_])


def test_weights_of_fit_resample_work_as_sample_weight(toy_gradients):
    from sklearn.linear_model import LogisticRegression

    net, X, y, G = toy_gradients()
    sel = CraigSelector(budget=0.2)
    X_res, y_res = sel.fit_resample(X, y, gradients=G)
    clf = LogisticRegression().fit(X_res, y_res, sample_weight=sel.weights_)
    # integer weights = repeated rows
    rep = np.repeat(np.arange(len(X_res)), sel.weights_.astype(int))
    ref = LogisticRegression().fit(X_res[rep], y_res[rep])
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["gradmatch", "craig", "glister", "crest"])  # RANDOM reads no y
def test_labels_must_be_those_of_the_gradients(name, toy_gradients):
    net, X, y, G = toy_gradients()
    with pytest.raises(ValueError, match="labels the last-layer gradients were computed"):
        SELECTORS[name]().fit(G, (y + 1) % 3)


@pytest.mark.parametrize("name", ["gradmatch", "craig", "glister", "crest"])
@pytest.mark.parametrize("part", ["E", "Hb"])
def test_non_finite_factors_are_refused(name, part, toy_gradients):
    net, X, y, G = toy_gradients()
    parts = {"E": G.E.clone(), "Hb": G.Hb.clone(), "Z": G.Z.clone()}
    parts[part][3, 1] = float("nan")
    if name == "crest":  # CREST reads the logits
        parts["Z"][3, 1] = float("inf")
    bad = LastLayer(parts["E"], parts["Hb"], parts["Z"], G.y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        SELECTORS[name]().fit(bad, y)


@pytest.mark.parametrize("cls", [GradMatchSelector, GlisterSelector])
def test_held_out_target_needs_factored_G_of_the_same_net(cls, toy_gradients):
    net, X, y, G = toy_gradients()
    with pytest.raises(TypeError, match="only when G is one too"):
        cls(budget=5).fit(G.dense().numpy(), y, target=G)
    other = toy_gradients(n_classes=4)[3]
    with pytest.raises(ValueError, match="same net"):
        cls(budget=5).fit(G, y, target=other)


# ---------------------------------------------------------------------------
# one meaning of the weights: how many candidate rows each selected row stands for
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_weights_stand_for_the_candidate_rows(name, toy_gradients):
    """They sum to n (RANDOM, CRAIG, CREST, GLISTER) or roughly n (GRAD-MATCH, fitted)."""
    net, X, y, G = toy_gradients()
    sel = SELECTORS[name]().fit(G, y)
    assert sel.weights_.shape == sel.indices_.shape and (sel.weights_ > 0).all()
    if name == "gradmatch":
        assert 0.5 * len(y) < sel.weights_.sum() < 1.5 * len(y)
    else:
        assert sel.weights_.sum() == pytest.approx(len(y))


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_select_weights_stand_for_the_candidate_rows(name, toy_gradients):
    net, X, y, G = toy_gradients()
    ctx = SelectionContext(y=y, n_classes=3, budget=12, batch_size=6, per_batch=False,
                           rng=np.random.RandomState(0), epoch=0, device=torch.device("cpu"),
                           train_fn=lambda idx: G if idx is None else G[torch.as_tensor(idx)],
                           params_fn=lambda: torch.zeros(3 * G.Hb.shape[1]))
    out = SELECTORS[name]().select(ctx)
    assert isinstance(out, Selection) and len(out.indices) == len(out.weights) == 12
    if name == "gradmatch":
        assert 0.5 * len(y) < out.weights.sum() < 1.5 * len(y)
    else:
        assert out.weights.sum() == pytest.approx(len(y))


def test_context_caches_the_ground_set_and_slices_it():
    calls = []
    full = LastLayer(torch.randn(6, 2), torch.randn(6, 3), torch.randn(6, 2),
                     torch.tensor([0, 1, 0, 1, 0, 1]))

    def train_fn(idx):
        calls.append(idx)
        return full if idx is None else full[torch.as_tensor(idx)]

    ctx = SelectionContext(y=full.y.numpy(), n_classes=2, budget=2, batch_size=2,
                           per_batch=False, rng=np.random.RandomState(0), epoch=0,
                           device=torch.device("cpu"), train_fn=train_fn)
    assert ctx.n_samples == 6 and ctx.valid() is None and ctx.last_layer_params() is None
    sub = ctx.train([1, 3])                  # before the whole set: one pass over the rows
    assert ctx.train() is ctx.train()        # the whole set once, then cached
    torch.testing.assert_close(ctx.train([1, 3]).E, sub.E)   # sliced from the cache
    assert len(calls) == 2 and calls[1] is None


def test_group_rows_and_expand_batches():
    classes, rows = group_rows(np.array(["b", "a", "b"]))
    assert classes.tolist() == ["a", "b"] and [r.tolist() for r in rows] == [[1], [0, 2]]
    classes, rows = group_rows(None, 4)      # no labels: one group of all rows
    assert classes is None and [r.tolist() for r in rows] == [[0, 1, 2, 3]]
    idx, w = expand_batches([[0, 1], [2], [3, 4, 5]], [2, 0], [1.5, 2.0])
    assert idx.tolist() == [3, 4, 5, 0, 1] and w.tolist() == [1.5] * 3 + [2.0] * 2
    idx, w = expand_batches([[0]], [], [])
    assert idx.dtype == np.int64 and len(idx) == len(w) == 0
