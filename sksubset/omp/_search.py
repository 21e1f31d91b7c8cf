"""One batched greedy search whose representation of the support is left to subclasses.

:class:`GreedySearch` runs ``B`` problems that advance together, up to
``per_step`` atoms each a step (a step of ``s`` atoms is generalized OMP: the
``s`` free atoms of highest score at once, so that one pass over the atoms
serves ``s`` atoms; ``s = 1`` is the exact greedy search), then fits the
weights.  ``per_step="auto"`` gives each problem its own width from its budget
(:func:`~sksubset.omp._options.atoms_per_step`): a step's block is the widest
problem's, and a narrower problem fills only its first columns.  How the chosen
atoms are represented is left to subclasses, which fill these hooks (the model
is scikit-learn's ``NewtonSolver``):

* :meth:`~GreedySearch.extend`: add a step's atoms to the representation and
  return their coordinates on the target and their new squared norms;
* :meth:`~GreedySearch.update_residual`: the residual (and what is kept from
  it) after a step;
* :meth:`~GreedySearch.forget` and :meth:`~GreedySearch.recompute`: drop a
  problem's atoms past a slot, and recompute its residual afresh;
* :meth:`~GreedySearch.rank` (correlation with the residual unless
  overridden) and :meth:`~GreedySearch.support_factor` (a Cholesky factor
  of the support's Gram matrix, if the representation is one).

:class:`~sksubset.omp._basis.BasisSearch` keeps an orthonormal basis and
:class:`~sksubset.omp._cholesky.CholeskySearch` a Cholesky factor.

Stopping and non-negativity
---------------------------
Greedy growth stops at ``k`` atoms, or when the regularized error falls to
``tol * ||b||^2``.  Progress is checked on the host only every
``check_every`` steps (a cheap look at per-step records kept on the device);
steps taken past an early stop are discarded exactly, since a prefix of the
greedy run is the greedy run with a smaller budget.

With ``positive=True`` the weights are refitted once the support is full by
non-negative least squares on the ridge-augmented system (block principal
pivoting on the ``k x k`` Gram matrix, in float64: :mod:`sksubset.omp._nnls`).
Atoms that receive weight zero are removed and banned, and their slots are
filled at once by the free atoms best correlated with the residual of the
non-negative fit; the refit and replacement repeat until no weight is zero.
(Regrowing greedily instead costs a full greedy step per replaced atom.)  The
objective never increases along these rounds, so the result holds exactly
``min(k, n)`` distinct atoms (``n`` the usable candidates) unless the
tolerance was reached first, or the candidates span fewer dimensions than
``k`` (below).  The refits are capped (``max_rounds=32``): a target that ``k``
non-negative atoms cannot reach well can make every round zero a few new
atoms, and atoms still at weight 0 after the last round stay in the result at
weight 0.  Only when every candidate has been tried are the remaining slots
filled with atoms banned for their zero weight, at weight 0, so that the count
stays exact.

Fewer atoms than the budget come back in exactly two cases besides the
tolerance, each recorded in ``OMPResult.shortfall`` (the public solvers
and the selector warn): the problem has fewer usable candidates than its
budget (``valid`` rows; without a ridge, nonzero ones), or the search cannot
add a new independent atom.  The latter needs a ridge of zero (or one below
``rtol`` of an atom's squared norm): with a ridge every augmented atom
``[a_j; sqrt(lam) e_j]`` is independent of the others, whatever the rank of
``A``.  Every threshold (``rtol``, ``tol``, the non-negative solver's) is
relative to the problem's own magnitudes, so none of this depends on the
scale of the atoms.  ``tol=0`` never stops early.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from ._nnls import masked_solve, solve_nnls
from ._options import atoms_per_step

__all__ = ["GreedySearch", "OMPResult"]

_F64 = torch.float64


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
        ``(||A_S^T w - b||^2 + ridge ||w||^2) / ||b||^2``, the ridge being the
        one solved with (``lam * s2`` for the public ``lam``, see
        ``sksubset.omp._scale``): the same at any scale of the atoms.
    converged : bool
        True when the tolerance ``tol`` was reached before the budget.
    n_rounds : int
        Number of non-negative refits made (1 when no atom was replaced).
    n_requested : int
        The budget asked for (``n_nonzero``).
    shortfall : str or None
        Why fewer than ``n_requested`` atoms came back although the tolerance
        was not reached: ``"candidates"`` (fewer usable candidates than the
        budget) or ``"span"`` (no new independent atom could be added: the
        candidates span fewer dimensions than the budget, possible only
        without a ridge); None when the budget was filled or the tolerance
        reached.
    fallback : bool
        True when the Cholesky search (``criterion="correlation"`` with
        ``lam > 0``) broke down and the problem was solved with the
        orthonormal basis instead (:func:`~sksubset.omp.omp_batched` warns).
    """

    indices: torch.Tensor
    weights: torch.Tensor
    error: float
    converged: bool
    n_rounds: int
    n_requested: int = 0
    shortfall: str | None = None
    fallback: bool = False


