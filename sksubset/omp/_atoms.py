"""The atoms a search reads: dense rows, factored (outer-product) rows, and their sketches.

A search never touches a matrix of atoms directly: it asks its atoms for the
few products it needs (correlations with one or several vectors, rows, Gram
blocks, inner products with the target).  :class:`DenseAtoms` holds the rows
of a tensor ``A`` of shape ``(B, n, d)``; :class:`OuterProductAtoms` holds
atoms ``a_i = vec(e_i h_i^T)`` by their factors, as per-example last-layer
gradients come (:mod:`sksubset.gradients`), and answers the same questions
reading ``C + m`` numbers per atom instead of ``C * m``.

Sketched atoms
--------------
:func:`sketch` (the ``sketch=m`` option of :func:`~sksubset.omp.omp_batched`)
gives sketched atoms ``S^T a_j`` and target ``S^T b``, ``S`` a Gaussian matrix
scaled so that inner products are kept in expectation; the greedy search runs
on them and the chosen support is then refitted exactly (the non-negative
refits and replacements use the exact atoms and target).  For atoms given as
factors only the embedding part is projected, ``h_i -> P^T h_i`` with ``P``
of shape ``(m_h, m)``: the search then reads ``C + m`` numbers per atom
instead of ``C + m_h``.  This changes which atoms are chosen, so the error is
bounded rather than equal to the exact search's (``docs/benchmarks.md``,
section 1, measures it).
"""

import torch

__all__ = ["DenseAtoms", "OuterProductAtoms", "sketch"]

_F64 = torch.float64


def bmv(M, x):
    """Batched matrix-vector product ``M[b] @ x[b]``, (B, p)."""
    if M.device.type == "cpu":  # CPU BLAS: a loop of gemv beats a batched gemm (2-4x)
        return torch.stack([torch.mv(m, v) for m, v in zip(M, x)])
    return torch.bmm(M, x.unsqueeze(2)).squeeze(2)


def bmm(M, X):
    """Batched product ``M[b] @ X[b]`` of ``X`` (B, p, s); one column goes through
    :func:`bmv`."""
    if X.shape[2] == 1:
        return bmv(M, X[:, :, 0]).unsqueeze(2)
    return torch.bmm(M, X)


