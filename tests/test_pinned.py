"""Pinned selections: seeded problems whose selected indices and weights must not change.

Every search path of the solver (the exact gain rule, the correlation rule on the basis and on
the Cholesky factor, several atoms a step, the sketched search, positive and signed weights, the
tolerance stop), on dense rows and on factors, batched with masks; every selector's ``fit``; and
seeded ``SubsetTrainingClassifier`` runs (per example, per batch, every strategy).  The expected
values live in ``tests/data/pinned.npz``; ``python tests/test_pinned.py`` rewrites them, which is
only right after a change of results made on purpose (and listed in the changelog).

The rows are compared exactly and the weights within a tolerance that another BLAS or CPU
respects (:data:`RTOL`): with other kernels (``ATEN_CPU_CAPABILITY=default
MKL_ENABLE_INSTRUCTIONS=SSE4_2 OPENBLAS_CORETYPE=Nehalem``) every pinned selection holds the same
rows, only CREST's in another order, and the weights move by less than 1e-6 of the largest.
"""

import os
import sys

import numpy as np
import pytest
import torch

from sksubset import (
    CraigSelector,
    CrestSelector,
    GlisterSelector,
    GradMatchSelector,
    RandomSelector,
    SubsetTrainingClassifier,
)
from sksubset.gradients import LastLayer
from sksubset.omp import (
    DenseAtoms,
    OuterProductAtoms,
    omp_batched,
    orthogonal_matching_pursuit,
)

PINNED = os.path.join(os.path.dirname(__file__), "data", "pinned.npz")


def _factors(seed, B=3, n=60, C=4, H=9):
    g = torch.Generator().manual_seed(seed)
    E = torch.randn(B, n, C, generator=g, dtype=torch.float64)
    Hb = torch.randn(B, n, H + 1, generator=g, dtype=torch.float64).abs() + 0.1
    return E, Hb


def _solver_cases():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(2, 80, 30, generator=g, dtype=torch.float64) + 0.3
    b = A[:, :40].sum(1)
    valid = torch.ones(2, 80, dtype=torch.bool)
    valid[1, 70:] = False
    E, Hb = _factors(1)
    fb = torch.einsum("bnc,bnh->bch", E, Hb).reshape(3, -1)
    fvalid = torch.ones(3, 60, dtype=torch.bool)
    fvalid[2, 50:] = False
    dense = dict(A=DenseAtoms(A), b=b, n_nonzero=[12, 7], valid=valid)
    factored = dict(A=OuterProductAtoms(E, Hb), b=fb, n_nonzero=[10, 6, 9], valid=fvalid)
    options = {
        "gain": {},
        "gain_lam0": dict(lam=0.0),
        "gain_signed": dict(positive=False),
        "corr": dict(criterion="correlation"),
        "corr_lam0": dict(criterion="correlation", lam=0.0),
        "gain_step4": dict(per_step=4),
        "corr_step4": dict(criterion="correlation", per_step=4),
        "corr_step3_signed": dict(criterion="correlation", per_step=3, positive=False),
        "sketch": dict(sketch=8, sketch_seed=3),
        "tol": dict(tol=0.05),
    }
    for (pname, problem) in (("dense", dense), ("factored", factored)):
        for oname, opts in options.items():
            yield f"omp/{pname}/{oname}", problem, opts


def _solver_results():
    out = {}
    for name, problem, opts in _solver_cases():
        results = omp_batched(problem["A"], problem["b"], problem["n_nonzero"],
                              valid=problem["valid"], **opts)
        for i, r in enumerate(results):
            out[f"{name}/{i}/indices"] = r.indices.cpu().numpy()
            out[f"{name}/{i}/weights"] = r.weights.cpu().numpy()
    rng = np.random.default_rng(2)
    A = rng.normal(size=(50, 20))
    idx, w = orthogonal_matching_pursuit(A, A[[3, 7, 11]].sum(0) + 0.01, 5)
    out["omp/public/indices"], out["omp/public/weights"] = idx, w
    return out


def _last_layer(seed=4, n=150, C=3, H=8):
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, C, generator=g)
    y = torch.arange(n) % C
    Hb = torch.cat([torch.ones(n, 1), torch.randn(n, H, generator=g).relu()], 1)
    E = torch.softmax(Z, 1) - torch.nn.functional.one_hot(y, C).float()
    return LastLayer(E, Hb, Z, y)


