"""Regularized non-negative orthogonal matching pursuit (GRAD-MATCH, Algorithm 2).

The problem, for a matrix ``A`` of candidate gradients (one atom per row) and a
target gradient ``b``::

    min_w  ||A_S^T w - b||^2 + lam * ||w||^2    subject to  |S| <= k,  w >= 0

is solved greedily, and batched: ``B`` independent problems (one per class in
the per-class approximation) advance together, one atom each per step.

How a step works
----------------
The ridge term is folded into the atoms: the augmented atom of row ``j`` is
``[a_j; sqrt(lam) e_j]`` and the augmented target ``[b; 0]``, so the
regularized objective is an ordinary least-squares residual.  An orthonormal
basis ``Q`` of the chosen augmented atoms grows by one Gram-Schmidt column per
step; only its data part (``d`` numbers per column) is ever needed, because a
new atom's augmented coordinate is orthogonal to every earlier one.  This is
the growing basis ``A_S^T L^{-T}`` of an incrementally updated Cholesky factor
``L L^T = A_S A_S^T + lam I``, so no triangular solve is made during the greedy
phase.  One step reads ``A`` once (see below) plus two thin products with
``Q``; the basis is kept in float64 so that it stays
orthogonal for thousands of atoms while ``A`` is read in its own (default
float32) precision.

Which atom comes next (``criterion``)
-------------------------------------
* ``"gain"`` (default): the atom whose addition lowers the (unconstrained)
  regularized error the most, ``<a_j, r>^2 / d_j`` with ``d_j`` the squared
  norm of the part of the augmented atom orthogonal to the basis (orthogonal
  least squares: the greedy step of the paper's weak-submodularity bound; its
  first atom is the best single atom).  Each step multiplies ``A`` by the
  newest basis vector ``q`` only: that product updates both the correlations
  (``A r`` loses ``z A q``) and the projections (``d_j`` loses ``(A q)_j^2``);
  the correlations are recomputed exactly every 32 steps to bound float32
  drift.
* ``"correlation"``: the largest inner product ``<a_j, r>`` with the residual
  (Algorithm 2 of the paper, CORDS's path; with ``lam=0, positive=False``
  exactly :func:`sklearn.linear_model.orthogonal_mp`).  With ``lam > 0`` this
  rule grows a Cholesky factor of the support's Gram matrix instead of the
  basis (:mod:`sksubset.omp_cholesky`: the same atoms, cheaper steps).

Both read ``A`` once per step.  With ``positive=True`` a positive correlation
ranks first.  Chosen atoms are never chosen again.  On last-layer gradients
the gain rule reached the lowest error of the two (and of CORDS) on every
matrix measured; on dense random matrices, which are not gradient-like, it
sometimes loses to the correlation rule, because it values atoms whose
benefit needs negative weights (``docs/benchmarks.md``).

Stopping and non-negativity
---------------------------
Greedy growth stops at ``k`` atoms, or when the regularized error falls to
``eps * ||b||^2``.  Progress is checked on the host only every
``check_every`` steps (a cheap look at per-step records kept on the device);
steps taken past an early stop are discarded exactly, since a prefix of the
greedy run is the greedy run with a smaller budget.

With ``positive=True`` the weights are refitted once the support is full by
non-negative least squares on the ridge-augmented system (block principal
pivoting on the ``k x k`` Gram matrix, in float64).  Atoms that receive weight
zero are removed and banned, and their slots are filled at once by the free
atoms best correlated with the residual of the non-negative fit; the refit
and replacement repeat until no weight is zero.  (Regrowing greedily instead
costs a full greedy step per replaced atom, and on validation targets, which
are no sums of training gradients, NNLS can zero most of the support round
after round.)  The objective never increases along these rounds, since the
kept atoms' weights remain feasible.  The result therefore holds exactly
``min(k, n)`` distinct atoms unless the tolerance was reached first.  The
refits are capped (``max_rounds=32``): a target that ``k`` non-negative atoms
cannot reach well can make every round zero a few new atoms (1 401 rounds,
193 s, were seen on one Fashion-MNIST selection at a 30% budget), and atoms
still at weight 0 after the last round stay in the result at weight 0.  Only
when every candidate has been tried (``k`` close to ``n``, or a target so far
outside the atoms' cone that its non-negative fit uses only a few of them) are
the remaining slots filled with banned atoms at weight 0, so that the count
stays exact.
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._utils.validation import check_matrix, check_target, resolve_device
from .nnls import masked_solve, nnls_gram

__all__ = ["OMPResult", "DenseAtoms", "OuterProductAtoms", "orthogonal_matching_pursuit",
           "omp_batched", "nnls_gram"]


@dataclass
class OMPResult:
    """Outcome of one OMP problem (tensors on the solver's device).

    Attributes
    ----------
    indices : torch.Tensor of shape (n_selected,)
        Chosen rows of ``A``, in the order the greedy search chose them.
    weights : torch.Tensor of shape (n_selected,)
        Their weights (float64), aligned with ``indices``.
    error : float
        Relative regularized error
        ``(||A_S^T w - b||^2 + lam ||w||^2) / ||b||^2``.
    converged : bool
        True when the tolerance ``eps`` was reached before the budget.
    n_rounds : int
        Number of non-negative refits made (1 when no atom was replaced).
    """

    indices: torch.Tensor
    weights: torch.Tensor
    error: float
    converged: bool
    n_rounds: int


def _bmv(M, x):
    """Batched matrix-vector product ``M[b] @ x[b]``, (B, p)."""
    if M.device.type == "cpu":  # CPU BLAS: a loop of gemv beats a batched gemm (2-4x)
        return torch.stack([torch.mv(m, v) for m, v in zip(M, x)])
    return torch.bmm(M, x.unsqueeze(2)).squeeze(2)


class DenseAtoms:
    """Atoms stored as the rows of a tensor ``A`` of shape (B, n, d)."""

    def __init__(self, A):
        self.A = A
        self.shape, self.device, self.dtype = tuple(A.shape), A.device, A.dtype

    def correlate(self, r):
        """Inner products ``<a_i, r_b>`` of every atom with its problem's vector, (B, n)."""
        r = r.to(self.dtype)
        return _bmv(self.A, r)

    def project(self, bi, V):
        """Inner products of problem ``bi``'s atoms with the rows of ``V`` (t, d): (n, t)."""
        return self.A[bi] @ V.to(self.dtype).T

    def correlate_many(self, V):
        """Inner products of every atom with each of its problem's ``s`` vectors ``V`` (B, s, d):
        (B, n, s), one pass over the atoms."""
        return torch.bmm(self.A, V.to(self.dtype).transpose(1, 2))

    def rows(self, bi, idx):
        """Atoms ``idx`` of problem ``bi`` (or one per problem when ``bi`` is a tensor), float64."""
        return self.A[bi, idx].to(torch.float64)

    def gram(self, bi, rows, cols):
        """Inner products ``<a_i, a_j>`` of problem ``bi``'s atoms, (len(rows), len(cols)), float64."""
        return self.rows(bi, rows) @ self.rows(bi, cols).T

    def dot(self, bi, rows, v):
        """Inner products of atoms ``rows`` of problem ``bi`` with ``v`` (d,), float64."""
        return self.rows(bi, rows) @ v

    def sqnorms(self):
        # in row slices: a float64 copy of A at once would double the memory of a float32 A
        rows = max(1, (1 << 22) // max(1, self.shape[0] * self.shape[2]))
        return torch.cat([torch.linalg.vector_norm(a, dim=2, dtype=torch.float64)
                          for a in self.A.split(rows, dim=1)], dim=1) ** 2


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
        e = self.E[bi, idx].to(torch.float64)
        h = self.H[bi, idx].to(torch.float64)
        return (e.unsqueeze(-1) * h.unsqueeze(-2)).flatten(-2)

    def gram(self, bi, rows, cols):
        """``<a_i, a_j> = <e_i, e_j> <h_i, h_j>``: ``C + m`` products a pair, not ``C m``."""
        E, H = self.E[bi], self.H[bi]
        f64 = torch.float64
        return ((E[rows].to(f64) @ E[cols].to(f64).T)
                * (H[rows].to(f64) @ H[cols].to(f64).T))

    def dot(self, bi, rows, v):
        V = v.view(self.C, self.m)
        return ((self.H[bi, rows].to(torch.float64) @ V.T)
                * self.E[bi, rows].to(torch.float64)).sum(1)

    def sqnorms(self):
        e2 = torch.linalg.vector_norm(self.E, dim=2, dtype=torch.float64) ** 2
        return e2 * torch.linalg.vector_norm(self.H, dim=2, dtype=torch.float64) ** 2


class _BatchedOMP:
    """State of ``B`` greedy problems that advance together (see module doc)."""

    def __init__(self, A, b, ks, valid, lam, eps, positive, criterion, check_every,
                 max_rounds, fit=None):
        self.A = A
        B, n, d = A.shape
        dev = A.device
        self.B, self.n, self.d = B, n, d
        self.lam, self.eps, self.positive = float(lam), float(eps), positive
        self.check_every = check_every
        self.max_rounds = max_rounds
        self.ar = torch.arange(B, device=dev)
        self.b = b.to(torch.float64)
        self.bnorm2 = (self.b * self.b).sum(1)
        self.sq = A.sqnorms() + lam
        usable = valid & (self.sq > 0)
        self.banned = ~usable
        self.gain = criterion == "gain"
        # squared norm of each atom's projection on the basis (gain rule only)
        self.proj2 = torch.zeros(B, n, device=dev, dtype=torch.float64) if self.gain else None
        # an atom off the span keeps at least this much of itself: lam, or a sliver
        self.d2_floor = torch.clamp(self.sq * 1e-10, min=self.lam)
        n_usable = usable.sum(1).tolist()
        self.k_target = [min(int(k), m) for k, m in zip(ks, n_usable)]
        self.kk = list(self.k_target)
        K = max(self.k_target + [1])
        self.K = K
        f64 = dict(device=dev, dtype=torch.float64)
        self.Q = self._new_basis(B, K + 1, d, **f64)  # basis rows; row K: sink for idle problems
        self.z = torch.zeros(B, K + 1, **f64)
        self.idx = torch.zeros(B, K + 1, device=dev, dtype=torch.long)
        self.rec_val = torch.zeros(B, K + 1, device=dev, dtype=A.dtype)
        self.rec_d2 = torch.zeros(B, K + 1, **f64)
        self.pos = torch.zeros(B, device=dev, dtype=torch.long)
        self.G = torch.zeros(B, K, K, **f64)  # Gram of the support, ridge included
        self.h = torch.zeros(B, K, **f64)  # A_S b
        self.gram_n = [0] * B  # leading atoms whose Gram rows are known
        self.pos_h = [0] * B
        self.r = self.b.clone()
        # gain rule: correlations kept up to date from one product per step
        self.c = A.correlate(self.b).to(torch.float64) if self.gain else None
        self.stale = 0
        self.blocked = torch.where(self.banned, -torch.inf, 0.0).to(A.dtype)
        self.converged = [False] * B
        self.ban_order = [[] for _ in range(B)]
        # a new direction must keep this share of its norm to count as new
        self.rtol = 1e-10
        self.refresh_every = 32
        # atoms and targets of the weights' fit: the search's own, or exact ones (sketching)
        self.F, self.b_fit = (A, self.b) if fit is None else (fit[0], fit[1].to(torch.float64))
        self.bnorm2_fit = (self.b_fit * self.b_fit).sum(1)
        self.sq_fit = self.sq if fit is None else self.F.sqnorms() + self.lam

    @staticmethod
    def _new_basis(*shape, **kwargs):
        return torch.zeros(*shape, **kwargs)

    # -- greedy growth ---------------------------------------------------
    def _score(self):
        """Each atom's selection score: the marginal gain (``criterion="gain"``) or the
        correlation with the residual, in absolute value unless the weights are non-negative."""
        if self.gain:
            score = self.c / torch.maximum(self.sq - self.proj2, self.d2_floor).sqrt()
            score = score.to(self.A.dtype)
        else:
            score = self.A.correlate(self.r)
        return score if self.positive else score.abs()

    def _step(self, width):
        """One greedy step for every problem still short of its budget."""
        A, ar, K = self.A, self.ar, self.K
        active = self.pos < self.kk_t
        score = self._score()
        val, j = (score + self.blocked).max(dim=1)
        a = A.rows(ar, j)
        Qw = self.Q[:, :width]
        l = _bmv(Qw, a)
        nrm2 = self.sq[ar, j]
        d2 = nrm2 - (l * l).sum(1)
        v = a - _bmv(Qw.transpose(1, 2), l)
        q = v * (d2.clamp_min(self.rtol * nrm2).rsqrt() * active).unsqueeze(1)
        zj = (q * self.b).sum(1)
        pe = torch.where(active, self.pos, K)
        self.Q[ar, pe] = q
        self.z[ar, pe] = zj
        self.idx[ar, pe] = j
        self.rec_val[ar, pe] = val
        self.rec_d2[ar, pe] = d2 / nrm2
        self.r -= zj.unsqueeze(1) * q
        if self.gain:  # the one pass over A of this step: A q
            u = A.correlate(q).to(torch.float64)
            self.proj2 += u * u
            self.stale += 1
            if self.stale >= self.refresh_every:  # bound the drift of the update
                self.c = A.correlate(self.r).to(torch.float64)
                self.stale = 0
            else:
                self.c -= zj.unsqueeze(1) * u
        self.blocked[ar, j] = torch.where(active, -torch.inf, self.blocked[ar, j])
        self.pos += active.long()

    #: atoms added per greedy step (:mod:`sksubset.omp_block` adds several)
    per_step = 1

    def _grow(self):
        """Run greedy steps until every problem has its budget (or stopped)."""
        S = self.per_step
        while True:
            todo = [k - p for k, p in zip(self.kk, self.pos_h)]
            steps = min(-(-max(todo) // S), self.check_every)
            if steps <= 0:
                return
            self.kk_t = torch.tensor(self.kk, device=self.A.device)
            for s in range(steps):
                width = max(p + min(s * S, t) for p, t in zip(self.pos_h, todo) if t > 0)
                self._step(max(width, 1))
            self._check()

    def _check(self):
        """Host-side look at the steps taken since the last check."""
        old = self.pos_h
        new = self.pos.tolist()
        hi = max(new)
        err = self.bnorm2.unsqueeze(1) - torch.cumsum(self.z[:, :hi] ** 2, 1)
        tol_hit = err <= self.eps * self.bnorm2.unsqueeze(1)
        bad = ~torch.isfinite(self.rec_val[:, :hi]) | (self.rec_d2[:, :hi] < self.rtol)
        tol_hit, bad = tol_hit.cpu().numpy(), bad.cpu().numpy()
        self.pos_h = new
        for bi in range(self.B):
            lo, up = old[bi], new[bi]
            if up <= lo:
                continue
            hits = np.flatnonzero(tol_hit[bi, lo:up])
            bads = np.flatnonzero(bad[bi, lo:up])
            t_tol = lo + hits[0] if hits.size else None
            t_bad = lo + bads[0] if bads.size else None
            if t_bad is not None and (t_tol is None or t_bad <= t_tol):
                if not torch.isfinite(self.rec_val[bi, t_bad]):
                    self.kk[bi] = t_bad  # every candidate is used or banned
                else:  # numerically dependent on the support: ban it
                    self._ban(bi, [int(self.idx[bi, t_bad])])
                self._truncate(bi, t_bad)
            elif t_tol is not None:
                self.converged[bi] = True
                self.kk[bi] = t_tol + 1
                self._truncate(bi, t_tol + 1)

    def _ban(self, bi, atoms):
        self.banned[bi, atoms] = True
        self.ban_order[bi].extend(atoms)

    def _truncate(self, bi, t):
        """Keep the first ``t`` atoms of problem ``bi``."""
        self._forget(bi, t)
        self.z[bi, t:] = 0
        self.gram_n[bi] = min(self.gram_n[bi], t)
        self.pos[bi] = t
        self.pos_h[bi] = t
        self._refresh(bi)

    def _forget(self, bi, t):
        """Drop problem ``bi``'s basis rows from slot ``t`` on."""
        self.Q[bi, t:] = 0

    def _block_chosen(self, bi):
        """Block problem ``bi``'s banned and chosen atoms from the search."""
        blocked = self.banned[bi].clone()
        blocked[self.idx[bi, :self.pos_h[bi]]] = True
        self.blocked[bi] = torch.where(blocked, -torch.inf, 0.0).to(self.A.dtype)

    def _refresh(self, bi):
        t = self.pos_h[bi]
        self._block_chosen(bi)
        self.r[bi] = self.b[bi] - self.z[bi, :t] @ self.Q[bi, :t]
        if self.gain:  # the basis changed: project every atom on it afresh
            # a few basis rows at a time: all of them at once is an (n, t) matrix
            proj2 = torch.zeros_like(self.proj2[bi])
            for V in self.Q[bi, :t].split(max(1, (1 << 22) // self.n)):
                P = self.A.project(bi, V).to(torch.float64)
                proj2 += (P * P).sum(1)
            self.proj2[bi] = proj2
            self.c[bi] = self.A.project(bi, self.r[bi].unsqueeze(0))[:, 0].to(torch.float64)

    def _replace(self, bi, zero, w):
        """Ban problem ``bi``'s zero-weight atoms and fill their slots at once.

        The newcomers are the free atoms best correlated with the residual of
        the non-negative fit (normalized like the greedy score): the atoms
        that would lower the non-negative objective fastest.  The support's
        Gram block is kept, so the next refit only adds the newcomers' rows;
        the greedy basis is not rebuilt (growth is over once weights are fit).
        """
        t = self.pos_h[bi]
        kp = torch.as_tensor(np.flatnonzero(~zero), device=self.A.device, dtype=torch.long)
        self._ban(bi, self.idx[bi, :t][torch.as_tensor(zero, device=self.A.device)].tolist())
        tk = len(kp)
        atoms = self.idx[bi, kp]
        self.G[bi, :tk, :tk] = self.G[bi][kp][:, kp]
        self.h[bi, :tk] = self.h[bi, kp]
        self.idx[bi, :tk] = atoms
        residual = self.b_fit[bi] - w[kp] @ self.F.rows(bi, atoms)
        score = self.F.project(bi, residual.unsqueeze(0))[:, 0].to(torch.float64)
        score = score / self.sq_fit[bi].sqrt()
        blocked = self.banned[bi].clone()
        blocked[atoms] = True
        need = min(t - tk, int((~blocked).sum()))
        new = torch.topk(score.masked_fill(blocked, -torch.inf), need).indices
        blocked[new] = True
        self.idx[bi, tk:tk + need] = new
        self.blocked[bi] = torch.where(blocked, -torch.inf, 0.0).to(self.A.dtype)
        self.gram_n[bi] = tk
        self.pos_h[bi] = tk + need
        self.pos[bi] = tk + need

    # -- weights ---------------------------------------------------------
    def _update_gram(self):
        """Add the Gram rows of atoms chosen since the last refit."""
        for bi in range(self.B):
            t0, t = self.gram_n[bi], self.pos_h[bi]
            if t <= t0:
                continue
            idx = self.idx[bi, :t]
            rows = self.F.gram(bi, idx[t0:t], idx)
            rows[:, t0:t] += self.lam * torch.eye(t - t0, device=rows.device, dtype=rows.dtype)
            self.G[bi, t0:t, :t] = rows
            self.G[bi, :t, t0:t] = rows.T
            self.h[bi, t0:t] = self.F.dot(bi, idx[t0:t], self.b_fit[bi])
            self.gram_n[bi] = t

    def _support_factor(self, P):
        """The Cholesky factor of the first ``P`` slots' Gram matrix, when the search has one."""
        return None

    @staticmethod
    def _objective(G, h, w, bnorm2):
        """Regularized error ``||b||^2 - 2 h.w + w^T G w`` of each problem."""
        quad = (w * torch.bmm(G, w.unsqueeze(2)).squeeze(2)).sum(1)
        return bnorm2 - 2 * (h * w).sum(1) + quad

    def solve(self):
        self._grow()
        rounds = 0
        w = torch.zeros(self.B, self.K, device=self.G.device, dtype=torch.float64)
        todo = list(range(self.B))  # problems whose support changed since their last refit
        while True:
            rounds += 1
            self._update_gram()
            P = max(self.pos_h + [1])
            mask = torch.arange(P, device=w.device).unsqueeze(0) < self.pos.unsqueeze(1)
            if not self.positive:
                w[:, :P] = masked_solve(self.G[:, :P, :P], self.h[:, :P], mask)[0]
                break
            ti = torch.as_tensor(todo, device=w.device)
            if len(todo) == self.B:  # a view: a copy of the k x k Gram blocks costs their size
                G, h = self.G[:, :P, :P], self.h[:, :P]
            else:
                G, h = self.G[ti, :P, :P], self.h[ti, :P]
            # round 1 refits every problem on the support the search grew (and factored)
            wt = nnls_gram(G, h, mask[ti], factor=self._support_factor(P) if rounds == 1 else None)
            w[ti] = 0
            w[ti, :P] = wt
            zero = (mask[ti] & (wt <= 0)).cpu().numpy()
            bn2 = self.bnorm2_fit[ti]
            done_tol = (self._objective(G, h, wt, bn2) <= self.eps * bn2).tolist()
            free = (~torch.isinf(self.blocked[ti])).sum(1).tolist()
            redo = [j for j in range(len(todo))
                    if zero[j].any() and not done_tol[j] and free[j] > 0]
            if not redo or rounds >= self.max_rounds:
                break
            for j in redo:
                bi = todo[j]
                self._replace(bi, zero[j, :self.pos_h[bi]], wt[j])
            todo = [todo[j] for j in redo]
        P = max(self.pos_h + [1])
        w = w[:, :P]
        obj = self._objective(self.G[:, :P, :P], self.h[:, :P], w, self.bnorm2_fit)
        return self._results(w, obj, rounds)

    def _results(self, w, obj, rounds):
        out = []
        rel = (obj / self.bnorm2_fit.clamp_min(torch.finfo(torch.float64).tiny)).tolist()
        for bi in range(self.B):
            t = self.pos_h[bi]
            idx, wb = self.idx[bi, :t], w[bi, :t]
            short = self.k_target[bi] - t
            if short > 0 and not self.converged[bi]:
                # every candidate was tried: fill with banned atoms at weight 0
                chosen = set(idx.tolist())
                fill = [a for a in self.ban_order[bi] if a not in chosen][:short]
                idx = torch.cat([idx, torch.as_tensor(fill, device=idx.device, dtype=idx.dtype)])
                wb = torch.cat([wb, wb.new_zeros(len(fill))])
            out.append(OMPResult(idx, wb, rel[bi], self.converged[bi], rounds))
        return out


def omp_batched(A, b, n_nonzero, *, valid=None, lam=0.5, eps=1e-10, positive=True,
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
        Budget of each problem.
    valid : torch.Tensor of shape (B, n), bool, optional
        Which rows are real candidates.
    lam, eps, positive, criterion : see :func:`orthogonal_matching_pursuit`.
    check_every : int, optional
        Greedy steps between host checks of the stopping rules (default 8 on
        the CPU, 32 elsewhere).
    max_rounds : int, default=32
        Most non-negative refits per problem (see the module docstring).
    per_step : int >= 1, default=1
        Atoms added per greedy step (generalized OMP, :mod:`sksubset.omp_block`);
        1 is the exact greedy search.  With ``criterion="correlation"`` and
        ``lam > 0`` the search grows a Cholesky factor of the support's Gram
        matrix instead of an orthonormal basis (:mod:`sksubset.omp_cholesky`):
        the same atoms, at a fraction of the cost of a step.
    sketch : int, optional
        Run the greedy search on a random projection of the atoms to this many
        columns (of the embedding part for factors), then refit the chosen
        support exactly (:mod:`sksubset.omp_block`).
    sketch_seed : int, default=0
        Seeds the projection.

    Returns
    -------
    list of OMPResult
    """
    if criterion not in ("gain", "correlation"):
        raise ValueError(f"criterion must be 'gain' or 'correlation'; got {criterion!r}.")
    if isinstance(A, torch.Tensor):
        A = DenseAtoms(A)
    if valid is None:
        valid = torch.ones(A.shape[:2], dtype=torch.bool, device=A.device)
    if check_every is None:
        check_every = 8 if A.device.type == "cpu" else 32
    if int(per_step) < 1 or (sketch is not None and int(sketch) < 1):
        raise ValueError(f"per_step and sketch must be ints >= 1; got per_step={per_step!r}, "
                         f"sketch={sketch!r}.")
    args = (list(n_nonzero), valid, lam, eps, positive, criterion, check_every, max_rounds)
    with torch.no_grad():
        if criterion == "correlation" and lam > 0 and sketch is None:
            from .omp_cholesky import Breakdown, CholeskyOMP

            try:
                return CholeskyOMP(A, b, *args, per_step=per_step).solve()
            except Breakdown:
                pass  # solve it with the basis below
        if per_step == 1 and sketch is None:
            return _BatchedOMP(A, b, *args).solve()
        from . import omp_block

        fit = None
        if sketch is not None:
            fit = (A, b)
            A, b = omp_block.sketch(A, b, int(sketch), sketch_seed)
        return omp_block.BlockOMP(A, b, *args, fit=fit, per_step=per_step).solve()


@validate_params({"A": ["array-like", torch.Tensor], "b": ["array-like", torch.Tensor],
                  "n_nonzero": [Interval(Integral, 1, None, closed="left")],
                  "lam": [Interval(Real, 0, None, closed="left")],
                  "eps": [Interval(Real, 0, None, closed="left")], "positive": ["boolean"],
                  "criterion": [StrOptions({"gain", "correlation"})],
                  "dtype": [StrOptions({"float32", "float64"}), torch.dtype],
                  "device": [str, torch.device]}, prefer_skip_nested_validation=True)
def orthogonal_matching_pursuit(A, b, n_nonzero, *, lam=0.5, eps=1e-10, positive=True,
                                criterion="gain", dtype=torch.float32, device="auto"):
    """Regularized (non-negative) orthogonal matching pursuit.

    Greedily solves ``min_w ||A_S^T w - b||^2 + lam ||w||^2`` with at most
    ``n_nonzero`` atoms (rows of ``A``) and, with ``positive=True``,
    ``w >= 0``.  See the module docstring for the algorithm.

    Parameters
    ----------
    A : array-like or torch.Tensor of shape (n_atoms, n_features)
        Candidate vectors, one per row (e.g. per-example gradients).
    b : array-like or torch.Tensor of shape (n_features,)
        Target vector (e.g. the full training gradient).
    n_nonzero : int >= 1
        Number of atoms to select (at most ``n_atoms``).
    lam : float >= 0, default=0.5
        Ridge regularization of the weights.
    eps : float >= 0, default=1e-10
        Stop early once the regularized error is at most ``eps * ||b||^2``.
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
    res = omp_batched(At.unsqueeze(0), bt.unsqueeze(0), [int(n_nonzero)], lam=lam,
                      eps=eps, positive=positive, criterion=criterion)[0]
    return res.indices.cpu().numpy(), res.weights.cpu().numpy()
