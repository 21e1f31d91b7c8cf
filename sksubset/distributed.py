"""Selection rounds of a net trained data-parallel across processes.

A :class:`~sksubset.SubsetTrainingClassifier` whose net uses skorch's
:class:`~skorch.hf.AccelerateMixin` (Hugging Face Accelerate) runs the same
``fit`` in every process that ``accelerate launch`` or ``torchrun`` started.
Training is data parallel: Accelerate hands each process its share of the
mini-batches of the current subset (each example with its selection weight)
and averages the gradients.  A selection round is computed once, consistently
on every process:

1. every rank computes the last-layer factors ``E``, ``Hb`` and the logits
   of a contiguous shard of the candidates (``n / world_size`` rows each),
   with its own copy of the module, outside the data-parallel wrapper;
2. the factors are gathered, in row order, on every rank: ``n x (2 C + H + 1)``
   numbers, a few megabytes even for 50 000 candidates;
3. every rank runs the same selector on the same factors with the same random
   state (made equal across ranks at the start of ``fit``);
4. rank 0's :class:`~sksubset.selectors.Selection` (indices and weights, ``k``
   of each) is broadcast, so that all ranks train on exactly the same subset
   even if a device's arithmetic made a solve differ; ``solves_agree`` in the
   round's record says whether it did.

Each round's record carries the cost of every rank: ``rank_seconds``,
``rank_gradient_seconds``, ``rank_solver_seconds`` and ``rank_rows`` (the
candidates each rank forwarded for the round, and for an adaptive selector's
checks since the previous one).  Its ``seconds``, ``gradient_seconds`` and
``solver_seconds`` are rank 0's, so that all ranks hold the same
``selection_history_``; ``timing_`` stays each rank's own.

Mixed precision (``Accelerator(mixed_precision=...)``) is not covered: the
selection forward pass runs through the module as Accelerate prepared it.

``processes_of`` picks the right behaviour for a net: a net without an
``accelerator`` runs in one process and nothing here communicates.

Faults
------
A collective operation that fails, in a selection round (the gather of the
factors, the agreement on the subset, the exchange of the round's costs), at
the start of ``fit`` (the agreement on the random state) or in a training step
(the gradient all-reduce), raises :class:`~sksubset.exceptions.DataParallelError`
naming this process's rank, the number of processes, the epoch and the
selection round, with the backend's error chained.  Another process that
exits or crashes is noticed at once; one that is paused or hung, after the
process group's timeout, which the user sets where the group is created
(``accelerate.utils.InitProcessGroupKwargs(timeout=...)`` in the
``Accelerator``'s ``kwargs_handlers``, or
``torch.distributed.init_process_group(timeout=...)``); torch's default is
30 minutes for gloo and 10 for NCCL.

Use :class:`AcceleratedNetClassifier` as the net class: it is skorch's
``AccelerateMixin`` on ``NeuralNetClassifier``, except that a criterion
without trainable parameters is moved to the device instead of being prepared
by Accelerate (on several CPU processes, Accelerate would wrap it in
``DistributedDataParallel``, which refuses modules without parameters), and
``verbose=0`` silences the epoch log (the mixin prints it through
``accelerator.print`` whatever ``verbose`` says).
"""

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.hf import AccelerateMixin  # does not import accelerate itself

from .exceptions import DataParallelError
from .gradients import LastLayer, last_layer

# the public name; ``processes_of`` and the process classes serve the training run
__all__ = ["AcceleratedNetClassifier"]


class AcceleratedNetClassifier(AccelerateMixin, NeuralNetClassifier):
    """``NeuralNetClassifier`` with skorch's ``AccelerateMixin`` that also runs on CPU processes.

    Takes the parameters of :class:`skorch.NeuralNetClassifier` plus
    ``accelerator`` (an ``accelerate.Accelerator``); leave ``device=None``.

    Examples
    --------
    Run with ``accelerate launch --multi_gpu --num_processes 2 train.py`` on
    two GPUs, or ``torchrun --nproc_per_node 2 train.py`` (add ``cpu=True`` to
    the ``Accelerator`` for CPU processes)::

        from accelerate import Accelerator
        from sksubset import SubsetTrainingClassifier
        from sksubset.distributed import AcceleratedNetClassifier

        net = AcceleratedNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
                                       accelerator=Accelerator(), max_epochs=20)
        clf = SubsetTrainingClassifier(net, budget=0.1, random_state=0).fit(X, y)
    """

    def _initialize_callbacks(self):
        if self.callbacks__print_log__sink == "auto" and not self.verbose:
            self.callbacks__print_log__sink = _silent
        return super()._initialize_callbacks()

    def _initialize_accelerator(self):
        if self._wrapped_with_accelerator:
            return self
        criteria = list(self._criteria)
        plain = [name for name in criteria
                 if isinstance(getattr(self, name + "_"), torch.nn.Module)
                 and not any(p.requires_grad for p in getattr(self, name + "_").parameters())]
        for name in plain:
            getattr(self, name + "_").to(self.accelerator.device)
        self._criteria = [name for name in criteria if name not in plain]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria


