"""The correlation rule's greedy search on a Cholesky factor of the support's Gram matrix.

:mod:`sksubset.omp` keeps an orthonormal basis of the chosen (ridge-augmented)
atoms, ``d`` float64 numbers a column, and orthogonalizes every new atom
against all of it: ``O(t d)`` flops an atom, the largest cost of a step once
the search only reads the atoms once (the correlation rule with several atoms
a step, :mod:`sksubset.omp_block`).  The same basis is ``L^{-1} A_S`` for the
lower Cholesky factor ``L L^T = A_S A_S^T + lam I`` of the support's Gram
matrix, so the search can grow ``L`` instead.  A step adding the block ``J``
of ``s`` atoms needs

* the Gram block ``<a_i, a_j>`` of the support with ``J``: for factors
  (``a_i = vec(e_i h_i^T)``) it is ``<e_i, e_j> <h_i, h_j>``, ``C + m``
  products a pair instead of ``C m``;
* one triangular solve ``X = L^{-1} G_SJ`` (``t^2 s`` flops) and the
  Cholesky factor of the ``s x s`` Schur complement ``G_JJ - X^T X``, which
  the ridge keeps positive definite;
* the new coordinates ``z_J`` of the target (``z = L^{-1} A_S b``) and the
  unconstrained weights ``w = L^{-T} z``, from which the residual
  ``r = b - A_S^T w`` is formed (``t C m`` flops for factors).

Every quantity is the one of the basis-growing search, so both choose the
same atoms (up to rounding); only the cost of a step changes.  The path
serves ``criterion="correlation"`` with ``lam > 0``: the gain rule also needs
every atom's projection on each new basis vector, which the factor does not
give cheaply, and without a ridge the Schur complement may be singular.  A
factorization that fails nonetheless raises :class:`Breakdown`, and
:func:`sksubset.omp.omp_batched` then solves the problem with the basis.
"""

import torch

from .omp import DenseAtoms, OuterProductAtoms
from .omp_block import BlockOMP

__all__ = ["Breakdown", "CholeskyOMP"]


class Breakdown(ArithmeticError):
    """The Schur complement of a new block was not positive definite."""


def _parts(A, ar, J):
    """The atoms ``J`` (B, s) of each problem as float64 parts: factors or rows."""
    if isinstance(A, OuterProductAtoms):
        return A.E[ar, J].to(torch.float64), A.H[ar, J].to(torch.float64)
    if isinstance(A, DenseAtoms):
        return (A.A[ar, J].to(torch.float64),)
    raise TypeError(f"no Cholesky search for atoms of type {type(A).__name__}.")


def _cross(P, Q):
    """Inner products of the atoms ``P`` (B, p) with the atoms ``Q`` (B, q): (B, p, q)."""
    out = torch.bmm(P[0], Q[0].transpose(1, 2))
    if len(P) == 2:  # <e_i, e_j> <h_i, h_j>
        out *= torch.bmm(P[1], Q[1].transpose(1, 2))
    return out


def _combine(P, w):
    """``sum_i w_i a_i`` of each problem, (B, d), for parts ``P`` (B, t) and weights (B, t)."""
    if len(P) == 2:
        return torch.bmm((P[0] * w.unsqueeze(2)).transpose(1, 2), P[1]).flatten(1)
    return torch.bmm(w.unsqueeze(1), P[0]).squeeze(1)


def _dot(P, b):
    """Inner products of the atoms ``P`` (B, s) with each problem's target ``b`` (B, d): (B, s)."""
    if len(P) == 2:
        Bm = b.view(len(b), P[0].shape[2], -1)
        return (torch.bmm(P[1], Bm.transpose(1, 2)) * P[0]).sum(2)
    return torch.bmm(P[0], b.unsqueeze(2)).squeeze(2)


