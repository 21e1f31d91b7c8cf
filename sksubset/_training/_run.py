"""Algorithm 1 of GRAD-MATCH (Killamsetty et al., ICML 2021), inside skorch's own loop.

With the epoch layout of a :class:`~sksubset.schedule.Schedule` (``T_f`` warm
epochs, then the subset epochs, a selection at each of its
``selection_epochs``), one fit trains::

    for each trained epoch t:                       # one skorch partial_fit
        if t is a warm epoch:
            train one epoch on all the data         # the warm start
        else:
            if t is a selection epoch of the schedule, or an adaptive selector says so:
                S, w = selector.select(context)     # a weighted subset of the pool
            train one epoch on S, each loss weighted by w

:meth:`SubsetRun.begin_epoch` is that loop's body: skorch calls it (through
the :class:`~sksubset._training._skorch.SubsetSchedule` callback) before
training each epoch on the :class:`~sksubset._training._dataset.SubsetDataset`,
whose rows and weights it swaps at a selection.  Everything else is a
collaborator the run calls: the wall-clock (:mod:`._timing`), data-parallel
agreement across processes (:mod:`sksubset.distributed`), divergence checks
(:mod:`._checks`), the progress bar (:mod:`sksubset._utils.progress`) and the
harvest of what training computed (:mod:`._harvest`).

Where a round's factors come from
---------------------------------
A selector asks the :class:`~sksubset.selectors.SelectionContext` for the
last-layer factors of some pool rows.  Rows trained since the last round
(``context.free``; after the warm start, every row) come from the
:class:`~._harvest.Harvest`: their logits and last-layer inputs as the
latest training mini-batch that held them computed them (train mode, before
that batch's step, the transformed input of a Dataset with a transform); the
others from one forward pass over just those rows, in eval mode.  Each record
of ``selection_history_`` counts the rows of each source (``n_harvested``,
``n_forward``).  In a data-parallel run of several processes (and with a
:class:`~sksubset.data.SelectionView`, whose selection reads other inputs than
training) there is no harvest: every round is a forward pass, sharded across
the processes as before, and ``context.free`` is empty; an Accelerate run of
one process harvests as a plain net does.  Only the epoch before each scheduled
round keeps what it computes (it trains the whole subset, so it holds every row
trained since the last round), or every epoch from the last warm one for an
adaptive selector; a selector that reads no factors (RANDOM) keeps nothing.
"""

import math

import numpy as np
import torch

from .._utils.progress import EpochBar
from ..data import Examples
from ..distributed import processes_of
from ..exceptions import DivergenceError
from ..gradients import last_layer_params
from ..selectors import SelectionContext
from ._checks import divergence_error, position
from ._harvest import Harvest
from ._skorch import SubsetSchedule, skip_lr_epochs
from ._timing import Clock

__all__ = ["SubsetRun"]