def _selectors():
    return {
        "gradmatch": GradMatchSelector(budget=0.1, per_class=False),
        "gradmatch_pc": GradMatchSelector(budget=0.1, per_class=True),
        "gradmatch_pg": GradMatchSelector(budget=0.1, per_class=True, per_gradient=True),
        "gradmatch_fast": GradMatchSelector(budget=0.1, per_class=True, criterion="correlation",
                                            per_step=4),
        "random": RandomSelector(budget=0.1, random_state=0),
        "craig": CraigSelector(budget=0.1, per_class=True, random_state=0),
        "craig_global": CraigSelector(budget=0.1, per_class=False, random_state=0),
        "glister": GlisterSelector(budget=0.1, per_class=False, random_state=0),
        "crest": CrestSelector(budget=0.1, random_state=0),
    }


def _selector_results():
    out = {}
    ll = _last_layer()
    G = ll.dense().numpy().astype(np.float64)
    y = ll.y.numpy()
    for name, sel in _selectors().items():
        for gname, data in (("dense", G), ("factored", ll)):
            if name == "crest" and gname == "dense":
                continue  # CREST selects from a net's last layer only
            sel.fit(data, y)
            out[f"sel/{name}/{gname}/indices"] = np.asarray(sel.indices_)
            out[f"sel/{name}/{gname}/weights"] = np.asarray(sel.weights_, dtype=np.float64)
    return out


def _runs():
    return {
        "run/gradmatch": dict(),
        "run/gradmatch_pb": dict(per_batch=True),
        "run/random": dict(selector="random"),
        "run/craig": dict(selector="craig"),
        "run/glister": dict(selector="glister"),
        "run/crest": dict(selector="crest"),
        "run/gradmatch_valid": dict(valid_size=0.2),
    }


def _run_results():
    from sklearn.datasets import load_digits
    from skorch import NeuralNetClassifier

    X, y = load_digits(return_X_y=True)
    X, y = (X[:400] / 16).astype(np.float32), y[:400]
    out = {}
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, kwargs in _runs().items():
            module = torch.nn.Sequential(torch.nn.Linear(64, 24), torch.nn.ReLU(),
                                         torch.nn.Linear(24, 10))
            net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, max_epochs=8,
                                      lr=0.1, batch_size=32, train_split=None, verbose=0)
            clf = SubsetTrainingClassifier(net, budget=0.2, R=2, random_state=0, verbose=0,
                                           **kwargs).fit(X, y)
            for i, rec in enumerate(clf.selection_history_):
                out[f"{name}/{i}/indices"] = np.asarray(rec["indices"])
                out[f"{name}/{i}/weights"] = np.asarray(rec["weights"], dtype=np.float64)
    finally:
        torch.set_num_threads(n)
    return out


def _compute():
    return {**_solver_results(), **_selector_results(), **_run_results()}


@pytest.fixture(scope="module")
def pinned():
    with np.load(PINNED) as f:
        return dict(f)


@pytest.fixture(scope="module")
def computed():
    return _compute()


def test_same_keys(pinned, computed):
    assert sorted(computed) == sorted(pinned)


#: relative tolerance of the weights, per group: the solver's float64 problems, and the
#: selectors' and training runs' float32 arithmetic, whose last bits another BLAS or CPU changes
RTOL = {"omp/": 1e-5, "sel/": 1e-4, "run/": 1e-4}


@pytest.mark.parametrize("group", list(RTOL))
def test_same_selections(pinned, computed, group):
    """The same rows, exactly (a selection is discrete), each with its weight within the group's
    tolerance (scaled to the largest weight); the order of the rows is not compared, since
    another machine's arithmetic may break a tie in a greedy order differently."""
    keys = [key[:-len("indices")] for key in pinned
            if key.startswith(group) and key.endswith("indices")]
    assert keys
    for key in keys:
        indices, weights = key + "indices", key + "weights"
        got, want = np.argsort(computed[indices]), np.argsort(pinned[indices])
        np.testing.assert_array_equal(computed[indices][got], pinned[indices][want],
                                      err_msg=indices)
        scale = float(np.abs(pinned[weights]).max(initial=0.0))
        np.testing.assert_allclose(computed[weights][got], pinned[weights][want],
                                   rtol=RTOL[group], atol=RTOL[group] * scale, err_msg=weights)


if __name__ == "__main__":
    os.makedirs(os.path.dirname(PINNED), exist_ok=True)
    values = _compute()
    if len(sys.argv) > 1:  # rewrite only the keys that start with the given prefixes
        with np.load(PINNED) as f:
            old = dict(f)
        keep = {key: v for key, v in old.items() if not key.startswith(tuple(sys.argv[1:]))}
        values = {**keep, **{k: v for k, v in values.items() if k.startswith(tuple(sys.argv[1:]))}}
    np.savez_compressed(PINNED, **values)
    print(f"wrote {len(values)} arrays to {PINNED}")