class GreedySearch(ABC):
    """State of ``B`` greedy problems that advance together (see the module docstring).

    Parameters
    ----------
    A : DenseAtoms or OuterProductAtoms
        Atoms of each problem, ``(B, n, d)``.
    b : torch.Tensor of shape (B, d)
        Targets.
    ks : sequence of int
        Budget of each problem.
    valid : torch.Tensor of shape (B, n), bool
        Which rows are real candidates.
    options : SearchOptions
    fit : (atoms, targets), optional
        Exact atoms and targets for the weights' fit when ``A`` and ``b`` are
        sketches of them.
    """

    #: a new direction must keep this share of its norm to count as new
    rtol = 1e-10

    def __init__(self, A, b, ks, valid, options, fit=None):
        self.A = A
        B, n, d = A.shape
        dev = A.device
        self.B, self.n, self.d = B, n, d
        self.lam, self.tol, self.positive = float(options.lam), float(options.tol), options.positive
        self.gain = options.criterion == "gain"
        self.check_every = options.steps_between_checks(dev)
        self.max_rounds = options.max_rounds
        self.ar = torch.arange(B, device=dev)
        self.b = b.to(_F64)
        self.bnorm2 = (self.b * self.b).sum(1)
        self.sq = A.sqnorms() + self.lam
        usable = valid & (self.sq > 0)
        self.banned = ~usable
        self.k_asked = [int(k) for k in ks]
        self.k_target = [min(int(k), m) for k, m in zip(ks, usable.sum(1).tolist())]
        self.kk = list(self.k_target)
        # atoms a step of each problem (a step's block holds the widest problem's)
        self.widths = [max(1, min(s, n)) for s in atoms_per_step(options.per_step,
                                                                  self.k_target)]
        self.per_step = max(self.widths + [1])
        self.width_t = torch.tensor(self.widths, device=dev)
        K = self.K = max(self.k_target + [1])
        f64 = dict(device=dev, dtype=_F64)
        # per slot (row K: a sink for idle problems): the target's coordinate, the atom, its
        # score and the share of its norm off the earlier atoms
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
        self.blocked = torch.where(self.banned, -torch.inf, 0.0).to(A.dtype)
        self.converged = [False] * B
        self.ban_order = [[] for _ in range(B)]  # atoms banned for their zero weight
        self.dependent = [False] * B  # an atom was banned as dependent on the support
        # atoms and targets of the weights' fit: the search's own, or exact ones (sketching)
        self.F, self.b_fit = (A, self.b) if fit is None else (fit[0], fit[1].to(_F64))
        self.bnorm2_fit = (self.b_fit * self.b_fit).sum(1)
        self.sq_fit = self.sq if fit is None else self.F.sqnorms() + self.lam

    # -- hooks -------------------------------------------------------------
    @abstractmethod
    def extend(self, J, pe, active, width):
        """Add the atoms ``J`` (B, s) to the support's representation at slots ``pe`` (only
        where ``active``; ``width``: slots in use).  Returns their target coordinates ``z``
        and the squared norms ``d2`` of their parts new to the support, both (B, s)."""

    @abstractmethod
    def update_residual(self, pe, z):
        """Update the residual after the step that filled slots ``pe`` with coordinates ``z``."""

    @abstractmethod
    def forget(self, bi, t):
        """Drop problem ``bi``'s support from slot ``t`` on."""

    @abstractmethod
    def recompute(self, bi):
        """Problem ``bi``'s residual afresh from its first ``pos_h[bi]`` slots."""

    def rank(self):
        """Each atom's score before signs: its correlation with the residual."""
        return self.A.correlate(self.r)

    def support_factor(self, P):
        """The Cholesky factor of the first ``P`` slots' Gram matrix, when the search has one."""
        return None

    # -- greedy growth -----------------------------------------------------
    def _score(self):
        """The score, in absolute value unless the weights are non-negative."""
        score = self.rank()
        return score if self.positive else score.abs()

    def _pick(self):
        """The step's atoms: how many each problem takes, the block's slots ``pe`` (the sink
        ``K`` where not ``active``), ``active`` (B, S), the atoms ``J`` and their scores."""
        S = self.per_step
        take = torch.minimum(torch.clamp(self.kk_t - self.pos, min=0), self.width_t)
        cols = torch.arange(S, device=self.pos.device)
        active = cols.unsqueeze(0) < take.unsqueeze(1)
        score = self._score() + self.blocked
        if S == 1:  # the first of equal scores, as the exact search has always taken
            val, j = score.max(dim=1)
            val, J = val.unsqueeze(1), j.unsqueeze(1)
        else:
            val, J = torch.topk(score, S, dim=1)
        pe = torch.where(active, self.pos.unsqueeze(1) + cols, self.K)
        return take, pe, active, val, J

    def _step(self, width):
        """One greedy step for every problem still short of its budget."""
        ar = self.ar.unsqueeze(1)
        take, pe, active, val, J = self._pick()
        z, d2 = self.extend(J, pe, active, width)
        self.z[ar, pe] = z
        self.idx[ar, pe] = J
        self.rec_val[ar, pe] = val
        self.rec_d2[ar, pe] = d2 / self.sq.gather(1, J)
        self.blocked.scatter_(1, J, torch.where(active, -torch.inf, self.blocked.gather(1, J)))
        self.pos += take
        self.update_residual(pe, z)

    def _grow(self):
        """Run greedy steps until every problem has its budget (or stopped)."""
        W = self.widths
        while True:
            todo = [k - p for k, p in zip(self.kk, self.pos_h)]
            steps = min(max(-(-t // w) for t, w in zip(todo, W)), self.check_every)
            if steps <= 0:
                return
            self.kk_t = torch.tensor(self.kk, device=self.A.device)
            for s in range(steps):
                width = max(p + min(s * w, t) for p, t, w in zip(self.pos_h, todo, W) if t > 0)
                self._step(max(width, 1))
            self._check()

    def _check(self):
        """Host-side look at the steps taken since the last check."""
        old = self.pos_h
        new = self.pos.tolist()
        hi = max(new)
        err = self.bnorm2.unsqueeze(1) - torch.cumsum(self.z[:, :hi] ** 2, 1)
        # tol=0 never stops early (the running error can round to or below zero)
        tol_hit = (err <= self.tol * self.bnorm2.unsqueeze(1)) & (self.tol > 0)
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
                else:  # numerically dependent on the support: ban it (never a filler)
                    self.banned[bi, int(self.idx[bi, t_bad])] = True
                    self.dependent[bi] = True
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
        self.forget(bi, t)
        self.z[bi, t:] = 0
        self.gram_n[bi] = min(self.gram_n[bi], t)
        self.pos[bi] = t
        self.pos_h[bi] = t
        blocked = self.banned[bi].clone()  # block the banned and chosen atoms again
        blocked[self.idx[bi, :t]] = True
        self.blocked[bi] = torch.where(blocked, -torch.inf, 0.0).to(self.A.dtype)
        self.recompute(bi)

    # -- weights -----------------------------------------------------------
    def _replace(self, bi, zero, w):
        """Ban problem ``bi``'s zero-weight atoms and fill their slots at once.

        The newcomers are the free atoms best correlated with the residual of
        the non-negative fit (normalized like the greedy score): the atoms
        that would lower the non-negative objective fastest.  The support's
        Gram block is kept, so the next refit only adds the newcomers' rows;
        the greedy search's representation is not rebuilt (growth is over
        once weights are fit).
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
        score = self.F.project(bi, residual.unsqueeze(0))[:, 0].to(_F64)
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

    def _update_gram(self):
        """Add the Gram rows of atoms chosen since the last refit."""
        if not any(self.gram_n):  # the first refit: every problem's block in one product
            self._first_gram()
            return
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

    def _first_gram(self):
        """Every problem's Gram block and ``A_S b`` in one batched product (small problems)."""
        P = max(self.pos_h + [1])
        parts = self.F.parts(self.ar.unsqueeze(1), self.idx[:, :P])
        mask = (torch.arange(P, device=self.G.device) < self.pos.unsqueeze(1)).to(_F64)
        G = self.F.parts_cross(parts, parts) * (mask.unsqueeze(2) * mask.unsqueeze(1))
        G += torch.diag_embed(self.lam * mask)
        self.G[:, :P, :P] = G
        self.h[:, :P] = self.F.parts_dot(parts, self.b_fit) * mask
        self.gram_n = list(self.pos_h)

    @staticmethod
    def _objective(G, h, w, bnorm2):
        """Regularized error ``||b||^2 - 2 h.w + w^T G w`` of each problem."""
        quad = (w * torch.bmm(G, w.unsqueeze(2)).squeeze(2)).sum(1)
        return bnorm2 - 2 * (h * w).sum(1) + quad

    def solve(self):
        """Grow every support, fit the weights (replacing zero-weight atoms), return one
        :class:`OMPResult` per problem."""
        self._grow()
        rounds = 0
        w = torch.zeros(self.B, self.K, device=self.G.device, dtype=_F64)
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
            wt = solve_nnls(G, h, mask[ti], factor=self.support_factor(P) if rounds == 1 else None)
            w[ti] = 0
            w[ti, :P] = wt
            zero = (mask[ti] & (wt <= 0)).cpu().numpy()
            bn2 = self.bnorm2_fit[ti]
            done_tol = ((self._objective(G, h, wt, bn2) <= self.tol * bn2)
                        & (self.tol > 0)).tolist()
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
        rel = (obj / self.bnorm2_fit.clamp_min(torch.finfo(_F64).tiny)).tolist()
        for bi in range(self.B):
            t = self.pos_h[bi]
            idx, wb = self.idx[bi, :t], w[bi, :t]
            short = self.k_target[bi] - t
            if short > 0 and not self.converged[bi]:
                # every candidate was tried: fill with atoms banned for weight 0, at weight 0
                chosen = set(idx.tolist())
                fill = [a for a in self.ban_order[bi] if a not in chosen][:short]
                idx = torch.cat([idx, torch.as_tensor(fill, device=idx.device, dtype=idx.dtype)])
                wb = torch.cat([wb, wb.new_zeros(len(fill))])
            shortfall = None
            if len(idx) < self.k_asked[bi] and not self.converged[bi]:
                shortfall = ("span" if self.dependent[bi] and len(idx) < self.k_target[bi]
                             else "candidates")
            out.append(OMPResult(idx, wb, rel[bi], self.converged[bi], rounds,
                                 self.k_asked[bi], shortfall))
        return out
