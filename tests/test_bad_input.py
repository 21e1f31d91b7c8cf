"""Bad input, table-driven: every public parameter of the estimators, the selectors, the
functional solvers and the experiment runner's command line.

Each row of ``CASES`` is one bad input and must raise a clear ``ValueError``, ``TypeError``
or ``DivergenceError`` whose message names the parameter, from the library's own code (or
scikit-learn's validation of the library's declared constraints, whose message names the
library's class), and for an estimator before any training epoch.  ``RUNNER_CASES`` are
command lines the runner's parser refuses (exit status 2, the option named) before any run.
``ACCEPTED`` lists inputs that may look wrong but are legitimate, each with its reason, and
checks that they are accepted.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback
from torch import nn
from torch.utils.data import TensorDataset

import sksubset.experiments.__main__ as runner
from sksubset import (
    CraigSelector,
    CrestSelector,
    GlisterSelector,
    GradMatchSelector,
    RandomSelector,
    SubsetTrainingClassifier,
    SubsetTrainingRegressor,
    gradmatch,
    last_layer_gradients,
)
from sksubset.exceptions import DivergenceError
from sksubset.omp import nnls_gram, omp_batched, orthogonal_matching_pursuit

pytestmark = pytest.mark.usefixtures("one_thread")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 4)).astype(np.float32)
Y = np.arange(30) % 3
T = (X[:, 0] - X[:, 1]).astype(np.float32)  # a regressor's targets
G = RNG.normal(size=(30, 6)) + 0.5  # a gradient matrix, one row per example
N = len(X)


class NoTraining(Callback):
    """Fails the test if an epoch starts: bad input must be refused before training."""

    def on_epoch_begin(self, net, **kwargs):
        raise AssertionError("training started before the bad input was refused")


def _mlp(n_out=3, last=None):
    layers = [nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, n_out)]
    return nn.Sequential(*layers, *([last] if last is not None else []))


def clf_net(**kwargs):
    params = dict(module=_mlp(), criterion=nn.CrossEntropyLoss, max_epochs=2, lr=0.05,
                  batch_size=2, train_split=None, verbose=0, callbacks=[NoTraining()])
    params.update(kwargs)
    return NeuralNetClassifier(**params)


def reg_net(**kwargs):
    params = dict(module=_mlp(1), max_epochs=2, lr=0.05, batch_size=2, train_split=None,
                  verbose=0, callbacks=[NoTraining()])
    params.update(kwargs)
    return NeuralNetRegressor(**params)


ESTIMATORS = {"clf": (SubsetTrainingClassifier, clf_net, Y),
              "reg": (SubsetTrainingRegressor, reg_net, T)}


def fit(kind, X_=None, y_=None, net=None, **params):
    """A thunk: the estimator ``kind`` with ``params`` fitted on the tiny data (or ``X_``,
    ``y_``); its net cannot train (NoTraining) and must not have been fitted after."""
    cls, make_net, y_default = ESTIMATORS[kind]

    def call():
        est = cls(make_net() if net is None else net(), **{"verbose": 0, **params})
        try:
            est.fit(X if X_ is None else X_, y_default if y_ is None else y_)
        finally:
            assert not hasattr(est, "net_")
    return call


def sel_fit(cls, G_=None, y_=None, **params):
    """A thunk: selector ``cls(**params).fit(G_, y_)`` on the tiny gradient matrix."""
    return lambda: cls(**params).fit(G if G_ is None else G_, y_)


CASES = []


def case(id_, call, match, errors=(ValueError, TypeError)):
    CASES.append(pytest.param(call, errors, match, id=id_))


BUDGET = r"budget"
# -- the estimators' own parameters, on both estimators --------------------------------
for kind in ESTIMATORS:
    for value, what in [(0, "zero"), (-0.1, "negative"), (1.5, "fraction_above_1"),
                        (True, "bool"), ("10%", "string"), (None, "none"),
                        (float("nan"), "nan"), (10**6, "count_above_n"), ([0.1], "list")]:
        case(f"{kind}-budget-{what}", fit(kind, budget=value), BUDGET)
    for value, what in [(0, "zero"), (-1, "negative"), (1.5, "float"), ("5", "string"),
                        (None, "none")]:
        case(f"{kind}-R-{what}", fit(kind, R=value), r"'R'")
    for value, what in [(-0.1, "negative"), (1.1, "above_1"), ("0.5", "string"),
                        (None, "none"), (float("nan"), "nan")]:
        case(f"{kind}-kappa-{what}", fit(kind, kappa=value), r"'kappa'")
    for value, what in [("yes", "string"), (2, "int"), (None, "none")]:
        case(f"{kind}-per_batch-{what}", fit(kind, per_batch=value), r"'per_batch'")
    for value, what in [("mean", "unknown"), (None, "none"), (1, "int")]:
        case(f"{kind}-weighting-{what}", fit(kind, weighting=value), r"'weighting'")
    for value, what in [(0, "zero_int"), (0.0, "zero"), (1.0, "one"), (-1, "negative"),
                        ("0.1", "string"), (1.5, "fraction_above_1"), (N, "all_rows")]:
        case(f"{kind}-valid_size-{what}", fit(kind, valid_size=value), r"valid_size")
    for value, what in [("seed", "string"), (-1, "negative"), (1.5, "float")]:
        case(f"{kind}-random_state-{what}", fit(kind, random_state=value), r"random_state")
    for value, what in [(-1, "negative"), ("loud", "string"), (1.5, "float")]:
        case(f"{kind}-verbose-{what}", fit(kind, verbose=value), r"'verbose'")
    for value, what in [("gradmatch-pb", "runner_name"), ("foo", "unknown"), (3, "int"),
                        (GradMatchSelector, "class"), (LogisticRegression(), "estimator")]:
        case(f"{kind}-selector-{what}", fit(kind, selector=value), r"'selector'")
    for sel, what, match in [
            (GradMatchSelector(budget=0.5), "own_budget", r"selector's budget=0.5"),
            (RandomSelector(random_state=0), "own_random_state", r"selector's random_state=0"),
            (GradMatchSelector(lam=-1), "bad_param", r"'lam'"),
            (CraigSelector(metric="l7"), "bad_param_craig", r"'metric'")]:
        case(f"{kind}-selector-{what}", fit(kind, selector=sel), match)
    for sel, what in [("glister", "glister"), ("random", "random"), ("crest", "crest")]:
        case(f"{kind}-per_batch-with-{what}", fit(kind, per_batch=True, selector=sel),
             r"per_batch=True needs a selector with a per-batch variant")

# -- the net --------------------------------------------------------------------------
case("clf-net-none", lambda: SubsetTrainingClassifier(None, verbose=0).fit(X, Y), r"'net'")
case("clf-net-string", lambda: SubsetTrainingClassifier("mlp", verbose=0).fit(X, Y), r"'net'")
case("reg-net-none", lambda: SubsetTrainingRegressor(None, verbose=0).fit(X, T), r"'net'")
case("clf-net-regressor", fit("clf", net=reg_net), r"net must be a skorch.NeuralNetClassifier")
case("reg-net-classifier", fit("reg", net=clf_net), r"net must be a skorch.NeuralNetRegressor")
case("clf-net-sklearn", lambda: SubsetTrainingClassifier(LogisticRegression(), verbose=0).fit(
    X, Y), r"net must be a skorch.NeuralNetClassifier")
case("clf-criterion-bce", fit("clf", net=lambda: clf_net(criterion=nn.BCEWithLogitsLoss)),
     r"net.criterion must be torch.nn.CrossEntropyLoss")
case("clf-criterion-instance",
     fit("clf", net=lambda: clf_net(criterion=nn.CrossEntropyLoss())),
     r"net.criterion.*given as a class")
case("reg-criterion-cross_entropy", fit("reg", net=lambda: reg_net(criterion=nn.CrossEntropyLoss)),
     r"net.criterion must be one of torch.nn.MSELoss")
case("reg-criterion-instance", fit("reg", net=lambda: reg_net(criterion=nn.MSELoss())),
     r"net.criterion.*given as a class")
case("clf-module-width", fit("clf", net=lambda: clf_net(module=_mlp(5))),
     r"net.module must output one column per class, \(n_samples, 3\)")
case("reg-module-width", fit("reg", net=lambda: reg_net(module=_mlp(2))),
     r"net.module must output one column per target column")
case("clf-module-input", fit("clf", X_=X[:, :3]), r"net.module does not accept X of shape")
case("clf-nll-on-logits", fit("clf", net=lambda: clf_net(criterion=nn.NLLLoss)),
     r"net.criterion is torch.nn.NLLLoss.*CrossEntropyLoss")
case("clf-module-log_softmax", fit("clf", net=lambda: clf_net(
    criterion=nn.NLLLoss, module=_mlp(last=nn.LogSoftmax(dim=-1)))), r"NLLLoss.*probabilities")
case("clf-module-softmax-with-cross_entropy", fit("clf", net=lambda: clf_net(
    module=_mlp(last=nn.Softmax(dim=-1)))),
    r"net.module does not suit net.criterion=torch.nn.CrossEntropyLoss")
case("reg-module-sigmoid", fit("reg", net=lambda: reg_net(module=_mlp(1, last=nn.Sigmoid())),
                               selector="gradmatch"),
     r"net.module does not suit net.criterion=torch.nn.MSELoss")
class NoLinear(nn.Module):
    """Logits ``X @ W`` without an nn.Linear layer."""

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.ones(4, 3))

    def forward(self, X):
        return X @ self.W


case("clf-module-no-linear", fit("clf", net=lambda: clf_net(module=NoLinear())),
     r"no nn.Linear layer")
case("clf-module-no-parameters", fit("clf", net=lambda: clf_net(
    module=nn.Sequential(nn.Flatten(), nn.Softmax(dim=-1)), criterion=nn.NLLLoss), X_=X[:, :3]),
    r"The net could not be initialized: optimizer got an empty parameter list")
for kind in ESTIMATORS:
    case(f"{kind}-net-warm_start", fit(kind, net=lambda k=kind: ESTIMATORS[k][1](
        warm_start=True)), r"net.warm_start=True")
    case(f"{kind}-net-device-none", fit(kind, net=lambda k=kind: ESTIMATORS[k][1](
        device=None)), r"net.device=None")
    case(f"{kind}-net-device-unknown", fit(kind, net=lambda k=kind: ESTIMATORS[k][1](
        device="tpu")), r"net.device='tpu'")
    case(f"{kind}-net-compile", fit(kind, net=lambda k=kind: ESTIMATORS[k][1](compile=True)),
         r"net.compile=True")
    case(f"{kind}-net-callbacks-disable", fit(kind, net=lambda k=kind: ESTIMATORS[k][1](
        callbacks="disable")), r"net.callbacks='disable'")

# -- the data given to fit ------------------------------------------------------------
X_nan, X_inf = X.copy(), X.copy()
X_nan[3, 1], X_inf[2, 2] = np.nan, np.inf
for kind, y_ in (("clf", Y), ("reg", T)):
    invalid = r"Subset\w+.fit got an invalid"
    case(f"{kind}-X-nan", fit(kind, X_=X_nan), rf"{invalid} X: Input X contains NaN")
    case(f"{kind}-X-inf", fit(kind, X_=X_inf), rf"{invalid} X: Input X contains infinity")
    case(f"{kind}-X-empty", fit(kind, X_=X[:0], y_=y_[:0]), rf"{invalid} X: .*0 sample")
    case(f"{kind}-X-1d", fit(kind, X_=X[:, 0]), rf"{invalid} X: Expected 2D array")
    case(f"{kind}-X-strings", fit(kind, X_=np.full((N, 4), "a")),
         rf"{invalid} X: could not convert")
    case(f"{kind}-y-length", fit(kind, y_=y_[:-3]),
         rf"{invalid} X and y: .*inconsistent numbers of samples: \[30, 27\]")
    case(f"{kind}-y-none",
         lambda k=kind: ESTIMATORS[k][0](ESTIMATORS[k][1](), verbose=0).fit(X, None),
         rf"{invalid} y: .*requires y to be passed")
    case(f"{kind}-dataset-with-y", fit(kind, X_=TensorDataset(torch.as_tensor(X),
                                                              torch.as_tensor(y_))),
         r"X is a torch Dataset whose items are \(x, y\) pairs: pass y=None")
    case(f"{kind}-dataset-items", lambda k=kind: ESTIMATORS[k][0](ESTIMATORS[k][1](), verbose=0)
         .fit(TensorDataset(torch.as_tensor(X)), None),
         r"items of a Dataset X must be \(x, y\) pairs.*first item is a tuple of 1")
Y_one = np.zeros(N, dtype=int)
case("clf-y-one-class", fit("clf", y_=Y_one), r"at least 2 classes")
case("clf-y-continuous", fit("clf", y_=T), r"y must hold class labels.*SubsetTrainingRegressor")
case("clf-y-2d", fit("clf", y_=np.stack([Y, Y], 1)), r"invalid y: y should be a 1d array")
case("clf-y-nan", fit("clf", y_=np.where(Y == 0, np.nan, Y)), r"invalid y: Input y contains NaN")
case("clf-budget-int-above-n", fit("clf", budget=N + 1), r"budget=31 is larger than the number")
Y_rare = Y.copy()
Y_rare[4] = 9
case("clf-valid_size-one-member-class", fit("clf", y_=Y_rare, valid_size=0.2),
     r"valid_size=0.2 cannot hold out a part stratified by class")
case("reg-y-strings", fit("reg", y_=np.where(T > 0, "hi", "lo")), r"real-valued targets")
case("reg-y-nan", fit("reg", y_=np.where(T > 0, np.nan, T)), r"invalid y: Input y contains NaN")
case("reg-y-inf", fit("reg", y_=np.where(T > 0, np.inf, T)), r"invalid y: Input y contains inf")
case("reg-y-3d", fit("reg", y_=T.reshape(N, 1, 1)), r"invalid y: Found array with dim 3")
case("reg-y-too-many-columns", fit("reg", y_=np.stack([T, T, T], 1)),
     r"one column per target column, \(n_samples, 3\)")
case("reg-y-huge", fit("reg", y_=T * 1e30), r"y holds targets as large as")

# -- set_params -----------------------------------------------------------------------
case("clf-set_params-unknown", lambda: SubsetTrainingClassifier(clf_net()).set_params(lam=1),
     r"Invalid parameter 'lam' for SubsetTrainingClassifier.*selector__<name>")
case("clf-set_params-selector-unknown-param",
     lambda: SubsetTrainingClassifier(clf_net()).set_params(selector__foo=1),
     r"Invalid parameter selector__foo: the selector GradMatchSelector has no 'foo'")
case("reg-set_params-selector-lam-of-random",
     lambda: SubsetTrainingRegressor(reg_net()).set_params(selector__lam=1),
     r"Invalid parameter selector__lam: the selector RandomSelector has no 'lam'")
case("clf-set_params-selector-name-unknown",
     lambda: SubsetTrainingClassifier(clf_net(), selector="foo").set_params(selector__lam=1),
     r"'selector' parameter")

# -- the selectors' parameters (standalone fit on a gradient matrix) ------------------
SELECTORS = [GradMatchSelector, RandomSelector, CraigSelector, GlisterSelector, CrestSelector]
for cls in SELECTORS:
    name = cls.__name__
    for value, what in [(0, "zero"), (-1, "negative"), (1.5, "above_1"), (True, "bool"),
                        (N + 1, "count_above_n")]:
        case(f"{name}-budget-{what}", sel_fit(cls, budget=value), BUDGET)
    case(f"{name}-random_state-string", sel_fit(cls, random_state="x"), r"random_state")
for cls in (GradMatchSelector, CraigSelector, GlisterSelector, CrestSelector):
    name = cls.__name__
    case(f"{name}-device-unknown", sel_fit(cls, device="tpu"), r"device")
    case(f"{name}-device-int", sel_fit(cls, device=3), r"device")
    case(f"{name}-G-nan", sel_fit(cls, G_=np.where(G > 2, np.nan, G)), r"G contains NaN")
    case(f"{name}-G-1d", sel_fit(cls, G_=G[:, 0]), r"G must be 2-D")
    case(f"{name}-G-empty", sel_fit(cls, G_=G[:0]), r"G must have at least one row")
    case(f"{name}-G-strings", sel_fit(cls, G_=np.full((5, 2), "a")),
         r"G must be a numeric array or torch.Tensor; got ndarray of dtype <U1")
    case(f"{name}-y-length", sel_fit(cls, y_=Y[:-1]), r"y must have shape \(30,\)")
case("RandomSelector-y-length", sel_fit(RandomSelector, y_=Y[:-1]), r"y has 29 entries")
for cls in (GradMatchSelector, CraigSelector, GlisterSelector):
    for value, what in [("yes", "string"), (None, "none")]:
        case(f"{cls.__name__}-per_class-{what}", sel_fit(cls, per_class=value), r"'per_class'")
    case(f"{cls.__name__}-dtype-float16", sel_fit(cls, dtype="float16"), r"'dtype'")
for param, values in {
        "lam": [-1, "a"], "tol": [-1, None], "positive": ["yes"], "per_gradient": [2],
        "pool_factor": [0, -2, "x"], "sampling": ["foo", None], "criterion": ["foo", None],
        "per_step": [0, "fast", 1.5]}.items():
    for value in values:
        case(f"GradMatchSelector-{param}-{value!r}", sel_fit(GradMatchSelector, **{param: value}),
             rf"'{param}'")
case("GradMatchSelector-per_gradient-without-y", sel_fit(GradMatchSelector, per_gradient=True),
     r"per_gradient=True requires y")
case("GradMatchSelector-target-shape",
     lambda: GradMatchSelector(budget=5).fit(G, target=np.ones(4)), r"target must have shape")
case("GradMatchSelector-target-nan",
     lambda: GradMatchSelector(budget=5).fit(G, target=np.full(6, np.nan)), r"target")
case("RandomSelector-sampling-foo", sel_fit(RandomSelector, sampling="foo"), r"'sampling'")
for param, values in {"metric": ["l7"], "optimizer": ["adam"], "epsilon": [0, 1, -0.5],
                      "chunk_size": [0, "big"]}.items():
    for value in values:
        case(f"CraigSelector-{param}-{value!r}", sel_fit(CraigSelector, **{param: value}),
             rf"'{param}'")
for param, values in {"eta": [0, -1], "update_every": [0], "optimizer": ["adam"],
                      "epsilon": [0], "valid_size": [0, 1.5]}.items():
    for value in values:
        case(f"GlisterSelector-{param}-{value!r}", sel_fit(GlisterSelector, **{param: value}),
             rf"'{param}'")
for param, values in {"subset_fraction": [0, 1.5], "n_subsets": [0], "batch_size": [0],
                      "threshold": [0], "curvature": ["cubic"], "drop_learned": ["x"],
                      "loss_threshold": [-1], "drop_after": [0], "check_every": [0],
                      "check_fraction": [0, 2]}.items():
    for value in values:
        case(f"CrestSelector-{param}-{value!r}", sel_fit(CrestSelector, **{param: value}),
             rf"'{param}'")

# -- the functional solvers -------------------------------------------------------------
b = G.sum(0)
for value, what in [(0, "zero"), (-1, "negative"), (1.5, "float"), (N + 1, "above_n_atoms")]:
    case(f"omp-n_nonzero-{what}", lambda v=value: orthogonal_matching_pursuit(G, b, v),
         r"n_nonzero")
for param, value in [("lam", -1), ("tol", -1), ("positive", "yes"), ("criterion", "foo"),
                     ("dtype", "float16"), ("device", "tpu")]:
    case(f"omp-{param}-{value!r}",
         lambda p=param, v=value: orthogonal_matching_pursuit(G, b, 3, **{p: v}), rf"{param}")
case("omp-A-nan", lambda: orthogonal_matching_pursuit(np.where(G > 2, np.nan, G), b, 3),
     r"A contains NaN")
case("omp-A-1d", lambda: orthogonal_matching_pursuit(G[:, 0], b, 3), r"A must be 2-D")
case("omp-b-shape", lambda: orthogonal_matching_pursuit(G, b[:4], 3), r"b must have shape")
case("omp-b-nan", lambda: orthogonal_matching_pursuit(G, np.full(6, np.nan), 3),
     r"b contains NaN")
At, bt = torch.as_tensor(G).unsqueeze(0), torch.as_tensor(b).unsqueeze(0)
case("omp_batched-per_step-zero", lambda: omp_batched(At, bt, [3], per_step=0), r"per_step")
case("omp_batched-sketch-zero", lambda: omp_batched(At, bt, [3], sketch=0), r"sketch")
case("omp_batched-criterion", lambda: omp_batched(At, bt, [3], criterion="foo"), r"criterion")
# the batched kernels check their arguments too
Gg = torch.eye(3, dtype=torch.float64).unsqueeze(0)
hg, mg = torch.ones(1, 3, dtype=torch.float64), torch.ones(1, 3, dtype=torch.bool)
for id_, call, match in [
        ("omp_batched-A-2d", lambda: omp_batched(At[0], bt, [3]), r"A"),
        ("omp_batched-b-shape", lambda: omp_batched(At, bt[:, :2], [3]), r"b"),
        ("omp_batched-n_nonzero-above-n", lambda: omp_batched(At, bt, [N + 5]), r"n_nonzero"),
        ("omp_batched-n_nonzero-length", lambda: omp_batched(At, bt, [3, 3]), r"n_nonzero"),
        ("omp_batched-n_nonzero-zero", lambda: omp_batched(At, bt, [0]), r"n_nonzero"),
        ("omp_batched-lam-negative", lambda: omp_batched(At, bt, [3], lam=-1), r"lam"),
        ("omp_batched-A-nan", lambda: omp_batched(At * np.nan, bt, [3]), r"A"),
        ("omp_batched-valid-shape", lambda: omp_batched(
            At, bt, [3], valid=torch.ones(1, 4, dtype=torch.bool)), r"valid"),
        ("nnls_gram-G-2d", lambda: nnls_gram(Gg[0], hg, mg), r"G"),
        ("nnls_gram-h-shape", lambda: nnls_gram(Gg, hg[:, :2], mg), r"h"),
        ("nnls_gram-mask-shape", lambda: nnls_gram(Gg, hg, mg[:, :2]), r"mask"),
        ("nnls_gram-G-nan", lambda: nnls_gram(Gg * np.nan, hg, mg), r"G"),
        ("nnls_gram-numpy", lambda: nnls_gram(Gg.numpy(), hg.numpy(), mg.numpy()), r"G"),
        ("nnls_gram-max_iter-zero", lambda: nnls_gram(Gg, hg, mg, max_iter=0), r"max_iter")]:
    case(id_, call, match)
for value, what in [(0, "zero"), (-1, "negative"), (1.5, "above_1"), ("5", "string")]:
    case(f"gradmatch-budget-{what}", lambda v=value: gradmatch(G, budget=v), BUDGET)
for param, value in [("lam", -1), ("tol", -1), ("criterion", "foo"), ("per_class", "x"),
                     ("positive", None), ("dtype", "int8"), ("device", "tpu")]:
    case(f"gradmatch-{param}-{value!r}", lambda p=param, v=value: gradmatch(G, 5, **{p: v}),
         rf"{param}")
case("gradmatch-y-length", lambda: gradmatch(G, 5, y=Y[:3]), r"y must have shape")
case("gradmatch-G-nan", lambda: gradmatch(np.where(G > 2, np.nan, G), 5), r"G contains NaN")
case("gradmatch-G-strings", lambda: gradmatch(np.full((5, 2), "a"), 2), r"G must be a numeric")


def _initialized(**kwargs):
    return NeuralNetClassifier(_mlp(), criterion=nn.CrossEntropyLoss, verbose=0,
                               **kwargs).initialize()


case("last_layer_gradients-uninitialized",
     lambda: last_layer_gradients(NeuralNetClassifier(_mlp()), X, Y), r"net must be an "
     r"initialized skorch net")
case("last_layer_gradients-y-length", lambda: last_layer_gradients(_initialized(), X, Y[:5]),
     r"X has 30 rows but y has 5")
case("last_layer_gradients-y-float", lambda: last_layer_gradients(_initialized(), X, T),
     r"y must hold integer class indices")
case("last_layer_gradients-y-range", lambda: last_layer_gradients(_initialized(), X, Y + 5),
     r"y must hold class indices 0..2")
case("last_layer_gradients-y-2d", lambda: last_layer_gradients(_initialized(), X,
                                                               np.stack([Y, Y], 1)),
     r"y must be 1-D")
case("last_layer_gradients-empty", lambda: last_layer_gradients(_initialized(), X[:0], Y[:0]),
     r"at least one row")


def _from_library(excinfo):
    """Whether the error was raised by the library's code, or by scikit-learn's validation
    of the library's declared parameter constraints (a message naming the class)."""
    if isinstance(excinfo.value, InvalidParameterError):
        return True
    return "/sksubset/" in str(excinfo.traceback[-1].path).replace("\\", "/")


