"""Regularized non-negative orthogonal matching pursuit (GRAD-MATCH, Algorithm 2).

The problem, for a matrix ``A`` of candidate gradients (one atom per row) and a
target gradient ``b``::

    min_w  ||A_S^T w - b||^2 + lam * s2 * ||w||^2    subject to  |S| <= k,  w >= 0

(``s2`` the mean squared norm of the candidate atoms, so that ``lam`` is
relative and the selection the same at any scale of the atoms:
``sksubset.omp._scale``) is solved greedily, and batched: ``B``
independent problems (one per class in the per-class approximation) advance
together, one atom each per step (or
``per_step`` atoms: generalized OMP).  :func:`orthogonal_matching_pursuit`
solves one problem from arrays; :func:`omp_batched` solves a batch of them on
dense rows (:class:`DenseAtoms`) or on factored rows (:class:`OuterProductAtoms`,
as last-layer gradients come).

Which atom comes next (``criterion``)
-------------------------------------
* ``"gain"`` (default): the atom whose addition lowers the (unconstrained)
  regularized error the most, ``<a_j, r>^2 / d_j`` with ``d_j`` the squared
  norm of the part of the augmented atom orthogonal to the chosen ones
  (orthogonal least squares: the greedy step of the paper's weak-submodularity
  bound; its first atom is the best single atom).  Each step multiplies ``A``
  by the newest basis vectors only, which updates both the correlations and
  the projections (:mod:`sksubset.omp._basis`).
* ``"correlation"``: the largest inner product ``<a_j, r>`` with the residual
  (Algorithm 2 of the paper, CORDS's path; with ``lam=0, positive=False``
  exactly :func:`sklearn.linear_model.orthogonal_mp`).  With ``lam > 0`` this
  rule grows a Cholesky factor of the support's Gram matrix instead of an
  orthonormal basis (:mod:`sksubset.omp._cholesky`: the same atoms, cheaper
  steps).

Both read ``A`` once per step.  With ``positive=True`` a positive correlation
ranks first.  Chosen atoms are never chosen again.  On last-layer gradients
the gain rule reached the lowest error of the two (and of CORDS) on every
matrix measured; on dense random matrices, which are not gradient-like, it
sometimes loses to the correlation rule, because it values atoms whose
benefit needs negative weights (``docs/benchmarks.md``).

How the search stops, and how the non-negative weights are fitted and atoms
of weight zero replaced, is told in :mod:`sksubset.omp._search`; the
non-negative least squares in :mod:`sksubset.omp._nnls`; the sketched search
(``sketch=m``) in :mod:`sksubset.omp._atoms`.

Layout: ``_atoms`` (dense, factored and sketched atoms), ``_nnls``,
``_options`` (:class:`~sksubset.omp._options.SearchOptions`), ``_search`` (one
greedy search with named hooks), and its two kinds, ``_basis`` (an
orthonormal basis of the support) and ``_cholesky`` (a Cholesky factor of its
Gram matrix).
"""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils.validation import check_matrix, check_target, resolve_device
from ._atoms import DenseAtoms, OuterProductAtoms, sketch
from ._batched import check_batched, solve_batched, warn_shortfalls
from ._nnls import nnls_gram
from ._options import SearchOptions
from ._scale import mean_sqnorm, rescale
from ._search import OMPResult

__all__ = ["OMPResult", "DenseAtoms", "OuterProductAtoms", "orthogonal_matching_pursuit",
           "omp_batched", "nnls_gram", "sketch"]