def _silent(*args, **kwargs):
    """A print that prints nothing (the epoch log of a quiet accelerated net)."""


def processes_of(net, where=None):
    """How the selection rounds of ``net`` are computed.

    Parameters
    ----------
    net : skorch.NeuralNet
    where : callable or None
        ``where(selecting)`` returns the run's ``(epoch, selection_round,
        position)`` for a fault's message (see :meth:`AcceleratedProcesses.error`);
        ``None``: before training.

    Returns
    -------
    SingleProcess or AcceleratedProcesses
        :class:`AcceleratedProcesses` when ``net`` has an ``accelerator``
        (skorch's ``AccelerateMixin``), else :class:`SingleProcess`.
    """
    accelerator = getattr(net, "accelerator", None)
    if accelerator is None:
        return SingleProcess(net)
    return AcceleratedProcesses(accelerator, where)


class SingleProcess:
    """One process: factors computed on ``net.device``, nothing exchanged."""

    rank, world_size, is_main = 0, 1, True

    def __init__(self, net):
        self.device = torch.device(net.device)

    def shared_random_state(self, rng):
        """``rng`` itself."""
        return rng

    def last_layer(self, net, examples, seed=0):
        """:func:`sksubset.gradients.last_layer` of all the ``examples``
        (a :class:`sksubset.data.Examples`); ``seed`` seeds its loader."""
        return last_layer(net, examples.batches(net, seed=seed))

    def agree(self, value, what=None):
        """``value`` itself."""
        return value

    def record_costs(self, record, selection):
        """``record`` unchanged."""
        return record

    def training_failed(self, exc):
        """None: one process has no collective to fail."""
        return None


class _LocalNet:
    """The net as ``last_layer`` needs it, on this process's own module copy."""

    def __init__(self, net, accelerator):
        self._net = net
        self.module_ = accelerator.unwrap_model(net.module_)
        self.criterion_ = accelerator.unwrap_model(net.criterion_)
        self.device = accelerator.device

    def infer(self, x, **fit_params):
        return type(self._net).infer(self, x, **fit_params)

    def __getattr__(self, name):
        return getattr(self._net, name)


