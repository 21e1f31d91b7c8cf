"""Tests of SubsetTrainingClassifier: its parameters, the selector it builds, the sklearn contract.

Algorithm 1 itself (schedule, weighted epochs, divergence, timing) is tested through ``fit`` in
test_training_run.py.
"""

import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import DigitsMLP, FixedSelector
from conftest import digits_net as make_net
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNetClassifier
from skorch.dataset import ValidSplit
from torch import nn

from sksubset import GradMatchSelector, SubsetTrainingClassifier
from sksubset.gradients import last_layer, sample_gradients
from sksubset.selectors import CraigSelector, RandomSelector


class AutoSizedNet(NeuralNetClassifier):
    """A net whose output layer has one unit per class (for sklearn's checks)."""

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        kwargs["n_out"] = len(self.classes)
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self


# -- the user's own lines ------------------------------------------------------
def test_used_by_line(digits):
    X, y = digits
    net = make_net(lr=0.03)  # per-example weighted subsets want a gentler lr (user guide, 3)
    clf = SubsetTrainingClassifier(net, budget=0.1).fit(X, y)
    assert clf.score(X, y) > 0.5
    assert clf.predict_proba(X[:5]).shape == (5, 10)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_features_in_ == 64


@pytest.mark.parametrize("softmax", [False, True])
def test_both_skorch_loss_conventions(small, softmax):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=10, softmax=softmax), budget=0.3, R=2,
                                   random_state=0, verbose=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert clf.score(X, y) > 0.5


def test_string_labels_and_predict(small):
    X, y = small
    labels = np.array(list("abcdefghij"))[y]
    clf = SubsetTrainingClassifier(make_net(), budget=0.2, random_state=0, verbose=0)
    clf.fit(X, labels)
    assert set(clf.predict(X)) <= set(labels)
    np.testing.assert_array_equal(clf.classes_, np.array(list("abcdefghij")))


def test_classes_kept_when_subset_lacks_a_class(small):
    X, y = small
    only_0_1 = np.flatnonzero(y < 2)[:20]
    sel = FixedSelector(tuple(only_0_1), tuple([1.0] * len(only_0_1)))
    clf = SubsetTrainingClassifier(make_net(), selector=sel, kappa=0, R=2, random_state=0,
                                   verbose=0).fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 10)
    assert list(clf.net_.classes) == list(range(10))


def test_skorch_validation_split_does_not_eat_the_subset(small):
    X, y = small
    net = make_net(train_split=ValidSplit(5, stratified=True))
    clf = SubsetTrainingClassifier(net, budget=0.25, R=2, random_state=0,
                                   verbose=0).fit(X, y)
    assert clf.subset_size_ == 80  # 25% of the 320 training rows
    sizes = clf.net_.history[:, "subset_size"]
    assert sizes[-1] == 80
    assert all(np.isfinite(clf.net_.history[:, "valid_loss"]))
    chosen = np.unique(np.concatenate([r["indices"] for r in clf.selection_history_]))
    assert len(chosen) >= 80 and chosen.max() < len(X)


def test_valid_size_matches_a_stratified_hold_out(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), budget=0.25, R=2, valid_size=0.2,
                                   random_state=0, verbose=0).fit(X, y)
    assert clf.subset_size_ == 80
    assert "valid_loss" in clf.net_.history[-1]
    # the hold-out never enters a subset: rerun the same split and compare
    clf2 = clone(clf).fit(X, y)
    for a, b in zip(clf.selection_history_, clf2.selection_history_):
        np.testing.assert_array_equal(a["indices"], b["indices"])
    errors = [r["gradient_error"] for r in clf.selection_history_]
    assert all(np.isfinite(errors))


# -- selection quality ----------------------------------------------------------------
ROUNDS = []


class RoundFactors(GradMatchSelector):
    """GRAD-MATCH that keeps the factors each round was given."""

    def select(self, context):
        ROUNDS.append(context.train(None))
        return super().select(context)


def _random_errors(G, k, seed=0):
    rng = np.random.default_rng(seed)
    target = G.sum(0)
    return [float((G[rng.choice(len(G), k, replace=False)].sum(0) * len(G) / k - target).norm()
                  / target.norm()) for _ in range(20)]