def omp_batched(A, b, n_nonzero, *, valid=None, lam=0.05, tol=1e-10, positive=True,
                criterion="gain", check_every=None, max_rounds=32, per_step=1, sketch=None,
                sketch_seed=0):
    """Solve ``B`` OMP problems that share a step loop.

    Parameters
    ----------
    A : torch.Tensor of shape (B, n, d), DenseAtoms or OuterProductAtoms
        Atoms of each problem (rows); padding rows must be masked out by
        ``valid``.
    b : torch.Tensor of shape (B, d)
        Targets.
    n_nonzero : sequence of int of length B
        Budget of each problem, each in ``[1, n]``.
    valid : torch.Tensor of shape (B, n), bool, optional
        Which rows are real candidates.
    lam : float >= 0, default=0.05
        Ridge relative to the mean squared norm ``s2`` of the candidate atoms
        (the ``valid`` rows of all ``B`` problems together; for factors
        ``||e_i||^2 ||h_i||^2``): the penalty is ``lam * s2 * ||w||^2``, and
        the selection is the same at any scale of the atoms.
    tol, positive, criterion : see :func:`orthogonal_matching_pursuit`.
    check_every : int, optional
        Greedy steps between host checks of the stopping rules (default 8 on
        the CPU, 32 elsewhere).
    max_rounds : int, default=32
        Most non-negative refits per problem (see :mod:`sksubset.omp._search`).
    per_step : int >= 1 or "auto", default=1
        Atoms added per greedy step (generalized OMP: the ``per_step`` free
        atoms of highest score at once, so that one pass over the atoms serves
        them all); 1 is the exact greedy search.  ``"auto"``: each problem's
        own, from its budget ``k``: ``max(k // 16, 1)`` atoms a step, so that
        every budget is chosen over 16 to 31 greedy steps (``k`` steps below
        16; ``AUTO_MIN_STEPS`` of :mod:`sksubset.omp._options`), whatever its
        size: the number of steps does not grow with the budget.  With
        ``criterion="correlation"`` and ``lam > 0`` the search grows a
        Cholesky factor of the support's Gram matrix instead of an orthonormal
        basis (:mod:`sksubset.omp._cholesky`): the same atoms, at a fraction
        of the cost of a step.
    sketch : int, optional
        Run the greedy search on a random projection of the atoms to this many
        columns (of the embedding part for factors), then refit the chosen
        support exactly (:func:`sketch`).
    sketch_seed : int, default=0
        Seeds the projection.

    Returns
    -------
    list of OMPResult

    Raises
    ------
    ValueError or TypeError
        For an argument out of range or of the wrong shape or type (the
        message names it): ``A`` not 3-D (nor atoms) or not finite, ``b`` not
        of shape ``(B, d)``, ``n_nonzero`` not ``B`` ints in ``[1, n]``,
        ``valid`` not a bool tensor of shape ``(B, n)``, ``lam`` or ``tol``
        negative.

    Warns
    -----
    UserWarning
        When a problem comes back with fewer atoms than its budget without
        reaching ``tol`` (``OMPResult.shortfall`` says why), or when the
        Cholesky search broke down and the basis solved the batch instead
        (``OMPResult.fallback``).
    """
    auto = isinstance(per_step, str) and per_step == "auto"
    if ((not auto and not (isinstance(per_step, Integral) and per_step >= 1))
            or (sketch is not None and int(sketch) < 1)):
        raise ValueError(f"per_step and sketch must be ints >= 1 (per_step may also be "
                         f"'auto'); got per_step={per_step!r}, sketch={sketch!r}.")
    for name, value in (("lam", lam), ("tol", tol)):
        if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
            raise ValueError(f"omp_batched: {name} must be a float >= 0; got {value!r}.")
    A, ks, valid = check_batched(A, b, n_nonzero, valid)
    A, scale = rescale(A)
    ridge = float(lam) * mean_sqnorm(A, valid)
    options = SearchOptions(lam=ridge, tol=tol, positive=positive, criterion=criterion,
                            check_every=check_every, max_rounds=max_rounds, per_step=per_step)
    results = solve_batched(A, b.to(torch.float64) * scale, ks, valid, options, sketch=sketch,
                            sketch_seed=sketch_seed)
    warn_shortfalls("OMP", results)
    return results


@validate_params({"A": ["array-like", torch.Tensor], "b": ["array-like", torch.Tensor],
                  "n_nonzero": [Interval(Integral, 1, None, closed="left")],
                  "lam": [Interval(Real, 0, None, closed="left")],
                  "tol": [Interval(Real, 0, None, closed="left")], "positive": ["boolean"],
                  "criterion": [StrOptions({"gain", "correlation"})],
                  "dtype": [StrOptions({"float32", "float64"}), torch.dtype],
                  "device": [str, torch.device]}, prefer_skip_nested_validation=True)
