"""The batched solve behind :func:`~sksubset.omp.omp_batched`: its checks, the relative ridge,
the choice of search (and its fallback), and the warnings about short results.

:func:`solve_batched` takes an absolute ridge (``options.lam``) on atoms
already rescaled; :func:`omp_batched <sksubset.omp.omp_batched>` and the
GRAD-MATCH selector convert their relative ``lam`` (:mod:`sksubset.omp._scale`)
first, the selector over all its problems together.
"""

import warnings
from numbers import Integral

import torch

from ._atoms import DenseAtoms, OuterProductAtoms
from ._atoms import sketch as _sketch
from ._basis import BasisSearch
from ._cholesky import Breakdown, CholeskySearch

__all__ = ["check_batched", "shortfall_message", "solve_batched", "warn_shortfalls"]


def solve_batched(A, b, ks, valid, options, sketch=None, sketch_seed=0):
    """Solve the batch with the search that fits ``options`` (absolute ridge ``options.lam``).

    The correlation rule with a ridge grows a Cholesky factor
    (:class:`~sksubset.omp._cholesky.CholeskySearch`); should a factorization
    break down, the batch is solved again with the orthonormal basis, every
    result records it (``fallback=True``) and a ``UserWarning`` says so, once
    per call.

    Returns
    -------
    list of OMPResult
    """
    if valid is None:
        valid = torch.ones(A.shape[:2], dtype=torch.bool, device=A.device)
    with torch.no_grad():
        fallback = False
        if options.criterion == "correlation" and options.lam > 0 and sketch is None:
            try:
                return CholeskySearch(A, b, ks, valid, options).solve()
            except Breakdown as exc:
                fallback = True
                warnings.warn(f"OMP: the Cholesky search broke down ({exc}: the support's "
                              f"Gram matrix is numerically singular at this ridge); solved "
                              f"with the orthonormal basis instead (the same problem, at a "
                              f"dearer step).", UserWarning, stacklevel=3)
        fit = None
        if sketch is not None:
            fit = (A, b)
            A, b = _sketch(A, b, int(sketch), sketch_seed)
        results = BasisSearch(A, b, ks, valid, options, fit=fit).solve()
    for r in results:
        r.fallback = fallback
    return results


_WHY = {"candidates": "the problem has fewer usable candidates than its budget",
        "span": "no new independent row could be added: the candidates span only {n} "
                "dimensions (lam=0, or a ridge too small against the rows' norms)"}


def shortfall_message(who, results, labels=None):
    """The warning text for the results that came back short (``None`` when none did).

    ``who`` starts the message (e.g. ``"OMP"``); ``labels`` names each problem
    (default ``"problem i"``, left out for a single problem).
    """
    parts = []
    for i, r in enumerate(results):
        if r.shortfall is None:
            continue
        label = "" if len(results) == 1 and labels is None else (
            f"{labels[i] if labels is not None else f'problem {i}'}: ")
        why = _WHY[r.shortfall].format(n=len(r.indices))
        parts.append(f"{label}{len(r.indices)} of {r.n_requested} rows: {why}")
    if not parts:
        return None
    return (f"{who}: fewer rows than the budget came back and the tolerance was not reached ("
            + "; ".join(parts) + ").")


def warn_shortfalls(who, results, labels=None, stacklevel=3):
    """Warn (``UserWarning``) when a result holds fewer rows than asked without reaching the
    tolerance."""
    msg = shortfall_message(who, results, labels)
    if msg is not None:
        warnings.warn(msg, UserWarning, stacklevel=stacklevel)


def check_batched(A, b, n_nonzero, valid):
    """Check the arrays of :func:`~sksubset.omp.omp_batched`; returns ``(atoms, ks, valid)``.

    Raises ``TypeError`` or ``ValueError`` naming the argument and what it accepts.
    """
    if isinstance(A, torch.Tensor):
        if A.ndim != 3 or not A.is_floating_point():
            raise ValueError(f"omp_batched: A must be a floating tensor of shape (B, n, d), "
                             f"DenseAtoms or OuterProductAtoms; got {A.dtype} of shape "
                             f"{tuple(A.shape)}.")
        A = DenseAtoms(A)
    if not isinstance(A, (DenseAtoms, OuterProductAtoms)):
        raise TypeError(f"omp_batched: A must be a torch.Tensor of shape (B, n, d), DenseAtoms "
                        f"or OuterProductAtoms; got {type(A).__name__}.")
    tensors = (A.A,) if isinstance(A, DenseAtoms) else (A.E, A.H)
    if not all(bool(torch.isfinite(t).all()) for t in tensors):
        raise ValueError("omp_batched: A contains NaN or infinite values; it must be finite.")
    B, n, d = A.shape
    if not isinstance(b, torch.Tensor) or tuple(b.shape) != (B, d):
        got = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
        raise ValueError(f"omp_batched: b must be a tensor of shape (B, d) = {(B, d)}; got "
                         f"{got}.")
    if not bool(torch.isfinite(b).all()):
        raise ValueError("omp_batched: b contains NaN or infinite values; it must be finite.")
    try:
        ks = list(n_nonzero)
    except TypeError:
        raise TypeError(f"omp_batched: n_nonzero must be a sequence of B={B} ints; got "
                        f"{type(n_nonzero).__name__}.") from None
    if len(ks) != B or not all(isinstance(k, Integral) and not isinstance(k, bool)
                               and 1 <= k <= n for k in ks):
        raise ValueError(f"omp_batched: n_nonzero must hold B={B} ints in [1, n={n}] (one "
                         f"budget per problem, at most its rows); got {ks!r}.")
    if valid is None:
        valid = torch.ones((B, n), dtype=torch.bool, device=A.device)
    elif (not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool
          or tuple(valid.shape) != (B, n)):
        got = (f"{valid.dtype} of shape {tuple(valid.shape)}" if isinstance(valid, torch.Tensor)
               else type(valid).__name__)
        raise ValueError(f"omp_batched: valid must be None or a bool tensor of shape (B, n) = "
                         f"{(B, n)}; got {got}.")
    return A, [int(k) for k in ks], valid