def test_gradmatch_gradients_match_far_better_than_random(digits):
    """The exact search on the trained net's gradients, and each round of a run (the default
    solver) on the factors it was given, match the gradient sum far better than random subsets
    of the same size on the same gradients.  A round's factors come from training where it has
    them: one warm epoch's, computed as the net moved through that epoch, are harder to match
    than a fresh pass's (about 0.27 of random's error here, where a fresh pass gives 0.16)."""
    X, y = digits
    ROUNDS.clear()
    clf = SubsetTrainingClassifier(make_net(max_epochs=8), budget=0.1, kappa=0.5, R=2,
                                   selector=RoundFactors(criterion="correlation", per_step=16),
                                   random_state=0, verbose=0).fit(X, y)
    ll = last_layer(clf.net_, torch.from_numpy(X), y)
    G = sample_gradients(ll.E, ll.Hb).double()
    sel = GradMatchSelector(budget=0.1, per_class=True, criterion="gain",
                            per_step=1).fit(G, y)  # the exact search
    k = len(sel.indices_)
    assert sel.gradient_error_ < 0.2 * min(_random_errors(G, k))
    assert len(ROUNDS) == len(clf.selection_history_) == 2
    for factors, record in zip(ROUNDS, clf.selection_history_):
        rand = _random_errors(sample_gradients(factors.E, factors.Hb).double(), k)
        assert record["gradient_error"] < 0.3 * np.median(rand)


# -- the selector ---------------------------------------------------------------------
#: the documented default of selector=None and "gradmatch"
DEFAULT = dict(criterion="correlation", per_step="auto", per_class=True, pool_factor=3,
               sampling="cycle", max_support=256)


def _spy(monkeypatch, cls=GradMatchSelector):
    """Record (selector parameters, gradients, labels, result, candidates) of every round of
    ``cls``: the candidates are the rows the round asked factors of (its pool)."""
    seen = []
    original = cls.select

    def select(self, context):
        asked, train_fn = [], context.train_fn
        context.train_fn = lambda idx: asked.append(idx) or train_fn(idx)
        result = original(self, context)
        context.train_fn = train_fn
        ll = context.train()
        pool = np.arange(len(context.y)) if not asked or asked[0] is None else asked[0]
        seen.append((self.get_params(), sample_gradients(ll.E, ll.Hb), context.y, result, pool))
        return result

    monkeypatch.setattr(cls, "select", select)
    return seen


@pytest.mark.parametrize("per_batch", [False, True])
def test_the_default_is_the_documented_gradmatch(small, monkeypatch, per_batch):
    """selector=None is GradMatchSelector(criterion="correlation", per_step="auto"), per
    class, for examples and mini-batches alike; budget and random state come from the
    classifier."""
    import importlib

    gradmatch = importlib.import_module("sksubset.selectors.gradmatch")
    X, y = small
    seen = _spy(monkeypatch)
    monkeypatch.setattr(gradmatch, "MIN_POOL", 1)  # small data: no floor on the pool's size
    clf = SubsetTrainingClassifier(make_net(), budget=0.2, R=2, per_batch=per_batch,
                                   random_state=0, verbose=0).fit(X, y)
    assert len(seen) == len(clf.selection_history_) > 0
    params, G, y_all, result, pool = seen[-1]
    assert params == GradMatchSelector(**DEFAULT).get_params()
    assert len(pool) == 3 * clf.subset_size_  # a pool of three times the budget
    assert set(result.indices) <= set(pool)
    if not per_batch:  # the standalone selector on the pool
        G, y_pool = G[pool], y_all[pool]
        target = torch.stack([G[y_pool == c].sum(0) * ((y_all == c).sum() / (y_pool == c).sum())
                              for c in np.unique(y_pool)])  # each class's pool sum scaled up
        ref = GradMatchSelector(budget=clf.subset_size_, **DEFAULT).fit(G, y_pool, target=target)
        np.testing.assert_array_equal(np.sort(pool[ref.indices_]), np.sort(result.indices))
        np.testing.assert_allclose(ref.weights_[np.argsort(pool[ref.indices_])],
                                   result.weights[np.argsort(result.indices)], rtol=1e-4)


