"""Cheaper greedy searches for :func:`sksubset.omp.omp_batched`: blocks of atoms, sketches.

Two approximations of the greedy search of :mod:`sksubset.omp`, each behind
an option of :func:`~sksubset.omp.omp_batched` (both off by default):

* ``per_step=s`` (generalized OMP): each step adds the ``s`` free atoms of
  highest score (the gain rule's ``<a_j, r>^2 / d_j``, or the correlation)
  at once, orthogonalized one after the other against the basis, so that
  one pass over the atoms (a product with ``s`` vectors instead of one)
  serves ``s`` atoms.  With ``s = 1`` it is the exact greedy search.
* ``sketch=m`` (a random projection): the greedy search runs on sketched
  atoms ``S^T a_j`` and target ``S^T b``, ``S`` a Gaussian matrix scaled so
  that inner products are kept in expectation; the chosen support is then
  refitted exactly (the non-negative refits and replacements use the exact
  atoms and target).  For atoms given as factors
  (:class:`~sksubset.omp.OuterProductAtoms`, ``a_i = vec(e_i h_i^T)``) only
  the embedding part is projected, ``h_i -> P^T h_i`` with ``P`` of shape
  ``(m_h, m)``: the search then reads ``C + m`` numbers per atom instead of
  ``C + m_h``.

Both change which atoms are chosen, so their errors are bounded rather than
equal to the exact search's (``docs/benchmarks.md``, section 1, measures
them).
"""

import torch

from .omp import DenseAtoms, OuterProductAtoms, _BatchedOMP

__all__ = ["BlockOMP", "sketch"]


class BlockOMP(_BatchedOMP):
    """The batched greedy search adding ``per_step`` atoms per step (see module doc)."""

    def __init__(self, *args, per_step=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.per_step = max(1, min(int(per_step), self.n))

    def _pick(self):
        """The step's block: how many atoms each problem takes, which slots of the block are
        real (``active``, (B, S)), the block's atoms ``J`` and their scores."""
        S = self.per_step
        take = torch.clamp(self.kk_t - self.pos, 0, S)
        cols = torch.arange(S, device=self.pos.device)
        active = cols.unsqueeze(0) < take.unsqueeze(1)
        val, J = torch.topk(self._score() + self.blocked, S, dim=1)
        return take, cols, active, val, J

    def _step(self, width):
        A, K, S = self.A, self.K, self.per_step
        ar = self.ar.unsqueeze(1)
        take, cols, active, val, J = self._pick()
        a = A.rows(ar, J)  # (B, S, d)
        Qw = self.Q[:, :width]
        L = torch.bmm(Qw, a.transpose(1, 2))  # (B, width, S)
        V = a - torch.bmm(L.transpose(1, 2), Qw)
        nrm2 = self.sq.gather(1, J)
        d2 = nrm2 - (L * L).sum(1)
        Qn, d2 = self._orthonormalize(a, L, V, d2, nrm2, active)
        z = (Qn * self.b.unsqueeze(1)).sum(2)  # (B, S)
        pe = torch.where(active, self.pos.unsqueeze(1) + cols, K)
        self.Q[ar, pe] = Qn
        self.z[ar, pe] = z
        self.idx[ar, pe] = J
        self.rec_val[ar, pe] = val
        self.rec_d2[ar, pe] = d2 / nrm2
        self.r -= torch.bmm(z.unsqueeze(1), Qn).squeeze(1)
        if self.gain:  # the one pass over A of this step: A Qn
            U = A.correlate_many(Qn).to(torch.float64)  # (B, n, S)
            self.proj2 += (U * U).sum(2)
            self.stale += S
            if self.stale >= self.refresh_every:  # bound the drift of the update
                self.c = A.correlate(self.r).to(torch.float64)
                self.stale = 0
            else:
                self.c -= torch.bmm(U, z.unsqueeze(2)).squeeze(2)
        old = self.blocked.gather(1, J)
        self.blocked.scatter_(1, J, torch.where(active, -torch.inf, old))
        self.pos += take


    def _orthonormalize(self, a, L, V, d2, nrm2, active):
        """Orthonormal basis rows of the block (data parts) and each atom's new squared norm.

        The augmented atoms' Gram matrix after projecting out the old basis is
        ``a a^T + lam I - L^T L``; its Cholesky factor ``R`` gives the block's
        basis ``R^{-1} V`` (Gram-Schmidt in one factorization).  Without a
        ridge the block can be singular; then the atoms are orthogonalized one
        after the other, with the single-step floor on their norms.
        """
        S = a.shape[1]
        eye = torch.eye(S, dtype=a.dtype, device=a.device)
        M = torch.bmm(a, a.transpose(1, 2)) + self.lam * eye - torch.bmm(L.transpose(1, 2), L)
        both = active.unsqueeze(1) & active.unsqueeze(2)
        M = torch.where(both, M, eye)
        R, info = torch.linalg.cholesky_ex(M)
        if self.lam > 0 and not bool(info.any()):
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
    g = torch.Generator().manual_seed(int(seed))
    if isinstance(atoms, OuterProductAtoms):
        P = torch.randn(atoms.m, dim, generator=g, dtype=torch.float64) / dim ** 0.5
        H = atoms.H @ P.to(device=atoms.device, dtype=atoms.dtype)
        bs = (b.to(torch.float64).view(len(b), atoms.C, atoms.m) @ P.to(b.device)).flatten(1)
        return OuterProductAtoms(atoms.E, H), bs
    if isinstance(atoms, DenseAtoms):
        P = torch.randn(atoms.shape[2], dim, generator=g, dtype=torch.float64) / dim ** 0.5
        A = atoms.A @ P.to(device=atoms.device, dtype=atoms.dtype)
        return DenseAtoms(A), b.to(torch.float64) @ P.to(b.device)
    raise TypeError(f"cannot sketch atoms of type {type(atoms).__name__}.")
