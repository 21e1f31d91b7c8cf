"""GlisterSelector: greedy one-step validation improvement, with re-linearization."""

import numpy as np
import pytest
import torch
from conftest import ToyMLP, random_last_layer
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetClassifier

from sksubset import SubsetTrainingClassifier
from sksubset._utils.budget import split_budget
from sksubset.gradients import LastLayer, find_last_linear, last_layer, sample_gradients
from sksubset.selectors import SelectionContext, get_selector
from sksubset.selectors._glister_greedy import relinearizing_greedy
from sksubset.selectors.glister import GlisterSelector

pytestmark = pytest.mark.usefixtures("one_thread")


def _glister_last_layer(n=80, C=3, H=6, seed=0):
    return random_last_layer(n, C, H, seed, dtype=torch.float32)


def _context(train, k, valid=None, seed=0, n_classes=None):
    return SelectionContext(
        y=train.y.numpy(), n_classes=n_classes or train.E.shape[1], budget=k, batch_size=4,
        per_batch=True, rng=np.random.RandomState(seed), epoch=0, device=torch.device("cpu"),
        train_fn=lambda idx: train if idx is None else train[torch.as_tensor(idx)],
        valid_fn=None if valid is None else (lambda: valid))


def _near_duplicates():
    """Two validation examples; candidates 0 and 1 nearly duplicate and serve the first.

    Candidate 2 serves the second validation example and scores a little lower
    than 1 at the start; candidate 3 is of the other class (negative gain).
    """
    e = torch.tensor([-0.5, 0.5])  # class 0 at logits (0, 0)
    valid = LastLayer(e.repeat(2, 1), torch.tensor([[1.0, 1, 0], [1, 0, 1]]), torch.zeros(2, 2),
                      torch.tensor([0, 0]))
    train = LastLayer(torch.stack([e, e, e, -e]),
                      torch.tensor([[1.0, 1, 0], [1, 0.99, 0], [1, 0, 0.98], [1, 0, 0]]),
                      torch.zeros(4, 2), torch.tensor([0, 0, 0, 1]))
    return train, valid


def test_registry():
    assert get_selector("glister") is GlisterSelector


def test_relinearization_diversifies_the_choice():
    train, valid = _near_duplicates()
    G, gval = sample_gradients(train.E, train.Hb), valid.gradient_sum / 2
    assert torch.argsort(G @ gval, descending=True)[:2].tolist() == [0, 1]  # static top-2
    out = GlisterSelector(eta=5.0, per_class=False).select(_context(train, 2, valid))
    assert out.indices.tolist() == [0, 2]
    np.testing.assert_array_equal(out.weights, [2.0, 2.0])  # 4 rows, 2 picks: n / k each
    assert out.info["validation"] == "holdout"
    assert out.info["valid_loss_after_step"] < out.info["valid_loss"]
    # no re-linearization (DeepCore's GLISTER) or a vanishing step: the static top-k
    assert GlisterSelector(eta=5.0, update_every=2, per_class=False).select(
        _context(train, 2, valid)).indices.tolist() == [0, 1]
    assert GlisterSelector(eta=1e-6, per_class=False).select(
        _context(train, 2, valid)).indices.tolist() == [0, 1]


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_relinearized_gradient_is_the_true_one(smoothing):
    """The closed-form validation gradient after a step equals a fresh forward pass."""
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        ToyMLP, module__n_in=5, module__n_hidden=7, module__n_classes=3,
        criterion=torch.nn.CrossEntropyLoss, criterion__label_smoothing=smoothing,
        train_split=None, verbose=0).initialize()
    Xv = torch.randn(30, 5)
    yv = torch.arange(30) % 3
    Xt, yt = torch.randn(40, 5), torch.arange(40) % 3
    val, tr = last_layer(net, Xv, yv), last_layer(net, Xt, yt)
    eta = 0.3
    picks, _ = relinearizing_greedy(tr.E, tr.Hb, val.E, val.Hb, val.Z, 5, eta=eta,
                                     update_every=1, optimizer="naive", epsilon=0.01, rng=None)
    # apply the same step to the net and recompute the validation gradient
    step = -eta * (tr.E[picks].T @ tr.Hb[picks])
    layer = find_last_linear(net.module_)
    with torch.no_grad():
        layer.bias += step[:, 0]
        layer.weight += step[:, 1:]
    after = last_layer(net, Xv, yv)
    torch.testing.assert_close(after.Z, val.Z + val.Hb @ step.T, rtol=1e-5, atol=1e-5)
    closed = val.E + torch.softmax(val.Z + val.Hb @ step.T, 1) - torch.softmax(val.Z, 1)
    torch.testing.assert_close(after.E, closed, rtol=1e-5, atol=1e-5)
    # and the greedy's last choice is the argmax against the gradient before that pick
    step4 = -eta * (tr.E[picks[:4]].T @ tr.Hb[picks[:4]])
    Ev = val.E + torch.softmax(val.Z + val.Hb @ step4.T, 1) - torch.softmax(val.Z, 1)
    gains = sample_gradients(tr.E, tr.Hb) @ (Ev.T @ val.Hb).reshape(-1)
    gains[torch.as_tensor(picks[:4])] = -np.inf
    assert int(torch.argmax(gains)) == picks[4]