@pytest.mark.parametrize("call,errors,match", CASES)
def test_bad_input_is_refused_clearly(call, errors, match):
    with pytest.raises(errors + (DivergenceError,) if isinstance(errors, tuple) else errors,
                       match=match) as info:
        call()
    assert _from_library(info), f"raised from {info.traceback[-1].path}: {info.value}"


# -- the experiment runner's command line ----------------------------------------------
RUNNER_CASES = [
    (["--budgets", "0"], "--budgets"), (["--budgets", "1.5"], "--budgets"),
    (["--budgets", "abc"], "--budgets"), (["--budgets"], "--budgets"),
    (["--epochs", "0"], "--epochs"), (["--epochs", "-3"], "--epochs"),
    (["--epochs", "x"], "--epochs"), (["--R", "0"], "--R"), (["--R", "1.5"], "--R"),
    (["--seeds", "0"], "--seeds"), (["--kappa", "2"], "--kappa"), (["--kappa", "-0.5"], "--kappa"),
    (["--kappa", "x"], "--kappa"), (["--valid-size", "0"], "--valid-size"),
    (["--valid-size", "-1"], "--valid-size"), (["--valid-size", "1.5"], "--valid-size"),
    (["--valid-size", "x"], "--valid-size"), (["--dataset", "imagenet"], "--dataset"),
    (["--device", "tpu"], "--device"), (["--model", "vgg"], "--model"),
    (["--batch-size", "0"], "--batch-size"), (["--threads", "0"], "--threads"),
    (["--train-size", "0"], "--train-size"), (["--test-size", "-1"], "--test-size"),
    (["--frontier-epochs", "0"], "--frontier-epochs"), (["--lr", "0"], "--lr"),
    (["--lr", "-0.1"], "--lr"), (["--lr", "x"], "--lr"),
    (["--selector-param", "lam"], "--selector-param"),
    (["--selector-param", "1x=2"], "--selector-param"), (["--clock", "gpu"], "--clock"),
    (["--weighting", "mean"], "--weighting"), (["--lr-schedule", "step"], "--lr-schedule"),
    (["--strategies", "foo"], "foo"), (["--strategies", "gradmatch-xx"], "gradmatch-xx"),
    (["--scheduler", "tcp://x:1", "--workers", "2"], "--workers"),
    (["--workers", "0"], "--workers"), (["--augment"], "--augment"),
    (["--no-such-option"], "--no-such-option"),
]