class AcceleratedProcesses:
    """Several processes of an Accelerate run (see the module docstring).

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        The net's, after the launcher started the processes.
    where : callable or None
        See :func:`processes_of`.
    """

    def __init__(self, accelerator, where=None):
        self.accelerator, self.where = accelerator, where
        self.rank = accelerator.process_index
        self.world_size = accelerator.num_processes
        self.is_main = accelerator.is_main_process
        self.device = torch.device(accelerator.device)
        self.rows = 0

    # -- faults -----------------------------------------------------------
    def error(self, what, selecting=True):
        """The :class:`~sksubset.exceptions.DataParallelError` of a collective that failed
        while ``what`` (e.g. "agreeing on the subset"), at the run's current position."""
        epoch, selection_round, position = (None, None, "before training") if self.where is None \
            else self.where(selecting)
        timeout = group_timeout()
        waited = "" if timeout is None else f" ({timeout})"
        return DataParallelError(
            f"Rank {self.rank} of {self.world_size} lost contact with the other processes "
            f"while {what}, in {position}: another process exited or crashed, or did not "
            f"answer within the process group's timeout{waited}. The other processes' logs "
            f"say which and why; the backend's error follows. Set the timeout with "
            f"accelerate.utils.InitProcessGroupKwargs(timeout=...) or "
            f"torch.distributed.init_process_group(timeout=...), and restart the fit (see "
            f"'Faults and restarts' in the Scaling out guide).",
            rank=self.rank, world_size=self.world_size, epoch=epoch,
            selection_round=selection_round, timeout=timeout)

    def _collective(self, what, op, *args, **kwargs):
        """``op(*args, **kwargs)``, a failure raised as :meth:`error`."""
        try:
            return op(*args, **kwargs)
        except RuntimeError as exc:  # gloo's RuntimeError, torch's DistBackendError
            raise self.error(what) from exc

    def training_failed(self, exc):
        """The :meth:`error` of a training step whose collective raised ``exc``, or None
        when ``exc`` (a RuntimeError of training) comes from elsewhere."""
        if self.world_size == 1 or isinstance(exc, DataParallelError) \
                or not is_collective_failure(exc):
            return None
        return self.error("training (the gradient all-reduce of a step)", selecting=False)

    # -- collectives ------------------------------------------------------
    def _all_gather_object(self, value, what):
        if self.world_size == 1:
            return [value]
        out = [None] * self.world_size
        self._collective(what, torch.distributed.all_gather_object, out, value)
        return out

    def agree(self, value, what="agreeing on the subset"):
        """Rank 0's ``value`` (any picklable object), on every rank."""
        if self.world_size == 1:
            return value
        box = [value]
        self._collective(what, torch.distributed.broadcast_object_list, box, src=0)
        return box[0]

    def shared_random_state(self, rng):
        """A generator in rank 0's state: every rank draws the same numbers.

        Rank 0 keeps ``rng`` itself, so that a seeded run draws exactly what a
        single-process run with the same ``random_state`` draws.
        """
        state = self.agree(rng.get_state(), "agreeing on the random state")
        if self.rank == 0:
            return rng
        shared = np.random.RandomState()
        shared.set_state(state)
        return shared

    def _gather_rows(self, t, counts):
        """Concatenate every rank's ``t`` (``counts[r]`` rows each), in rank order."""
        width = max(counts)
        padded = t.new_zeros((width,) + tuple(t.shape[1:]))
        padded[:len(t)] = t
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        self._collective("gathering the candidates' last-layer factors",
                         torch.distributed.all_gather, parts, padded.contiguous())
        return torch.cat([p[:c] for p, c in zip(parts, counts)])

    # -- a selection round ------------------------------------------------
    def last_layer(self, net, examples, seed=0):
        """Factors of all ``examples``: each rank computes its shard, then all gather.

        Returns
        -------
        LastLayer
            The same on every rank, in the row order of ``examples``.
        """
        local = _LocalNet(net, self.accelerator)
        n = len(examples)
        if self.world_size == 1 or n < self.world_size:
            self.rows += n
            return last_layer(local, examples.batches(local, seed=seed))
        bounds = np.linspace(0, n, self.world_size + 1).round().astype(int)
        lo, hi = bounds[self.rank], bounds[self.rank + 1]
        counts = [int(b - a) for a, b in zip(bounds[:-1], bounds[1:])]
        part = last_layer(local, examples.take(np.arange(lo, hi)).batches(local, seed=seed))
        self.rows += hi - lo
        E, Hb, Z = (self._gather_rows(t, counts) for t in (part.E, part.Hb, part.Z))
        if part.loss is None:
            return LastLayer(E, Hb, Z, examples.y.to(device=E.device))
        target = examples.y.to(device=E.device, dtype=Z.dtype).reshape(len(Z), -1)
        labels = torch.zeros(len(Z), device=E.device, dtype=torch.long)  # a regressor's
        return LastLayer(E, Hb, Z, labels, target, part.loss)

    def record_costs(self, record, selection):
        """Add every rank's cost of the round and whether its own solve matched rank 0's.

        ``selection`` is this rank's own result (before :meth:`agree`);
        ``record`` holds rank 0's selection and this rank's seconds.
        """
        own = (np.asarray(selection.indices), np.asarray(selection.weights, dtype=np.float64))
        costs = self._all_gather_object({
            "seconds": record["seconds"], "gradient_seconds": record["gradient_seconds"],
            "solver_seconds": record["solver_seconds"], "rows": int(self.rows), "own": own},
            "exchanging the costs of the selection round")
        self.rows = 0
        first = costs[0]
        record = dict(record, seconds=first["seconds"], gradient_seconds=first["gradient_seconds"],
                      solver_seconds=first["solver_seconds"])
        record["rank_seconds"] = [c["seconds"] for c in costs]
        record["rank_gradient_seconds"] = [c["gradient_seconds"] for c in costs]
        record["rank_solver_seconds"] = [c["solver_seconds"] for c in costs]
        record["rank_rows"] = [c["rows"] for c in costs]
        ref = first["own"]
        record["solves_agree"] = all(np.array_equal(c["own"][0], ref[0])
                                     and np.array_equal(c["own"][1], ref[1]) for c in costs)
        return record


#: words of the errors of torch's process-group backends (gloo's messages name its sources)
_BACKEND_WORDS = ("gloo", "nccl", "c10d", "processgroup")


def is_collective_failure(exc):
    """Whether ``exc``, raised in a training step of a data-parallel run, is a failed
    collective (torch's ``DistError``, or a backend's ``RuntimeError``)."""
    dist_error = getattr(torch.distributed, "DistError", ())
    return isinstance(exc, dist_error) or any(w in str(exc).lower() for w in _BACKEND_WORDS)


def group_timeout():
    """The default process group's timeout (a ``timedelta``), or None where torch does not
    tell it."""
    try:
        if not torch.distributed.is_initialized():
            return None
        group = torch.distributed.distributed_c10d._get_default_group()
        device = torch.device("cpu") if torch.distributed.get_backend() == "gloo" \
            else torch.device("cuda")
        return group._get_backend(device).options._timeout
    except Exception:  # private API: the timeout is only a detail of the message
        return None