def orthogonal_matching_pursuit(A, b, n_nonzero, *, lam=0.05, tol=1e-10, positive=True,
                                criterion="gain", dtype=torch.float32, device="auto"):
    """Regularized (non-negative) orthogonal matching pursuit.

    Greedily solves ``min_w ||A_S^T w - b||^2 + lam s2 ||w||^2``, ``s2 =
    mean_i ||a_i||^2``, with at most ``n_nonzero`` atoms (rows of ``A``) and,
    with ``positive=True``, ``w >= 0``.  See :mod:`sksubset.omp` for the
    algorithm.

    Parameters
    ----------
    A : array-like or torch.Tensor of shape (n_atoms, n_features)
        Candidate vectors, one per row (e.g. per-example gradients).
    b : array-like or torch.Tensor of shape (n_features,)
        Target vector (e.g. the full training gradient).
    n_nonzero : int >= 1
        Number of atoms to select (at most ``n_atoms``).
    lam : float >= 0, default=0.05
        Ridge relative to the mean squared norm of the candidate atoms: the
        penalty is ``lam * mean_i ||a_i||^2 * ||w||^2``; the selection is the
        same at any scale of ``A`` (and ``b``).  (``lam=0.05`` is about the
        absolute ``0.5`` of earlier releases on a classifier's last-layer
        gradients, whose mean squared norm is 7 to 10.)  The atoms are read
        rescaled by a power of two where their magnitude would overflow or
        underflow float32 products: the same problem.
    tol : float >= 0, default=1e-10
        Stop early once the regularized error is at most ``tol * ||b||^2``;
        ``tol=0`` never stops early.
    positive : bool, default=True
        Constrain the weights to be non-negative.
    criterion : {"gain", "correlation"}, default="gain"
        How the next atom is chosen: the largest decrease of the
        unconstrained regularized error, or the largest inner product with the
        residual (the paper's Algorithm 2); see the module docstring.
    dtype : torch.float32, torch.float64, "float32" or "float64", default=torch.float32
        Precision in which ``A`` is read; the basis and the final weights are
        always computed in float64.
    device : str or torch.device, default="auto"
        Where to compute; ``"auto"`` means where ``A`` lives (CPU for numpy).

    Returns
    -------
    indices : ndarray of shape (n_selected,)
        Selected rows in greedy order.
    weights : ndarray of shape (n_selected,)
        Their weights.

    Raises
    ------
    ValueError or TypeError
        For a parameter out of range, ``A`` not 2-D or with NaN/inf values,
        ``b`` not of shape ``(n_features,)``, complex input, or ``n_nonzero >
        n_atoms``.

    Warns
    -----
    UserWarning
        When fewer than ``n_nonzero`` atoms come back without reaching
        ``tol`` (only possible with ``lam=0``: the nonzero rows, or their
        span, are fewer than the budget), or when the Cholesky search broke
        down (see :func:`omp_batched`).

    Examples
    --------
    >>> import numpy as np
    >>> from sksubset.omp import orthogonal_matching_pursuit
    >>> rng = np.random.default_rng(0)
    >>> A = rng.normal(size=(50, 20))
    >>> b = A[[3, 7]].sum(0)
    >>> idx, w = orthogonal_matching_pursuit(A, b, 2, lam=0.0)
    >>> sorted(idx.tolist()), np.round(w, 3).tolist()
    ([3, 7], [1.0, 1.0])
    """
    try:
        dev = resolve_device(device, A, b)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    dtype = {"float32": torch.float32, "float64": torch.float64}.get(dtype, dtype)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype}.")
    At = check_matrix(A, dev, dtype, name="A")
    bt = check_target(b, (At.shape[1],), dev, torch.float64, name="b")[0]
    if n_nonzero > At.shape[0]:
        raise ValueError(f"n_nonzero={n_nonzero} is larger than the number of atoms (rows of "
                         f"A: {At.shape[0]}).")
    A, scale = rescale(DenseAtoms(At.unsqueeze(0)))
    options = SearchOptions(lam=float(lam) * mean_sqnorm(A), tol=tol, positive=positive,
                            criterion=criterion)
    res = solve_batched(A, bt.unsqueeze(0) * scale, [int(n_nonzero)], None, options)
    warn_shortfalls("orthogonal_matching_pursuit", res)
    return res[0].indices.cpu().numpy(), res[0].weights.cpu().numpy()