def test_select_without_validation_uses_a_sample_of_the_pool():
    tr = _glister_last_layer(seed=1)
    kw = dict(optimizer="naive", per_class=False)
    out = GlisterSelector(valid_size=len(tr), **kw).select(_context(tr, 10))
    assert out.info["validation"] == "train-sample"
    same = GlisterSelector(**kw).select(_context(tr, 10, valid=tr))
    np.testing.assert_array_equal(out.indices, same.indices)  # valid_size=n: the whole pool
    assert out.indices.dtype == np.int64 and len(np.unique(out.indices)) == 10
    # a smaller sample is drawn from the run's generator: rows of the pool, seeded
    ctx = _context(tr, 10, seed=3)
    part = GlisterSelector(valid_size=0.25, **kw).select(ctx)
    rng = np.random.RandomState(3)
    sample = np.sort(rng.choice(len(tr), int(round(0.25 * len(tr))), replace=False))
    ref = GlisterSelector(**kw).select(_context(tr, 10, valid=tr[torch.as_tensor(sample)]))
    np.testing.assert_array_equal(part.indices, ref.indices)


def test_select_small_step_decreases_validation_loss():
    tr, va = _glister_last_layer(seed=2), _glister_last_layer(n=30, seed=3)
    out = GlisterSelector(eta=1e-3, per_class=False).select(_context(tr, 8, va))
    assert out.info["valid_loss_after_step"] < out.info["valid_loss"]


def test_select_per_class_and_stochastic_determinism():
    tr, va = _glister_last_layer(n=90, seed=4), _glister_last_layer(n=30, seed=5)
    out = GlisterSelector(per_class=True).select(_context(tr, 12, va))
    y = tr.y.numpy()
    assert np.bincount(y[out.indices], minlength=3).tolist() == split_budget(
        12, np.bincount(y, minlength=3)).tolist()
    sel = GlisterSelector(optimizer="stochastic", per_class=False)
    a = sel.select(_context(tr, 12, va, seed=7))
    b = sel.select(_context(tr, 12, va, seed=7))
    c = sel.select(_context(tr, 12, va, seed=8))
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)
    # per class with a class missing from the validation data: falls back to the pool
    va2 = va[torch.as_tensor(np.flatnonzero(va.y.numpy() != 2))]
    out2 = GlisterSelector(per_class=True).select(_context(tr, 12, va2))
    assert np.bincount(y[out2.indices], minlength=3).tolist() == split_budget(
        12, np.bincount(y, minlength=3)).tolist()


def _reference_fit(G, k, target, eta):
    """Identity-Hessian GLISTER written out naively."""
    r, S = target.copy(), []
    for _ in range(k):
        gains = G @ r
        gains[S] = -np.inf
        i = int(np.argmax(gains))
        S.append(i)
        r = r - eta * G[i]
    return S


