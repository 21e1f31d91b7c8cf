"""The correlation rule's greedy search on a Cholesky factor of the support's Gram matrix.

:mod:`sksubset.omp._basis` keeps an orthonormal basis of the chosen
(ridge-augmented) atoms, ``d`` float64 numbers a column, and orthogonalizes
every new atom against all of it: ``O(t d)`` flops an atom, the largest cost
of a step once the search only reads the atoms once (the correlation rule with
several atoms a step).  The same basis is ``L^{-1} A_S`` for the
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

from ._search import GreedySearch

__all__ = ["Breakdown", "CholeskySearch"]


class Breakdown(ArithmeticError):
    """The Schur complement of a new block was not positive definite."""


class CholeskySearch(GreedySearch):
    """The correlation rule's search, ``per_step`` atoms a step, on a growing Cholesky factor
    (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.gain or self.lam <= 0:
            raise ValueError("the Cholesky search serves criterion='correlation' with lam > 0.")
        B, K = self.B, self.K
        f64 = dict(device=self.A.device, dtype=torch.float64)
        self.L = torch.eye(K + 1, **f64).expand(B, K + 1, K + 1).clone()
        # the support's atoms, in the parts the atoms' parts_* methods read; row K: sink
        self.P = tuple(torch.zeros(B, K + 1, w, **f64) for w in self.A.part_widths)
        self.Lc = None  # contiguous leading block of L, (B, t, t)
        self.failed = torch.zeros((), dtype=torch.bool, device=self.A.device)

    def _check(self):
        # a failed factorization leaves NaNs that the steps since the last check carried on;
        # the whole search is discarded (omp_batched falls back to the basis)
        if bool(self.failed):
            raise Breakdown("a block's Schur complement is not positive definite.")
        super()._check()

    def extend(self, J, pe, active, width):
        A, S = self.A, self.per_step
        ar = self.ar.unsqueeze(1)
        Pn = A.parts(ar, J)
        if self.Lc is None or len(self.Lc[0]) < width:
            self.Lc = self.L[:, :width, :width].contiguous()
        width = len(self.Lc[0])  # slots past a support add zero rows to X
        Po = tuple(p[:, :width] for p in self.P)  # zero past each problem's support
        X = torch.linalg.solve_triangular(self.Lc, A.parts_cross(Po, Pn), upper=False)
        eye = torch.eye(S, device=X.device, dtype=X.dtype)
        M = A.parts_cross(Pn, Pn) + self.lam * eye - torch.bmm(X.transpose(1, 2), X)
        M = torch.where(active.unsqueeze(1) & active.unsqueeze(2), M, eye)
        R, info = torch.linalg.cholesky_ex(M)
        self.failed |= (info != 0).any()  # looked at with the stopping rules, not each step
        zn = A.parts_dot(Pn, self.b).unsqueeze(2) - torch.bmm(X.transpose(1, 2),
                                                             self.z[:, :width].unsqueeze(2))
        zn = torch.linalg.solve_triangular(R, zn, upper=False).squeeze(2)
        self.L[ar, pe, :width] = X.transpose(1, 2)
        self.L[ar.unsqueeze(2), pe.unsqueeze(2), pe.unsqueeze(1)] = R
        for store, p in zip(self.P, Pn):
            store[ar, pe] = p
        return zn * active, torch.diagonal(R, dim1=1, dim2=2) ** 2

    def update_residual(self, pe, z):
        self._residual(min(len(self.Lc[0]) + self.per_step, self.K))

    def _residual(self, t, problems=slice(None)):
        """``r = b - A_S^T w`` with the unconstrained weights ``w = L^{-T} z`` of the first
        ``t`` slots (rows past a support are the identity's, with ``z = 0``)."""
        # a contiguous copy: a triangular solve on a slice of L is 5x slower; the next
        # step's solve reuses it
        L = self.L[problems, :t, :t].contiguous()
        self.Lc = L if problems == slice(None) else None
        w = torch.linalg.solve_triangular(L, self.z[problems, :t].unsqueeze(1), upper=False,
                                          left=False)  # w^T L = z^T, i.e. L^T w = z
        parts = tuple(p[problems, :t] for p in self.P)
        self.r[problems] = self.b[problems] - self.A.parts_combine(parts, w.squeeze(1))

    def forget(self, bi, t):
        self.L[bi, t:] = 0
        self.L[bi, t:, t:] = torch.eye(self.K + 1 - t, device=self.L.device, dtype=self.L.dtype)
        for p in self.P:
            p[bi, t:] = 0

    def recompute(self, bi):
        self._residual(max(self.pos_h[bi], 1), slice(bi, bi + 1))

    def support_factor(self, P):
        return self.L[:, :P, :P].contiguous()
