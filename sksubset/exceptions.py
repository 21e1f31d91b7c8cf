"""Exceptions and warnings of sksubset."""

__all__ = ["DivergenceError", "DataParallelError"]


class DivergenceError(FloatingPointError):
    """Training diverged: the loss, the logits or the last layer's inputs became NaN or infinite.

    Raised by :meth:`sksubset.SubsetTrainingClassifier.fit` with the epoch, the
    phase (warm start or subset training) and the selection round in its
    message.  A smaller learning rate is the usual remedy.
    """


class DataParallelError(RuntimeError):
    """A data-parallel fit lost one of its processes.

    Raised by ``fit`` of an estimator whose net runs on several processes
    (:class:`~sksubset.distributed.AcceleratedNetClassifier`) when a collective
    operation fails: another process exited or crashed, or did not answer
    within the process group's timeout (a paused or hung process).  The
    backend's own error (gloo's text, which names no rank) is chained as
    ``__cause__``.  See "Faults and restarts" in the Scaling out guide.

    Attributes
    ----------
    rank : int
        This process's rank.
    world_size : int
        The number of processes of the fit.
    epoch : int or None
        The trained epoch (1-based, as in the net's history) in which the fault
        was noticed; ``None`` before training (agreeing on the random state).
    selection_round : int or None
        The selection round being computed, or (while training) the round
        whose subset was being trained on; ``None`` before the first round.
    timeout : datetime.timedelta or None
        The process group's timeout, where torch tells it.
    """

    def __init__(self, message, *, rank, world_size, epoch=None, selection_round=None,
                 timeout=None):
        super().__init__(message)
        self.rank, self.world_size = rank, world_size
        self.epoch, self.selection_round, self.timeout = epoch, selection_round, timeout

    def __reduce__(self):  # picklable (the keyword arguments are not in ``args``)
        return (_data_parallel_error, (self.args, self.__dict__))


def _data_parallel_error(args, state):
    error = DataParallelError(*args, rank=state["rank"], world_size=state["world_size"])
    error.__dict__.update(state)
    return error