class CholeskyOMP(BlockOMP):
    """The correlation rule's search, ``per_step`` atoms a step, on a growing Cholesky factor
    (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.gain or self.lam <= 0:
            raise ValueError("the Cholesky search serves criterion='correlation' with lam > 0.")
        B, K = self.B, self.K
        f64 = dict(device=self.A.device, dtype=torch.float64)
        self.L = torch.eye(K + 1, **f64).expand(B, K + 1, K + 1).clone()
        widths = (self.A.C, self.A.m) if isinstance(self.A, OuterProductAtoms) else (self.d,)
        # the support's atoms, in the parts _cross and _combine read; row K: sink
        self.P = tuple(torch.zeros(B, K + 1, w, **f64) for w in widths)
        self.Lc = None  # contiguous leading block of L, (B, t, t)

    @staticmethod
    def _new_basis(*shape, **kwargs):
        return None  # no basis: the factor L stands for it

    def _step(self, width):
        K, S, lam = self.K, self.per_step, self.lam
        ar = self.ar.unsqueeze(1)
        take, cols, active, val, J = self._pick()
        Pn = _parts(self.A, ar, J)
        if self.Lc is None or len(self.Lc[0]) < width:
            self.Lc = self.L[:, :width, :width].contiguous()
        width = len(self.Lc[0])  # slots past a support add zero rows to X
        Po = tuple(p[:, :width] for p in self.P)  # zero past each problem's support
        X = torch.linalg.solve_triangular(self.Lc, _cross(Po, Pn), upper=False)
        eye = torch.eye(S, device=X.device, dtype=X.dtype)
        M = _cross(Pn, Pn) + lam * eye - torch.bmm(X.transpose(1, 2), X)
        M = torch.where(active.unsqueeze(1) & active.unsqueeze(2), M, eye)
        R, info = torch.linalg.cholesky_ex(M)
        if bool(info.any()):
            raise Breakdown("a block's Schur complement is not positive definite.")
        zn = _dot(Pn, self.b).unsqueeze(2) - torch.bmm(X.transpose(1, 2),
                                                       self.z[:, :width].unsqueeze(2))
        zn = torch.linalg.solve_triangular(R, zn, upper=False).squeeze(2)
        pe = torch.where(active, self.pos.unsqueeze(1) + cols, K)
        self.L[ar, pe, :width] = X.transpose(1, 2)
        self.L[ar.unsqueeze(2), pe.unsqueeze(2), pe.unsqueeze(1)] = R
        for store, p in zip(self.P, Pn):
            store[ar, pe] = p
        self.z[ar, pe] = zn * active
        self.idx[ar, pe] = J
        self.rec_val[ar, pe] = val
        self.rec_d2[ar, pe] = torch.diagonal(R, dim1=1, dim2=2) ** 2 / self.sq.gather(1, J)
        old = self.blocked.gather(1, J)
        self.blocked.scatter_(1, J, torch.where(active, -torch.inf, old))
        self.pos += take
        self._residual(min(width + S, K))

    def _residual(self, t, problems=slice(None)):
        """``r = b - A_S^T w`` with the unconstrained weights ``w = L^{-T} z`` of the first
        ``t`` slots (rows past a support are the identity's, with ``z = 0``)."""
        # a contiguous copy: a triangular solve on a slice of L is 5x slower; the next
        # step's solve reuses it
        L = self.L[problems, :t, :t].contiguous()
        self.Lc = L if problems == slice(None) else None
        w = torch.linalg.solve_triangular(L, self.z[problems, :t].unsqueeze(1), upper=False,
                                          left=False)  # w^T L = z^T, i.e. L^T w = z
        self.r[problems] = self.b[problems] - _combine(tuple(p[problems, :t] for p in self.P),
                                                       w.squeeze(1))

    def _forget(self, bi, t):
        self.L[bi, t:] = 0
        self.L[bi, t:, t:] = torch.eye(self.K + 1 - t, device=self.L.device, dtype=self.L.dtype)
        for p in self.P:
            p[bi, t:] = 0

    def _refresh(self, bi):
        self._block_chosen(bi)
        self._residual(max(self.pos_h[bi], 1), slice(bi, bi + 1))

    def _support_factor(self, P):
        return self.L[:, :P, :P].contiguous()
