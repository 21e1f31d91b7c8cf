"""Textbook references the OMP tests compare against (float64 numpy; not a test module).

``lam`` is relative, as the library's: the ridge is ``lam`` times the mean squared norm of
the rows of ``A`` (:func:`ridge`)."""

import math

import numpy as np
import torch
from scipy.optimize import nnls

from sksubset.omp import omp_batched


def ridge(A, lam):
    """The absolute ridge of the relative ``lam`` on the rows of ``A``: ``lam * mean ||a_i||^2``."""
    A = np.asarray(A, dtype=np.float64)
    return float(lam) * float((A * A).sum(1).mean())


def relative(A, ridge_):
    """The relative ``lam`` whose ridge on the rows of ``A`` is ``ridge_`` (the inverse of
    :func:`ridge`)."""
    A = np.asarray(A, dtype=np.float64)
    return float(ridge_) / float((A * A).sum(1).mean())


def objective(A, b, idx, w, lam):
    """``||A_S^T w - b||^2 + ridge ||w||^2`` in float64."""
    A = np.asarray(A, dtype=np.float64)
    lam = ridge(A, lam)
    b = np.asarray(b, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    resid = w @ A[np.asarray(idx, dtype=np.int64)] - b
    return float(resid @ resid + lam * (w @ w))


def ridge_nnls(A, b, support, lam):
    """Exact ``min_{w >= 0} ||A_S^T w - b||^2 + ridge ||w||^2`` (weights, objective)."""
    S = list(support)
    lam = ridge(A, lam)
    M = np.vstack([A[S].T, math.sqrt(lam) * np.eye(len(S))])
    c = np.concatenate([b, np.zeros(len(S))])
    w, rnorm = nnls(M, c)
    return w, rnorm ** 2


def reference_greedy(A, b, k, lam, criterion="gain", positive=True):
    """Textbook regularized greedy selection, without any NNLS (float64 numpy).

    ``criterion="gain"``: the atom whose addition lowers the regularized error the
    most, ``<a_j, r> / sqrt(d_j)`` with ``d_j`` the squared norm of the augmented
    atom ``[a_j; sqrt(lam) e_j]`` off the span of the chosen ones;
    ``"correlation"``: the largest ``<a_j, r>``.  With ``positive=False`` the
    absolute value.  Returns the support (in order) and its *unconstrained* ridge
    weights.
    """
    A = np.asarray(A, dtype=np.float64)
    lam = ridge(A, lam)
    S, w = [], np.zeros(0)
    sq = (A * A).sum(1) + lam
    for _ in range(k):
        r = b - (w @ A[S] if S else 0.0)
        c = A @ r
        if criterion == "gain":
            if S:
                As = A[S]
                M = As @ As.T + lam * np.eye(len(S))
                g = As @ A.T  # <a~_s, a~_j> = <a_s, a_j> for j outside S
                proj = (g * np.linalg.solve(M, g)).sum(0)
            else:
                proj = 0.0
            score = c / np.sqrt(np.maximum(sq - proj, max(lam, 1e-300)))
        else:
            score = c.copy()
        if not positive:
            score = np.abs(score)
        score[S] = -np.inf
        S.append(int(np.argmax(score)))
        As = A[S]
        w = np.linalg.solve(As @ As.T + lam * np.eye(len(S)), As @ b)
    return S, w


def reference_block_greedy(A, b, k, lam, s, criterion="gain"):
    """Textbook generalized OMP (float64 numpy, unconstrained weights, ``positive=False``):
    each step appends the ``s`` free atoms of largest absolute score, scored as one step of
    :func:`reference_greedy`."""
    A = np.asarray(A, dtype=np.float64)
    lam = ridge(A, lam)
    S, w = [], np.zeros(0)
    sq = (A * A).sum(1) + lam
    while len(S) < k:
        r = b - (w @ A[S] if S else 0.0)
        c = A @ r
        if criterion == "gain" and S:
            As = A[S]
            g = As @ A.T
            proj = (g * np.linalg.solve(As @ As.T + lam * np.eye(len(S)), g)).sum(0)
            score = c / np.sqrt(np.maximum(sq - proj, lam))
        elif criterion == "gain":
            score = c / np.sqrt(sq)
        else:
            score = c.copy()
        score = np.abs(score)
        score[S] = -np.inf
        S += [int(j) for j in np.argsort(-score, kind="stable")[:min(s, k - len(S))]]
        As = A[S]
        w = np.linalg.solve(As @ As.T + lam * np.eye(len(S)), As @ b)
    return S, w


def gradient_like(seed, n=40, d=12):
    rng = np.random.default_rng(seed)
    A = rng.normal(0.4, 1.0, (n, d)) * np.exp(rng.normal(0, 0.5, (n, 1)))
    return A, A.sum(0)


def solve(A, b, k, **kw):
    """``omp_batched`` on a single problem, from numpy."""
    kw.setdefault("lam", 0.5)
    return omp_batched(torch.as_tensor(A)[None], torch.as_tensor(b, dtype=torch.float64)[None],
                       [k], **kw)[0]


def well_conditioned(seed=0, n=120, d=60):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)) + 0.3
    return A, A.sum(0)