@pytest.mark.parametrize("seed", range(3))
def test_fit_matches_reference(seed):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(60, 5)) + 0.3
    sel = GlisterSelector(budget=10, eta=0.2, optimizer="naive", dtype="float64").fit(G)
    assert sel.indices_.tolist() == _reference_fit(G, 10, G.mean(0), 0.2)
    np.testing.assert_array_equal(sel.weights_, np.full(10, 6.0))  # 60 rows / 10 picks
    np.testing.assert_allclose(sel.gains_[0], (G @ G.mean(0)).max())
    target = rng.normal(size=5)
    sel = GlisterSelector(budget=10, eta=0.05, optimizer="naive", dtype="float64").fit(
        G, target=target)
    assert sel.indices_.tolist() == _reference_fit(G, 10, target, 0.05)
    static = GlisterSelector(budget=10, update_every=10, optimizer="naive",
                             dtype="float64").fit(G, target=target)
    assert static.indices_.tolist() == np.argsort(-(G @ target), kind="stable")[:10].tolist()


def test_fit_constructed_example_and_transform():
    G = np.array([[1.0, 0.0], [0.99, 0.0], [0.0, 0.9], [-1.0, 0.0]])
    sel = GlisterSelector(budget=2, eta=1.0).fit(G, target=[1.0, 1.0])
    assert sel.indices_.tolist() == [0, 2]
    np.testing.assert_allclose(sel.gains_, [1.0, 0.9])
    np.testing.assert_array_equal(sel.transform(G), G[[0, 2]])
    assert sel.n_features_in_ == 2 and sel.n_samples_fit_ == 4


def test_fit_per_class_and_stochastic():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(100, 4))
    y = np.repeat([3, 7], [70, 30])
    sel = GlisterSelector(budget=10, per_class=True).fit(G, y)
    assert np.sum(y[sel.indices_] == 3) == 7 and np.sum(y[sel.indices_] == 7) == 3
    np.testing.assert_array_equal(sel.classes_, [3, 7])
    tgt = rng.normal(size=(2, 4))
    sel = GlisterSelector(budget=10, per_class=True, eta=0.1, optimizer="naive",
                          dtype="float64").fit(G, y, target=tgt)
    first = [i for i in sel.indices_ if y[i] == 3]
    assert first == np.flatnonzero(y == 3)[_reference_fit(G[y == 3], 7, tgt[0], 0.1)].tolist()
    kw = dict(budget=10, optimizer="stochastic")
    a = GlisterSelector(random_state=0, **kw).fit(G).indices_
    b = GlisterSelector(random_state=0, **kw).fit(G).indices_
    c = GlisterSelector(random_state=1, **kw).fit(G).indices_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_clone_and_params():
    sel = GlisterSelector(budget=5, eta=0.5, update_every=3, per_class=True)
    c = clone(sel)
    assert c.get_params() == sel.get_params() and c is not sel
    assert "eta=0.5" in repr(sel)
    assert not hasattr(GlisterSelector(), "indices_")


def test_bad_input():
    G = np.random.default_rng(0).normal(size=(20, 3))
    bad = G.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        GlisterSelector().fit(bad)
    with pytest.raises(ValueError, match="target contains NaN or infinite"):
        GlisterSelector().fit(G, target=[np.inf, 0, 0])
    with pytest.raises(TypeError, match="target must be a numeric"):
        GlisterSelector().fit(G, target=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"target must have shape \(3,\)"):
        GlisterSelector().fit(G, target=np.zeros(4))
    with pytest.raises(ValueError, match=r"target must have shape \(2, 3\)"):
        GlisterSelector(per_class=True).fit(G, np.arange(20) % 2, target=np.zeros(3))
    with pytest.raises(ValueError, match=r"y must have shape \(20,\)"):
        GlisterSelector().fit(G, np.zeros(5))
    with pytest.raises(ValueError, match="2-D"):
        GlisterSelector().fit(G[:, 0])
    for params, name in [({"eta": 0}, "eta"), ({"update_every": 0}, "update_every"),
                         ({"optimizer": "lazy"}, "optimizer"), ({"epsilon": 0}, "epsilon"),
                         ({"budget": 2.0}, "budget"), ({"per_class": "yes"}, "per_class"),
                         ({"valid_size": 1.0}, "valid_size"), ({"valid_size": 0}, "valid_size")]:
        with pytest.raises(InvalidParameterError, match=name):
            GlisterSelector(**params).fit(G)