@pytest.mark.parametrize("argv,named", RUNNER_CASES, ids=[" ".join(a) for a, _ in RUNNER_CASES])
def test_the_runner_refuses_bad_arguments_before_any_run(argv, named, monkeypatch, capsys):
    def no_run(config):
        raise AssertionError("the runner started a run with bad arguments")

    monkeypatch.setattr(runner, "run_experiment", no_run)
    with pytest.raises(SystemExit) as info:
        runner.main(argv)
    assert info.value.code == 2
    assert named in capsys.readouterr().err


def test_the_table_is_large():
    assert len(CASES) + len(RUNNER_CASES) >= 150


# -- legitimate acceptances -------------------------------------------------------------
def _accepts(kind, warns=None, **params):
    def call():
        cls, make_net, y = ESTIMATORS[kind]
        net = make_net(callbacks=None, max_epochs=1)
        est = cls(net, **{"verbose": 0, "random_state": 0, **params})
        if warns is None:
            est.fit(X, y)
        else:
            with pytest.warns(UserWarning, match=warns):
                est.fit(X, y)
        assert est.n_iter_ == 1
    return call


ACCEPTED = [
    ("budget=1, an int: one example per subset (an int is a count, 1.0 is everything)",
     _accepts("clf", budget=1, warns="Each subset holds 1 examples")),
    ("budget=1.0: every example, subset training on all of them",
     _accepts("clf", budget=1.0)),
    ("R larger than the epochs: one selection only", _accepts("clf", R=1000)),
    ("kappa=1: all warm start, no subset epoch", _accepts("clf", kappa=1)),
    ("valid_size=1, an int: one held-out example is enough for a regressor",
     _accepts("reg", valid_size=1)),
    ("random_state as a RandomState instance (scikit-learn's convention)",
     _accepts("clf", random_state=np.random.RandomState(0), selector="random")),
    ("verbose=5: any verbosity above 1 shows the bar everywhere", _accepts("reg", verbose=5)),
    ("a regressor whose module ends in Sigmoid with selector='random': RANDOM reads no "
     "last-layer gradients, so any module trains",
     lambda: SubsetTrainingRegressor(reg_net(module=_mlp(1, last=nn.Sigmoid()), callbacks=None,
                                             max_epochs=1), selector="random",
                                     verbose=0).fit(X, T)),
    ("X as float64 or a list of lists: converted to float32 as scikit-learn estimators do",
     lambda: SubsetTrainingClassifier(clf_net(callbacks=None, max_epochs=1), verbose=0).fit(
         X.astype(np.float64).tolist(), Y.tolist())),
    ("string class labels: encoded internally",
     lambda: SubsetTrainingClassifier(clf_net(callbacks=None, max_epochs=1), verbose=0).fit(
         X, np.array(["a", "b", "c"])[Y])),
    ("per_batch=True with CRAIG: CRAIG-PB", _accepts("clf", per_batch=True, selector="craig")),
    ("GradMatchSelector(tol=0): run to the full budget", lambda: GradMatchSelector(
        budget=5, tol=0).fit(G)),
    ("CrestSelector(subset_fraction=1): one random subset of all the rows",
     lambda: CrestSelector(budget=5, subset_fraction=1.0, random_state=0).fit(G)),
]


@pytest.mark.parametrize("reason,call", ACCEPTED, ids=[r.split(":")[0] for r, _ in ACCEPTED])
def test_legitimate_inputs_are_accepted(reason, call):
    with warnings.catch_warnings():  # one or two epochs of a tiny net: whether its loss fell
        warnings.simplefilter("ignore", ConvergenceWarning)  # is not what is tested here
        call()
