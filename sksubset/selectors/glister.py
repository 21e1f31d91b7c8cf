"""GLISTER (Killamsetty et al., AAAI 2021): the subset whose gradient step helps validation most.

GLISTER-ONLINE chooses the subset ``S`` (``|S| = k``, equal weights) that
minimizes the validation loss after one gradient step on ``S``::

    min_S  L_V(theta_S),     theta_S = theta - eta * sum_{i in S} g_i

greedily, with a Taylor approximation of each marginal gain: adding ``i`` to
``S`` changes ``L_V`` by ``-eta g_i . grad L_V(theta_S)`` to first order, so
each step picks::

    i* = argmax_{i not in S}  g_i . grad L_V(theta_S)

and then *re-linearizes*: it moves ``theta_S`` by ``-eta g_i*`` and recomputes
the validation gradient there.  (DeepCore's GLISTER computes the validation
gradient once and never updates it, which reduces to a static top-k of
``g_i . grad L_V(theta)``; the re-linearization is what makes the choice
diverse: once a direction has been "spent", the validation examples it fixed
stop pulling.)

Re-linearization in a training run
----------------------------------
Only the last layer moves (``theta`` = its weights and bias, the gradients of
:mod:`sksubset.gradients`), so the validation gradient at ``theta_S`` is exact
and cheap: with ``Delta`` the accumulated change of the last layer, the logits
of validation example ``v`` become ``z_v + Delta [1, h_v]`` and::

    grad L_V(theta_S) = mean_v  e_v(theta_S) (x) [1, h_v],
    e_v(theta_S) = e_v + softmax(z_v + Delta [1, h_v]) - softmax(z_v)

(``e_v`` the loss-gradient of the net's criterion at ``theta``; the correction
is exact for cross-entropy, with or without label smoothing, and ignores
class weights).  For a regressor, ``e_v(theta_S)`` is its loss's gradient at
the moved outputs, in closed form (``2 (yhat_v - y_v) / d`` for the squared
loss), and the validation loss is the net's own.  This costs ``O((n_val + n) C H)``
per re-linearization.

``update_every`` re-linearizes after that many picks (the picks in between
are the next best of the same gains, CORDS's "RGreedy" with ``k /
update_every`` rounds); the default 1 is the exact greedy of the paper and
CORDS.  ``update_every >= k`` is the static top-k.

Validation data
---------------
The held-out data of the run (``SubsetTrainingClassifier(valid_size=...)``)
when there is some; otherwise a random ``valid_size`` share of the training pool,
drawn anew each round, stands in for it (CORDS holds out 10% of the training
data as GLISTER's validation set), so that ``L_V`` estimates the training
loss.  Each re-linearization costs ``O(n_val C H)``, which is why the stand-in
is a sample rather than the whole pool.

Candidates
----------
``optimizer="naive"`` scores every remaining candidate at each step;
``optimizer="stochastic"`` scores ``ceil((n / k) log(1 / epsilon))`` random
remaining candidates per step (stochastic greedy, CORDS's "Stochastic"
option, ``epsilon=0.01`` there), ``O(n log(1/epsilon))`` scores in all.

Standalone ``fit``
------------------
A bare gradient matrix ``G`` carries no logits, so the re-linearization above
is impossible.  :meth:`~sksubset.GlisterSelector.fit` instead uses the second-order
model with identity Hessian, ``L_V(theta + Delta) = L_V(theta) + target .
Delta + ||Delta||^2 / 2``, whose gradient at ``theta_S`` is exactly ``target -
eta sum_{j in S} g_j``; the greedy is the same as above with::

    i* = argmax_{i not in S}  g_i . (target - eta sum_{j in S} g_j)

i.e. matching pursuit of the target with fixed step ``eta``.  ``target`` is
the gradient of the *mean* validation loss; by default the mean of ``G``'s
rows (GLISTER without validation data).
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._submodular import greedy_picks
from .._utils.budget import BUDGET_CONSTRAINTS, resolve_budget, split_budget
from .._utils.validation import DTYPES, check_labels, check_matrix, check_target
from ..gradients import LastLayer
from ._base import BaseSelector, Selection
from ._checks import check_holdout, check_last_layer
from ._glister_greedy import relinearizing_greedy, valid_loss, warn_if_uninformative
from ._rows import group_rows

__all__ = ["GlisterSelector"]

_OPTIMIZERS = ("naive", "stochastic")


class GlisterSelector(BaseSelector):
    """GLISTER-ONLINE: greedy subset maximizing the one-step validation improvement.

    Parameters
    ----------
    budget : float in (0, 1] or int >= 1, default=0.1
        Fraction of the rows, or number of rows, to select.
    eta : float > 0, default=0.03
        Step size of the one-step update ``theta_S = theta - eta sum_S g_i``
        (of the order of the training learning rate, as in the paper).  The
        larger, the sooner a direction is spent and the more diverse the
        subset; ``eta -> 0`` gives the static top-k.
    update_every : int >= 1, default=1
        Re-linearize after this many picks (1: the exact greedy).
    optimizer : {"naive", "stochastic"}, default="stochastic"
        Score every remaining candidate at each step, or
        ``ceil((n / k) log(1 / epsilon))`` random ones (stochastic greedy, the
        default of CORDS's GLISTER configurations).
    epsilon : float in (0, 1), default=0.01
        Stochastic greedy's accuracy (CORDS: 0.01).
    per_class : bool, default=True
        One problem per class, the budget split in proportion to class sizes
        (every class gets one pick at least when the budget allows),
        each class matching its own validation examples (the training pool's
        own class examples when the validation data lack that class).  Without
        labels (``fit`` on a matrix with ``y=None``): one problem over all rows.
    valid_size : float in (0, 1) or int >= 1, default=0.1
        In a training run without held-out data: the share (or number) of the
        training pool drawn at random each round to stand in for the
        validation set.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to compute; ``"auto"`` is where the input lives.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computations.
    random_state : int, RandomState instance or None, default=None
        Seeds the stochastic greedy of :meth:`fit` (the naive greedy is
        deterministic).  In a training run the run's own generator is used.

    Attributes
    ----------
    indices_ : ndarray of shape (n_selected,)
        Selected rows, in greedy order (grouped by class with ``per_class``).
    weights_ : ndarray of shape (n_selected,)
        ``n_samples / n_selected`` each: GLISTER does not weight, and every
        selected row stands for as many rows (the meaning of
        :class:`~sksubset.selectors.BaseSelector`).
    gains_ : ndarray of shape (n_selected,)
        First-order gain ``g_i . grad L_V(theta_S)`` of each pick when it was
        made.
    classes_ : ndarray
        Classes of ``y`` (only with ``per_class`` and labels).
    n_features_in_ : int
    n_samples_fit_ : int

    Notes
    -----
    :meth:`fit` on a bare gradient matrix cannot re-linearize a loss it does
    not know; it uses the identity-Hessian model described in
    :mod:`sksubset.selectors.glister`.  :meth:`select` (training runs)
    re-linearizes the true validation loss of the net's last layer.  When
    every gain is zero (zero gradients), the picks are arbitrary and a
    warning says so.

    Examples
    --------
    >>> import numpy as np
    >>> from sksubset.selectors.glister import GlisterSelector
    >>> G = np.array([[1.0, 0.0], [0.99, 0.0], [0.0, 0.9], [-1.0, 0.0]])
    >>> target = np.array([1.0, 1.0])
    >>> GlisterSelector(budget=2, eta=1.0).fit(G, target=target).indices_
    array([0, 2])
    >>> GlisterSelector(budget=2, eta=1e-6).fit(G, target=target).indices_  # static top-k
    array([0, 1])
    """

    _parameter_constraints = {
        "budget": BUDGET_CONSTRAINTS,
        "eta": [Interval(Real, 0, None, closed="neither")],
        "update_every": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "epsilon": [Interval(Real, 0, 1, closed="neither")],
        "per_class": ["boolean"],
        "valid_size": [Interval(Real, 0, 1, closed="neither"),
                       Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(DTYPES))],
        "random_state": ["random_state"],
    }

    def __init__(self, budget=0.1, eta=0.03, update_every=1, optimizer="stochastic",
                 epsilon=0.01, per_class=True, valid_size=0.1, device="auto", dtype="float32",
                 random_state=None):
        self.budget = budget
        self.eta = eta
        self.update_every = update_every
        self.optimizer = optimizer
        self.epsilon = epsilon
        self.per_class = per_class
        self.valid_size = valid_size
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def _greedy_kwargs(self, rng):
        return dict(update_every=self.update_every, optimizer=self.optimizer,
                    epsilon=self.epsilon, rng=rng)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, G, y=None, *, target=None):
        """Select rows of ``G`` greedily under the identity-Hessian model.

        Or, given a net's last-layer gradients and held-out ones as
        ``target``, by GLISTER's exact re-linearization of the held-out loss,
        as in a training run.

        Parameters
        ----------
        G : array-like, torch.Tensor or LastLayer of shape (n_samples, n_features)
            One (training) gradient per candidate; or a net's last-layer
            gradients as factors
            (:func:`sksubset.gradients.last_layer_gradients`), on which every
            product is taken without forming the gradients (the selection of
            ``G.dense()``, up to float ties).
        y : array-like of shape (n_samples,), default=None
            Class labels (``None``: one problem over all rows).  A
            ``LastLayer`` carries its labels (``y`` must be those, or None).
        target : array-like, torch.Tensor or LastLayer, default=None
            Gradient of the mean validation loss at the current parameters,
            shape ``(n_features,)``, or ``(n_classes, n_features)`` with
            ``per_class`` (classes in sorted order).  ``None``: the mean of
            ``G``'s rows (of each class's rows with ``per_class``).  When
            ``G`` is a ``LastLayer``, ``target`` may be the same net's
            last-layer gradients on held-out data: the greedy then
            re-linearizes their loss after each pick (the module docstring),
            per class with ``per_class``.

        Returns
        -------
        self
        """
        device = self._device(G)
        dtype = DTYPES[self.dtype]
        rng = check_random_state(self.random_state)
        ll = None
        if isinstance(G, LastLayer):
            ll, y = check_last_layer(G, y, device, dtype)
            n, d = ll.shape
        elif isinstance(target, LastLayer):
            check_holdout(target, None, device, dtype)
        else:
            Gt = check_matrix(G, device, dtype)
            n, d = Gt.shape
            y = check_labels(y, n, required=False)
        k = resolve_budget(self.budget, n)
        classes, rows = group_rows(y if self.per_class else None, n)
        if isinstance(target, LastLayer):
            valid = check_holdout(target, ll, device, dtype)
            indices, gains = self._relinearized(ll, valid, y, k, ll.E.shape[1], rng, device,
                                                dtype)
        else:
            if target is not None:
                target = check_target(target, (d,) if classes is None else (len(rows), d),
                                      device, dtype)
            indices, gains = self._identity_hessian(Gt if ll is None else ll, rows, k, target,
                                                    rng, device)
        self.indices_ = indices
        self.weights_ = np.full(len(indices), n / len(indices))
        self.gains_ = gains
        warn_if_uninformative(self.gains_)
        if classes is not None:
            self.classes_ = classes
        self.n_features_in_ = d
        self.n_samples_fit_ = n
        return self

    def _identity_hessian(self, G, rows, k, target, rng, device):
        """The greedy of :meth:`fit` under the identity-Hessian model, per group of ``rows``.

        ``G`` is a gradient matrix or a :class:`LastLayer`, on which the
        residual ``target - eta sum_S g_j`` is kept as a ``(C, H + 1)``
        matrix and every product comes from the factors.  ``target``: one row
        per group, or None for each group's mean gradient.
        """
        ks = split_budget(k, [len(r) for r in rows]).tolist()
        idx, gains = [], []
        for c, (r, kc) in enumerate(zip(rows, ks)):
            if kc == 0:
                continue
            rt = torch.as_tensor(r, device=device)
            if isinstance(G, LastLayer):
                Ec, Hc = G.E[rt], G.Hb[rt]
                shape = (Ec.shape[1], Hc.shape[1])
                state = {"r": Ec.T @ Hc / len(r) if target is None else target[c].view(shape)}

                def score(cols, Ec=Ec, Hc=Hc, state=state):
                    return ((Hc[cols] @ state["r"].T) * Ec[cols]).sum(1)

                def update(new, Ec=Ec, Hc=Hc, state=state):
                    state["r"] = state["r"] - self.eta * (Ec[new].T @ Hc[new])
            else:
                Gc = G[rt]
                state = {"r": Gc.mean(0) if target is None else target[c]}

                def score(cols, Gc=Gc, state=state):
                    return Gc[cols] @ state["r"]

                def update(new, Gc=Gc, state=state):
                    state["r"] = state["r"] - self.eta * Gc[new].sum(0)

            p, g = greedy_picks(len(r), kc, score, update, device=device,
                                **self._greedy_kwargs(rng))
            idx.append(r[p])
            gains.append(g)
        return np.concatenate(idx).astype(np.int64), np.concatenate(gains)

    def _relinearized(self, ll, valid, y, k, n_classes, rng, dev, dtype):
        """GLISTER with exact re-linearization of the loss on ``valid`` (module docstring).

        ``ll``: candidates' last-layer quantities, ``y`` their labels
        (``0 .. n_classes-1``), ``valid``: the validation examples'.  Per
        class with ``per_class`` (a class that ``valid`` lacks is matched to
        its own candidates).  Returns the picks (rows of ``ll``) and their
        gains.
        """

        def cast(x):
            return x.to(device=dev, dtype=dtype)

        E, Hb = cast(ll.E), cast(ll.Hb)
        Ev, Hbv, Zv, yv = cast(valid.E), cast(valid.Hb), cast(valid.Z), valid.y.to(dev)
        n = len(ll)
        if self.per_class:
            yv_np = yv.cpu().numpy()
            groups = []
            for c in range(n_classes):
                r = np.flatnonzero(y == c)
                if not len(r):
                    continue
                vr = np.flatnonzero(yv_np == c)
                groups.append((r, vr if len(vr) else None))
        else:
            groups = [(np.arange(n), None)]
        ks = split_budget(k, [len(r) for r, _ in groups]).tolist()
        idx, gains = [], []
        for (r, vr), kc in zip(groups, ks):
            if kc == 0:
                continue
            rt = torch.as_tensor(r, device=dev)
            if self.per_class:
                # the class's validation examples, or its own training examples
                src = (Ev, Hbv, Zv) if vr is not None else (cast(ll.E), cast(ll.Hb), cast(ll.Z))
                vt = torch.as_tensor(vr if vr is not None else r, device=dev)
                ev, hv, zv = (s[vt] for s in src)
                rows = (valid if vr is not None else ll)[vt]
            else:
                ev, hv, zv = Ev, Hbv, Zv
                rows = valid
            gradient_at = None  # cross-entropy's correction of E, in the greedy
            if rows.loss is not None:  # a regressor's loss, in closed form
                target = cast(rows.target)

                def gradient_at(Z, loss=rows.loss, target=target):
                    return loss.gradient(Z, target)

            p, g = relinearizing_greedy(E[rt], Hb[rt], ev, hv, zv, kc, eta=self.eta,
                                         gradient_at=gradient_at, **self._greedy_kwargs(rng))
            idx.append(r[p])
            gains.append(g)
        return np.concatenate(idx).astype(np.int64), np.concatenate(gains)

    def select(self, context):
        """One GLISTER round of a training run (see the module docstring).

        Uses ``context.valid()`` as the validation set, or a random
        ``valid_size`` sample of the training pool when there is none; ignores
        ``context.per_batch``.  ``info`` records which (``validation``:
        ``"holdout"`` or ``"train-sample"``) and the mean
        validation cross-entropy before and after the one-step update on the
        chosen subset (``valid_loss``, ``valid_loss_after_step``).
        """
        ll = context.train()
        valid = context.valid()
        source = "holdout" if valid is not None else "train-sample"
        if valid is None:
            m = resolve_budget(self.valid_size, len(ll))
            sample = np.sort(context.rng.choice(len(ll), m, replace=False))
            valid = ll[torch.as_tensor(sample, device=ll.E.device)]
        dev = self._device(ll.E)
        dtype = DTYPES[self.dtype]
        indices, gains = self._relinearized(ll, valid, context.y, min(context.budget, len(ll)),
                                            context.n_classes, context.rng, dev, dtype)
        warn_if_uninformative(gains)

        def cast(x):
            return x.to(device=dev, dtype=dtype)

        E, Hb = cast(ll.E), cast(ll.Hb)
        Zv, Hbv, yv = cast(valid.Z), cast(valid.Hb), valid.y.to(dev)
        it = torch.as_tensor(indices, device=dev)
        info = {"validation": source,
                "valid_loss": (float(torch.nn.functional.cross_entropy(Zv.double(), yv))
                               if valid.loss is None else float(valid.losses(Zv.double()).mean())),
                "valid_loss_after_step": valid_loss(Zv, Hbv, yv, E[it], Hb[it], self.eta,
                                                    None if valid.loss is None else valid.losses)}
        return Selection(indices, np.full(len(indices), len(ll) / len(indices)), info)