@pytest.mark.parametrize("selector, valid_size", [
    ("glister", None), ("glister", 0.2),
    (GlisterSelector(per_class=True, optimizer="stochastic", update_every=4), None)])
def test_end_to_end_digits(selector, valid_size):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    net = NeuralNetClassifier(ToyMLP, module__n_in=64, module__n_hidden=32, module__n_classes=10,
                              criterion=torch.nn.CrossEntropyLoss, max_epochs=6, lr=0.1,
                              train_split=None, verbose=0)
    kw = dict(selector=selector, budget=0.1, R=2, valid_size=valid_size, random_state=0,
              verbose=0)
    clf = SubsetTrainingClassifier(net, **kw).fit(X, y)
    assert clf.predict(X).shape == y.shape and 0 <= clf.score(X, y) <= 1
    history = clf.selection_history_
    assert len(history) == len(clf.schedule_.selection_epochs) == 2
    for rec in history:
        assert len(rec["indices"]) == clf.subset_size_ == len(np.unique(rec["indices"]))
        np.testing.assert_allclose(rec["weights"], rec["weights"][0])  # n / k each
        assert rec["validation"] == ("train-sample" if valid_size is None else "holdout")
    again = SubsetTrainingClassifier(net, **kw).fit(X, y)
    for a, b in zip(history, again.selection_history_):
        np.testing.assert_array_equal(a["indices"], b["indices"])


# ---------------------------------------------------------------------------
# fit on a net's last-layer gradients given by their factors
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("per_class", [False, True])
def test_held_out_factors_as_target_is_a_training_round(per_class, toy_gradients):
    """fit(G, y, target=<held-out factors>) re-linearizes like select with held-out data."""
    from sksubset.gradients import last_layer_gradients
    from sksubset.selectors import SelectionContext

    net, X, y, G = toy_gradients(n=90)
    Xv, yv = X[:30] + 0.1, y[:30]
    Gv = last_layer_gradients(net, Xv, yv)
    params = dict(budget=12, eta=0.5, optimizer="naive", per_class=per_class)
    sel = GlisterSelector(**params).fit(G, y, target=Gv)
    ctx = SelectionContext(y=y, n_classes=3, budget=12, batch_size=16, per_batch=False,
                           rng=np.random.RandomState(0), epoch=0, device=torch.device("cpu"),
                           train_fn=lambda idx: G, valid_fn=lambda: Gv)
    out = GlisterSelector(**params).select(ctx)
    np.testing.assert_array_equal(sel.indices_, out.indices)
    assert sel.gains_.shape == (12,)
    # re-linearizing differs from the identity-Hessian model on the same target
    T = Gv.dense().mean(0).numpy()
    if not per_class:
        flat = GlisterSelector(**params).fit(G, y, target=T)
        assert not np.array_equal(flat.indices_, sel.indices_)


@pytest.mark.parametrize("optimizer", ["naive", "stochastic"])
def test_all_zero_gradients_warn(optimizer):
    with pytest.warns(UserWarning, match="every gain is zero"):
        sel = GlisterSelector(budget=12, optimizer=optimizer, random_state=0).fit(
            np.zeros((120, 4)))
    assert len(np.unique(sel.indices_)) == 12 and (sel.weights_ == 10).all()


def test_per_class_without_labels_is_one_problem_over_all_rows():
    G = np.random.default_rng(5).normal(size=(50, 3))
    a = GlisterSelector(budget=8, optimizer="naive").fit(G)
    b = GlisterSelector(budget=8, optimizer="naive", per_class=False).fit(G)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    assert not hasattr(a, "classes_")