def _projection(rows, dim, seed):
    """The Gaussian projection of :func:`sketch`, (rows, dim), float64 on the CPU."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(rows, dim, generator=g, dtype=_F64) / dim ** 0.5


class DenseAtoms:
    """Atoms stored as the rows of a tensor ``A`` of shape (B, n, d)."""

    def __init__(self, A):
        self.A = A
        self.shape, self.device, self.dtype = tuple(A.shape), A.device, A.dtype

    def correlate(self, r):
        """Inner products ``<a_i, r_b>`` of every atom with its problem's vector, (B, n)."""
        return bmv(self.A, r.to(self.dtype))

    def correlate_many(self, V):
        """Inner products of every atom with each of its problem's ``s`` vectors ``V`` (B, s, d):
        (B, n, s), one pass over the atoms."""
        if V.shape[1] == 1:
            return self.correlate(V[:, 0]).unsqueeze(2)
        return torch.bmm(self.A, V.to(self.dtype).transpose(1, 2))

    def project(self, bi, V):
        """Inner products of problem ``bi``'s atoms with the rows of ``V`` (t, d): (n, t)."""
        return self.A[bi] @ V.to(self.dtype).T

    def rows(self, bi, idx):
        """Atoms ``idx`` of problem ``bi`` (or one per problem when ``bi`` is a tensor), float64."""
        return self.A[bi, idx].to(_F64)

    def gram(self, bi, rows, cols):
        """Inner products ``<a_i, a_j>`` of problem ``bi``'s atoms, (len(rows), len(cols)),
        float64."""
        return self.rows(bi, rows) @ self.rows(bi, cols).T

    def dot(self, bi, rows, v):
        """Inner products of atoms ``rows`` of problem ``bi`` with ``v`` (d,), float64."""
        return self.rows(bi, rows) @ v

    def sqnorms(self):
        """Squared norm of every atom, (B, n), float64."""
        # in row slices: a float64 copy of A at once would double the memory of a float32 A
        rows = max(1, (1 << 22) // max(1, self.shape[0] * self.shape[2]))
        return torch.cat([torch.linalg.vector_norm(a, dim=2, dtype=_F64)
                          for a in self.A.split(rows, dim=1)], dim=1) ** 2

    # -- the atoms as float64 parts (the Cholesky search keeps its support's) --
    @property
    def part_widths(self):
        return (self.shape[2],)

    def parts(self, ar, J):
        """The atoms ``J`` (B, s) of each problem (``ar``: the problems, (B, 1)) as float64
        parts: here the rows."""
        return (self.A[ar, J].to(_F64),)

    @staticmethod
    def parts_cross(P, Q):
        """Inner products of the atoms ``P`` (B, p) with the atoms ``Q`` (B, q): (B, p, q)."""
        return torch.bmm(P[0], Q[0].transpose(1, 2))

    @staticmethod
    def parts_combine(P, w):
        """``sum_i w_i a_i`` of each problem, (B, d), for parts ``P`` (B, t), weights (B, t)."""
        return torch.bmm(w.unsqueeze(1), P[0]).squeeze(1)

    @staticmethod
    def parts_dot(P, b):
        """Inner products of the atoms ``P`` (B, s) with each problem's ``b`` (B, d): (B, s)."""
        return torch.bmm(P[0], b.unsqueeze(2)).squeeze(2)

    def sketched(self, b, dim, seed):
        """Sketched atoms and targets (see :func:`sketch`)."""
        P = _projection(self.shape[2], dim, seed)
        A = self.A @ P.to(device=self.device, dtype=self.dtype)
        return DenseAtoms(A), b.to(_F64) @ P.to(b.device)


class OuterProductAtoms:
    """Atoms that are outer products, ``a_i = vec(e_i h_i^T)``, given by their factors.

    Per-example last-layer gradients have this form (``E`` and ``Hb`` of
    :mod:`sksubset.gradients`).  A correlation then costs a thin matrix
    product over the factors, ``sum_c E_ic (H R_b^T)_ic``, reading ``C + m``
    numbers per atom instead of ``C * m``.

    Parameters
    ----------
    E : torch.Tensor of shape (B, n, C)
    H : torch.Tensor of shape (B, n, m)
    """

    def __init__(self, E, H):
        self.E, self.H = E, H
        B, n, C = E.shape
        self.C, self.m = C, H.shape[2]
        self.shape, self.device, self.dtype = (B, n, C * self.m), E.device, E.dtype

    def correlate(self, r):
        R = r.to(self.dtype).view(len(r), self.C, self.m)
        return (torch.bmm(self.H, R.transpose(1, 2)) * self.E).sum(2)

    def correlate_many(self, V):
        if V.shape[1] == 1:
            return self.correlate(V[:, 0]).unsqueeze(2)
        B, s = V.shape[:2]
        R = V.to(self.dtype).view(B, s, self.C, self.m).permute(0, 3, 1, 2).reshape(B, self.m, -1)
        HR = torch.bmm(self.H, R).view(B, -1, s, self.C)
        return (HR * self.E.unsqueeze(2)).sum(3)

    def project(self, bi, V):
        t = len(V)
        R = V.to(self.dtype).view(t, self.C, self.m).permute(2, 1, 0).reshape(self.m, -1)
        HR = (self.H[bi] @ R).view(-1, self.C, t)
        return (HR * self.E[bi].unsqueeze(2)).sum(1)

    def rows(self, bi, idx):
        e = self.E[bi, idx].to(_F64)
        h = self.H[bi, idx].to(_F64)
        return (e.unsqueeze(-1) * h.unsqueeze(-2)).flatten(-2)

    def gram(self, bi, rows, cols):
        """``<a_i, a_j> = <e_i, e_j> <h_i, h_j>``: ``C + m`` products a pair, not ``C m``."""
        E, H = self.E[bi], self.H[bi]
        return (E[rows].to(_F64) @ E[cols].to(_F64).T) * (H[rows].to(_F64) @ H[cols].to(_F64).T)

    def dot(self, bi, rows, v):
        V = v.view(self.C, self.m)
        return ((self.H[bi, rows].to(_F64) @ V.T) * self.E[bi, rows].to(_F64)).sum(1)

    def sqnorms(self):
        e2 = torch.linalg.vector_norm(self.E, dim=2, dtype=_F64) ** 2
        return e2 * torch.linalg.vector_norm(self.H, dim=2, dtype=_F64) ** 2

    @property
    def part_widths(self):
        return (self.C, self.m)

    def parts(self, ar, J):
        """The atoms ``J`` (B, s) of each problem as float64 parts: their factors."""
        return self.E[ar, J].to(_F64), self.H[ar, J].to(_F64)

    @staticmethod
    def parts_cross(P, Q):
        """``<a_i, a_j> = <e_i, e_j> <h_i, h_j>`` for the atoms ``P`` and ``Q``: (B, p, q)."""
        out = torch.bmm(P[0], Q[0].transpose(1, 2))
        out *= torch.bmm(P[1], Q[1].transpose(1, 2))
        return out

    @staticmethod
    def parts_combine(P, w):
        return torch.bmm((P[0] * w.unsqueeze(2)).transpose(1, 2), P[1]).flatten(1)

    @staticmethod
    def parts_dot(P, b):
        Bm = b.view(len(b), P[0].shape[2], -1)
        return (torch.bmm(P[1], Bm.transpose(1, 2)) * P[0]).sum(2)

    def sketched(self, b, dim, seed):
        P = _projection(self.m, dim, seed)
        H = self.H @ P.to(device=self.device, dtype=self.dtype)
        bs = (b.to(_F64).view(len(b), self.C, self.m) @ P.to(b.device)).flatten(1)
        return OuterProductAtoms(self.E, H), bs


def sketch(atoms, b, dim, seed=0):
    """Sketched atoms and targets for the greedy search (see the module docstring).

    Parameters
    ----------
    atoms : DenseAtoms or OuterProductAtoms
    b : torch.Tensor of shape (B, d)
        Targets, in the atoms' layout.
    dim : int
        Columns of the projection (of ``d`` for dense atoms, of the embedding
        part ``m`` for factors).
    seed : int, default=0
        Seeds the Gaussian projection.

    Returns
    -------
    sketched_atoms, sketched_targets
    """
    if not isinstance(atoms, (DenseAtoms, OuterProductAtoms)):
        raise TypeError(f"cannot sketch atoms of type {type(atoms).__name__}.")
    return atoms.sketched(b, dim, seed)