class SubsetRun:
    """One fit's Algorithm 1 (see the module docstring).

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Initialized, with a :class:`SubsetSchedule` callback and a weighted
        criterion.
    dataset : SubsetDataset
        The training pool, as the net trains on it.
    schedule : Schedule
        The only source of warm and selection epochs.
    selector : BaseSelector
    subset_size : int
        ``k``, the budget of every round.
    pool : ndarray
        Indices of the pool's rows in the data given to ``fit`` (for the records).
    valid : Examples or None
        The held-out examples whose gradient the selection matches, if any.
    rng : numpy.random.RandomState
        The selections' random state (the same on every process).
    n_classes : int
    groups : ndarray of int or None
        Each pool row's group for the selectors (``SelectionContext.y``);
        ``None``: the dataset's labels.  A regressor's rows form one group.
    per_batch : bool
    verbose : int
        The estimator's (see :mod:`sksubset._utils.progress`).
    setup_seconds : float
        Wall-clock spent before training, for ``timing_``.
    """

    def __init__(self, net, dataset, schedule, selector, *, subset_size, pool, valid, rng,
                 n_classes, per_batch, verbose, groups=None, setup_seconds=0.0):
        self.net, self.dataset, self.schedule, self.selector = net, dataset, schedule, selector
        self.subset_size, self.pool, self.valid, self.rng = subset_size, pool, valid, rng
        self.n_classes, self.per_batch = n_classes, per_batch
        self.groups = dataset.y.numpy() if groups is None else np.asarray(groups)
        self.processes = processes_of(net, self._where)  # one, or the ranks of a data-parallel run
        # what training computed, kept for the rounds (one process, selection as trained)
        harvest = (self.processes.world_size == 1 and selector.uses_last_layer
                   and getattr(dataset.X, "selected_as_trained", True))
        self.harvest = Harvest(len(dataset.y), self.processes.device) if harvest else None
        self.rows = {"n_harvested": 0, "n_forward": 0}  # of the current selection step
        self.clock = Clock(self.processes.device, setup_seconds)
        self.bar = EpochBar(schedule, subset_size, len(dataset.y),
                            verbose if self.processes.is_main else 0, net.verbose)
        self.history = []  # selection_history_
        self.selector_state = {}  # what the selector keeps between rounds (context.run_state)
        self.epoch = 0  # trained epochs so far
        self.phase = None  # of the epoch being trained
        self.harvesting = False  # whether the epoch being trained keeps what it computes
        # seeds of the selection loaders' generators, drawn from no stream
        self.seed, self.n_passes = torch.initial_seed(), 0

    def train(self):
        """Train the whole schedule in one ``partial_fit``; return self."""
        callback = next(cb for _, cb in self.net.callbacks_ if isinstance(cb, SubsetSchedule))
        callback.run = self
        try:
            self.net.partial_fit(self.dataset, None, epochs=self.schedule.n_trained)
        except RuntimeError as exc:  # a failed collective of a data-parallel step, named
            error = self.processes.training_failed(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            callback.run = None  # the fitted net keeps no reference to the data
            if self.harvest is not None:
                self.harvest.close()
                self.harvest = None  # nor to its buffers
            self.clock.lap(self._training_part())
            self.bar.close()
        self.bar.summary(self.clock.timing(), len(self.history))
        return self

    # -- Algorithm 1 --------------------------------------------------------------
    def begin_epoch(self, net):
        """Before trained epoch ``t``: at a selection, swap the dataset to the new subset."""
        t, schedule = self.epoch, self.schedule
        phase = schedule.phase(t)  # a warm epoch trains on the whole pool, weights 1
        if phase == "subset":
            if t == schedule.warm_epochs:  # the warm start paid for the skipped epochs
                skip_lr_epochs(net, schedule.skipped_epochs)
            reason = self._reason(t)
            if reason is not None:
                self._select(reason)
        self.phase = phase
        self.harvesting = self.harvest is not None and self._harvests(t)
        net.history.record("phase", phase)
        net.history.record("subset_size", len(self.dataset))

    def _harvests(self, t):
        """Whether epoch ``t`` keeps what it computes: the epoch before a scheduled round
        (its subset is trained whole every epoch, so the latest epoch holds every row trained
        since the last round), or every epoch from the last warm one for an adaptive selector."""
        if self.selector.adaptive:
            return t + 1 >= self.schedule.warm_epochs
        return t + 1 in self.schedule.selection_epochs

    def _reason(self, t):
        """Why to select before subset epoch ``t``, or None."""
        if t == self.schedule.selection_epochs[0]:
            return "first"
        if self.selector.adaptive:  # it decides between its rounds, not the schedule
            return self.processes.agree(self._step(self.selector.check)[0],
                                        "agreeing on whether to select")
        if t in self.schedule.selection_epochs:
            return "schedule"
        return None

    def _select(self, reason):
        """A selection round: the same subset on every process, trained from now on."""
        self.bar.status("select")
        own, seconds, gradient_seconds = self._step(self.selector.select)
        selection = self.processes.agree(own)
        self.dataset.set_subset(selection.indices, selection.weights)
        if self.harvest is not None:
            self.harvest.reset()  # rows trained from now on are the next round's free rows
        record = {"epoch": self.epoch, "indices": self.pool[selection.indices],
                  "weights": np.asarray(selection.weights, dtype=np.float64),
                  "gradient_error": selection.info.get("gradient_error"), "seconds": seconds,
                  "gradient_seconds": gradient_seconds,
                  "solver_seconds": seconds - gradient_seconds, "reason": reason,
                  **self.rows}
        record.update({key: v for key, v in selection.info.items() if key not in record})
        self.history.append(self.processes.record_costs(record, own))
        self.bar.selected(record)

    # -- what a selector sees of the run ---------------------------------------------
    def _step(self, step):
        """Run ``step(context)`` timed: returns its result, seconds and forward-pass seconds."""
        self.clock.lap(self._training_part())
        self.rows = dict.fromkeys(self.rows, 0)
        return self.clock.selection(step, self._context())

    def _context(self):
        valid = self.valid
        return SelectionContext(
            y=self.groups, n_classes=self.n_classes, budget=self.subset_size,
            batch_size=self.net.batch_size, per_batch=self.per_batch, rng=self.rng,
            epoch=self.epoch, device=self.processes.device, train_fn=self._pool_factors,
            params_fn=lambda: last_layer_params(self.net.module_),
            valid_fn=None if valid is None else (lambda: self._factors(valid)),
            free=np.empty(0, np.int64) if self.harvest is None else self.harvest.free(),
            run_state=self.selector_state)

    def _pool_factors(self, idx):
        """Factors of pool rows ``idx`` (None: all): harvested where trained since the last
        round, else from one forward pass over just the others."""
        examples = Examples(self.dataset.X, self.dataset.y)

        def forward(rows):
            return self._forward(examples if rows is None else examples.take(rows))

        try:
            if self.harvest is None:
                ll, n_harvested, n_forward = forward(idx), 0, len(examples if idx is None else idx)
            else:
                ll, n_harvested, n_forward = self.harvest.factors(
                    idx, self.dataset.y, self.net.criterion_, forward)
        except DivergenceError as exc:
            raise self._diverged(f"at its selection, {exc}", selecting=True) from None
        self.rows["n_harvested"] += n_harvested
        self.rows["n_forward"] += n_forward
        return ll

    def _factors(self, examples):
        """Last-layer factors of ``examples`` (:meth:`_forward`), a divergence named."""
        try:
            return self._forward(examples)
        except DivergenceError as exc:
            raise self._diverged(f"at its selection, {exc}", selecting=True) from None

    def _forward(self, examples):
        """One forward pass over ``examples``, every process its share."""
        self.n_passes += 1
        return self.clock.forward(self.processes.last_layer, self.net, examples,
                                  seed=self.seed + self.n_passes)

    # -- collaborators' hooks ---------------------------------------------------------
    def _training_part(self):
        return "warm_start" if self.phase == "warm" else "subset_training"

    def _where(self, selecting):
        """``(epoch, selection_round, position)`` for an error: the 1-based epoch being
        trained (or selected for), its round (the one being selected, or whose subset is
        trained; None in the warm start) and :func:`position`'s words."""
        epoch = min(self.epoch, self.schedule.n_trained - 1)
        if epoch < 0:  # nothing to train
            return None, None, "before training"
        selection_round = len(self.history) + selecting
        warm = self.schedule.phase(epoch) == "warm"
        return (epoch + 1, None if warm or not selection_round else selection_round,
                position(self.schedule, epoch, selection_round))

    def _diverged(self, what, selecting=False, before_step=False):
        X = getattr(self.dataset.X, "X", None)  # in-memory array rows (not a Dataset's)
        where = position(self.schedule, self.epoch, len(self.history) + selecting)
        return divergence_error(where, what, self.net.lr, X, self.dataset.y, before_step)

    def begin_batch(self, net):
        if self.harvesting:
            self.harvest.begin_batch(net.module_)

    def end_batch(self, net, batch):
        if self.harvesting:
            target = batch[1]  # (y, weight, row) as the SubsetDataset yields it
            self.harvest.end_batch(target[2] if isinstance(target, (tuple, list))
                                   and len(target) == 3 else None)
        loss = net.history[-1, "batches", -1, "train_loss"]
        if not math.isfinite(loss):
            first = self.epoch == 0 and len(net.history[-1, "batches"]) == 1
            raise self._diverged(f"the training loss became {loss}", before_step=first)

    def end_epoch(self, net):
        self.epoch += 1
        self.bar.advance(self.phase, net.history[-1].get("train_loss"))