def test_small_classes_are_examined_whole(small, monkeypatch):
    """A pool holds at least MIN_POOL rows of a class, or all of them: on small data every
    example is a candidate."""
    X, y = small
    seen = _spy(monkeypatch)
    SubsetTrainingClassifier(make_net(), budget=0.2, R=2, random_state=0, verbose=0).fit(X, y)
    assert all(len(pool) == len(y) for *_, pool in seen)


def test_gradmatch_string_is_the_default(small):
    X, y = small
    kw = dict(budget=0.2, R=2, random_state=0, verbose=0)
    runs = [SubsetTrainingClassifier(make_net(max_epochs=4), selector=s, **kw).fit(X, y)
            for s in (None, "gradmatch", GradMatchSelector(**DEFAULT))]
    for other in runs[1:]:
        for a, b in zip(runs[0].selection_history_, other.selection_history_, strict=True):
            np.testing.assert_array_equal(a["indices"], b["indices"])
            np.testing.assert_array_equal(a["weights"], b["weights"])


@pytest.mark.parametrize("name,cls", [("random", RandomSelector), ("craig", CraigSelector)])
def test_strategy_names_are_their_default_selectors(small, monkeypatch, name, cls):
    X, y = small
    seen = _spy(monkeypatch, cls)
    SubsetTrainingClassifier(make_net(max_epochs=4), selector=name, budget=0.2, R=2,
                             random_state=0, verbose=0).fit(X, y)
    assert seen and seen[0][0] == cls().get_params()


@pytest.mark.parametrize("removed", ["lam", "eps", "per_class", "per_gradient"])
def test_selector_options_are_set_on_the_selector(removed):
    with pytest.raises(TypeError, match=removed):
        SubsetTrainingClassifier(make_net(), **{removed: 0.5})
    clf = SubsetTrainingClassifier(make_net(), selector=GradMatchSelector(lam=0.25))
    params = clf.get_params(deep=True)
    assert params["selector__lam"] == 0.25 and removed not in params
    clf.set_params(selector__lam=2.0)
    assert clf.selector.lam == 2.0


def test_selector_parameters_are_searchable(small, monkeypatch):
    X, y = small
    seen = _spy(monkeypatch)
    clf = SubsetTrainingClassifier(make_net(max_epochs=2), selector=GradMatchSelector(**DEFAULT),
                                   budget=0.25, kappa=0, R=1, random_state=0, verbose=0)
    search = GridSearchCV(clf, {"selector__lam": [0.1, 3.0]}, cv=2).fit(X, y)
    assert [p["selector__lam"] for p in search.cv_results_["params"]] == [0.1, 3.0]
    assert {params["lam"] for params, *_ in seen} == {0.1, 3.0}  # each fit used its value
    assert search.best_estimator_.selector.lam in (0.1, 3.0)
    assert clf.selector.lam == 0.05  # the search's clones, not the given instance


