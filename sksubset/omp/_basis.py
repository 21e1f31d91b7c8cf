"""The greedy search on an orthonormal basis of the chosen (ridge-augmented) atoms.

How a step works
----------------
The ridge term is folded into the atoms: the augmented atom of row ``j`` is
``[a_j; sqrt(lam) e_j]`` and the augmented target ``[b; 0]``, so the
regularized objective is an ordinary least-squares residual.  An orthonormal
basis ``Q`` of the chosen augmented atoms grows by one Gram-Schmidt column per
atom; only its data part (``d`` numbers per column) is ever needed, because a
new atom's augmented coordinate is orthogonal to every earlier one.  This is
the growing basis ``A_S^T L^{-T}`` of an incrementally updated Cholesky factor
``L L^T = A_S A_S^T + lam I``, so no triangular solve is made during the greedy
phase.  One step reads ``A`` once (see below) plus two thin products with
``Q``; the basis is kept in float64 so that it stays orthogonal for thousands
of atoms while ``A`` is read in its own (default float32) precision.  A step
of ``s`` atoms orthogonalizes them in one factorization of their Gram matrix
off the basis (:meth:`BasisSearch._orthonormalize`).

The gain rule
-------------
``criterion="gain"`` scores an atom by how much its addition lowers the
(unconstrained) regularized error, ``<a_j, r>^2 / d_j`` with ``d_j`` the
squared norm of the part of the augmented atom orthogonal to the basis
(orthogonal least squares).  Each step multiplies ``A`` by the step's new
basis vectors only: that product updates both the correlations (``A r`` loses
``z A q``) and the projections (``d_j`` loses ``(A q)_j^2``); the correlations
are recomputed exactly every 32 atoms to bound float32 drift.
"""

import torch

from ._atoms import bmm
from ._search import GreedySearch

__all__ = ["BasisSearch"]

_F64 = torch.float64


class BasisSearch(GreedySearch):
    """The greedy search (either rule, any ``per_step``) on an orthonormal basis of the
    support (see the module docstring)."""

    #: atoms between exact recomputations of the gain rule's correlations
    refresh_every = 32

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        f64 = dict(device=self.A.device, dtype=_F64)
        self.Q = torch.zeros(self.B, self.K + 1, self.d, **f64)  # basis rows; row K: sink
        if self.gain:
            # squared norm of each atom's projection on the basis
            self.proj2 = torch.zeros(self.B, self.n, **f64)
            # an atom off the span keeps at least this much of itself: lam, or a sliver
            self.d2_floor = torch.clamp(self.sq * 1e-10, min=self.lam)
            # correlations kept up to date from one product per step
            self.c = self.A.correlate(self.b).to(_F64)
            self.stale = 0

    def rank(self):
        if not self.gain:
            return super().rank()
        score = self.c / torch.maximum(self.sq - self.proj2, self.d2_floor).sqrt()
        return score.to(self.A.dtype)

    def extend(self, J, pe, active, width):
        ar = self.ar.unsqueeze(1)
        a = self.A.rows(ar, J)  # (B, S, d)
        Qw = self.Q[:, :width]
        L = bmm(Qw, a.transpose(1, 2))  # (B, width, S)
        V = a - bmm(Qw.transpose(1, 2), L).transpose(1, 2)
        nrm2 = self.sq.gather(1, J)
        d2 = nrm2 - (L * L).sum(1)
        Qn, d2 = self._orthonormalize(a, L, V, d2, nrm2, active)
        self.Q[ar, pe] = Qn
        return (Qn * self.b.unsqueeze(1)).sum(2), d2

    def _orthonormalize(self, a, L, V, d2, nrm2, active):
        """Orthonormal basis rows of the step's atoms (data parts) and their new squared norms.

        The augmented atoms' Gram matrix after projecting out the old basis is
        ``a a^T + lam I - L^T L``; its Cholesky factor ``R`` gives the block's
        basis ``R^{-1} V`` (Gram-Schmidt in one factorization).  A single atom,
        or a block without a ridge (which can be singular), is orthogonalized
        one atom after the other, each norm floored at ``rtol`` of the atom's.
        """
        S = a.shape[1]
        if S > 1 and self.lam > 0:
            eye = torch.eye(S, dtype=a.dtype, device=a.device)
            M = torch.bmm(a, a.transpose(1, 2)) + self.lam * eye - torch.bmm(L.transpose(1, 2), L)
            M = torch.where(active.unsqueeze(1) & active.unsqueeze(2), M, eye)
            R, info = torch.linalg.cholesky_ex(M)
            if not bool(info.any()):
                Qn = torch.linalg.solve_triangular(R, V, upper=False) * active.unsqueeze(2)
                return Qn, torch.diagonal(R, dim1=1, dim2=2) ** 2
        Qn = torch.zeros_like(V)
        for t in range(S):  # one atom after the other
            v = V[:, t]
            if t:  # inner products with the raw atom: the basis is orthonormal only augmented
                lt = torch.bmm(Qn[:, :t], a[:, t].unsqueeze(2)).squeeze(2)
                v = v - torch.bmm(lt.unsqueeze(1), Qn[:, :t]).squeeze(1)
                d2[:, t] = d2[:, t] - (lt * lt).sum(1)
            scale = d2[:, t].clamp_min(self.rtol * nrm2[:, t]).rsqrt() * active[:, t]
            Qn[:, t] = v * scale.unsqueeze(1)
        return Qn, d2

    def update_residual(self, pe, z):
        Qn = self.Q[self.ar.unsqueeze(1), pe]  # the step's basis rows (zero where idle)
        self.r -= bmm(Qn.transpose(1, 2), z.unsqueeze(2)).squeeze(2)
        if self.gain:  # the one pass over A of this step: A Qn
            U = self.A.correlate_many(Qn).to(_F64)  # (B, n, S)
            self.proj2 += (U * U).sum(2)
            self.stale += Qn.shape[1]
            if self.stale >= self.refresh_every:  # bound the drift of the update
                self.c = self.A.correlate(self.r).to(_F64)
                self.stale = 0
            else:
                self.c -= bmm(U, z.unsqueeze(2)).squeeze(2)

    def forget(self, bi, t):
        self.Q[bi, t:] = 0

    def recompute(self, bi):
        t = self.pos_h[bi]
        self.r[bi] = self.b[bi] - self.z[bi, :t] @ self.Q[bi, :t]
        if self.gain:  # the basis changed: project every atom on it afresh
            # a few basis rows at a time: all of them at once is an (n, t) matrix
            proj2 = torch.zeros_like(self.proj2[bi])
            for V in self.Q[bi, :t].split(max(1, (1 << 22) // self.n)):
                P = self.A.project(bi, V).to(_F64)
                proj2 += (P * P).sum(1)
            self.proj2[bi] = proj2
            self.c[bi] = self.A.project(bi, self.r[bi].unsqueeze(0))[:, 0].to(_F64)
