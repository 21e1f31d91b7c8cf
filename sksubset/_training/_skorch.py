"""The seams to skorch's own fit loop: the callback that runs Algorithm 1, and the
learning-rate schedulers advanced through the epochs the warm start paid for.

One ``partial_fit`` trains the whole run, so that optimizer state,
learning-rate schedulers, history and every other callback see one continuous
training; :class:`SubsetSchedule` calls the run at the start and end of each
epoch and before and after each training mini-batch.
"""

from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau

__all__ = ["SubsetSchedule", "skip_lr_epochs"]


class SubsetSchedule(Callback):
    """Drives a run from inside skorch's fit loop.

    Armed for one ``fit``; disarmed afterwards (and never pickled with its
    run), so that a fitted net carries no reference to the training data.

    Parameters
    ----------
    run : object
        With ``begin_epoch(net)``, ``begin_batch(net)`` and ``end_batch(net,
        batch)`` (before and after each training mini-batch; ``batch`` is
        ``(X, targets)`` as the loader yields it) and ``end_epoch(net)``.
    """

    def __init__(self, run=None):
        self.run = run

    def on_epoch_begin(self, net, **kwargs):
        if self.run is not None:
            self.run.begin_epoch(net)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if self.run is not None and training:
            self.run.begin_batch(net)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if self.run is not None and training:
            self.run.end_batch(net, batch)

    def on_epoch_end(self, net, **kwargs):
        if self.run is not None:
            self.run.end_epoch(net)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["run"] = None
        return state


def skip_lr_epochs(net, n_skip):
    """Advance the net's epoch-stepped learning-rate schedulers by ``n_skip`` epochs.

    Batch-stepped schedulers and ``ReduceLROnPlateau`` (which steps on a
    metric, not on time) are left alone.
    """
    if n_skip <= 0:
        return
    for _, cb in net.callbacks_:
        sched = getattr(cb, "lr_scheduler_", None)
        if (isinstance(cb, LRScheduler) and cb.step_every == "epoch" and sched is not None
                and not isinstance(sched, ReduceLROnPlateau)):
            for _ in range(n_skip):
                sched.step()