@pytest.mark.parametrize("selector,name", [
    (GradMatchSelector(budget=0.3), "budget"), (GradMatchSelector(random_state=0), "random_state"),
    (RandomSelector(budget=5), "budget"),
])
def test_a_selectors_own_budget_or_seed_is_refused_before_training(small, selector, name):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), selector=selector, verbose=0)
    with pytest.raises(ValueError, match=f"selector's {name}=.* would be overridden"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_warns_when_a_subset_fits_in_one_mini_batch(small):
    X, y = small  # budget 0.05 of 400: 20 examples, one step per epoch with batches of 32
    with pytest.warns(UserWarning, match=r"20 examples.*batch_size=32.*single gradient step"):
        SubsetTrainingClassifier(make_net(max_epochs=2), budget=0.05, verbose=0).fit(X, y)


def test_no_small_subset_warning_otherwise(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # 20 examples in batches of 8; and no subset epoch at all with kappa=1
        SubsetTrainingClassifier(make_net(max_epochs=2, batch_size=8), budget=0.05,
                                 verbose=0).fit(X, y)
        SubsetTrainingClassifier(make_net(max_epochs=2), budget=0.05, kappa=1,
                                 verbose=0).fit(X, y)


# -- sklearn integration --------------------------------------------------------
def test_clone_and_nested_params():
    clf = SubsetTrainingClassifier(make_net(), budget=0.3, R=5)
    params = clf.get_params(deep=True)
    assert params["net__lr"] == 0.1 and params["R"] == 5
    clf.set_params(net__lr=0.05, kappa=0.25)
    assert clf.net.lr == 0.05 and clf.kappa == 0.25
    cloned = clone(clf)
    assert cloned.get_params()["net__lr"] == 0.05 and cloned.net is not clf.net


def test_pipeline_and_cross_val_score(small):
    X, y = small
    pipe = make_pipeline(StandardScaler(), SubsetTrainingClassifier(
        make_net(), budget=0.25, R=2, random_state=0, verbose=0))
    scores = cross_val_score(pipe, X, y, cv=2)
    assert scores.shape == (2,) and scores.min() > 0.3


def test_grid_search_over_R_kappa_and_net_lr(small):
    X, y = small
    search = GridSearchCV(
        SubsetTrainingClassifier(make_net(max_epochs=4), budget=0.25, random_state=0, verbose=0),
        {"R": [1, 2], "kappa": [0, 0.5], "net__lr": [0.05, 0.1]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert search.best_estimator_.net_.lr in (0.05, 0.1)
    assert search.score(X, y) > 0.3


def test_seeded_fits_in_threads_train_as_alone(digits):
    """Fits in threads of one process (a threaded search, a Dask worker with several threads)
    share torch's global generator: each seeded fit still trains as it does alone."""
    X, y = digits
    net = make_net(max_epochs=6, iterator_train__shuffle=True)  # each epoch draws an order
    clfs = [SubsetTrainingClassifier(net, budget=0.2, R=2, random_state=seed, verbose=0)
            for seed in range(4)]
    alone = [clone(clf).fit(X, y) for clf in clfs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda clf: clone(clf).fit(X, y), clfs))
    for a, b in zip(alone, together):
        assert np.array_equal(a.selection_history_[-1]["indices"],
                              b.selection_history_[-1]["indices"])
        for p, q in zip(a.net_.module_.parameters(), b.net_.module_.parameters()):
            assert torch.equal(p, q)


def test_pickle_round_trip(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), budget=0.25, random_state=0, verbose=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X))
    assert len(pickle.dumps(clf)) < 20 * X.nbytes  # the training data is not carried along


# -- bad input --------------------------------------------------------------------
@pytest.mark.parametrize("params,match", [
    (dict(budget=0), "budget"), (dict(budget=1.5), "budget"), (dict(R=0), "'R'"),
    (dict(kappa=-0.1), "kappa"), (dict(kappa=1.5), "kappa"), (dict(selector="nope"), "selector"),
    (dict(valid_size=1.0), "valid_size"),
])
def test_bad_parameters(small, params, match):
    X, y = small
    with pytest.raises(ValueError, match=match):
        SubsetTrainingClassifier(make_net(), verbose=0, **params).fit(X, y)


def test_bad_net_and_data(small):
    X, y = small
    with pytest.raises(TypeError, match="skorch.NeuralNetClassifier"):
        SubsetTrainingClassifier(LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="criterion"):
        SubsetTrainingClassifier(make_net(criterion=nn.MSELoss)).fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SubsetTrainingClassifier(make_net()).fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SubsetTrainingClassifier(make_net()).fit(Xn, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SubsetTrainingClassifier(make_net()).fit(X[:5], np.zeros(5))
    with pytest.raises(ValueError, match="valid_size"):
        SubsetTrainingClassifier(make_net(), valid_size=5).fit(X, y)


# -- scikit-learn's common checks ----------------------------------------------------
EXPECTED_FAILURES = {}  # every common check passes


def _checked_estimator():
    net = AutoSizedNet(DigitsMLP, module__n_in=None, module__n_hidden=16,
                       criterion=nn.CrossEntropyLoss, max_epochs=30, lr=0.1, batch_size=16,
                       train_split=None, verbose=0)
    return SubsetTrainingClassifier(net, budget=0.5, R=5, kappa=0.5, random_state=0, verbose=0)


@parametrize_with_checks([_checked_estimator()],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
@pytest.mark.filterwarnings("ignore:Each subset holds:UserWarning")  # the checks' tiny data
def test_sklearn_compatible(estimator, check):
    check(estimator)
