"""The options of one greedy search, as one small object (:class:`SearchOptions`)."""

from dataclasses import dataclass
from numbers import Integral

__all__ = ["AUTO_MIN_STEPS", "CRITERIA", "SearchOptions", "atoms_per_step",
           "check_per_step"]

#: The rules for choosing the next atom (see :mod:`sksubset.omp`).
CRITERIA = ("gain", "correlation")

#: ``per_step="auto"``: the greedy steps a problem's budget is chosen over (a budget below it is
#: chosen one atom a step, the exact search)
AUTO_MIN_STEPS = 16


def atoms_per_step(per_step, ks):
    """Atoms a step of each problem: ``per_step`` for all, or with ``"auto"`` ``max(k //
    AUTO_MIN_STEPS, 1)`` for a budget ``k``: chosen over ``AUTO_MIN_STEPS`` to ``2 *
    AUTO_MIN_STEPS - 1`` greedy steps (``k`` steps below that), so that the solver's steps do not
    grow with the budget."""
    if per_step == "auto":
        return [max(int(k) // AUTO_MIN_STEPS, 1) for k in ks]
    return [int(per_step)] * len(ks)


def check_per_step(per_step):
    """Raise ``ValueError`` unless ``per_step`` is ``"auto"`` or an int >= 1."""
    if isinstance(per_step, str) and per_step == "auto":
        return
    if isinstance(per_step, bool) or not isinstance(per_step, Integral) or per_step < 1:
        raise ValueError(f"per_step must be 'auto' or an int >= 1; got {per_step!r}.")


@dataclass(frozen=True)
class SearchOptions:
    """How a greedy search runs; every field is the option of the same name of
    :func:`~sksubset.omp.omp_batched`.

    Attributes
    ----------
    lam : float, default=0.5
        The absolute ridge of the weights, ``ridge * ||w||^2``: the public
        (relative) ``lam`` times the mean squared norm of the candidate atoms,
        which :func:`~sksubset.omp.omp_batched` and the GRAD-MATCH selector
        compute (:mod:`sksubset.omp._scale`) before a search is made.
    tol : float, default=1e-10
        Stop once the regularized error is at most ``tol * ||b||^2``.
    positive : bool, default=True
        Non-negative weights.
    criterion : {"gain", "correlation"}, default="gain"
        How the next atom is chosen.
    check_every : int, optional
        Greedy steps between host checks of the stopping rules (default 8 on
        the CPU, 32 elsewhere: :meth:`steps_between_checks`).
    max_rounds : int, default=32
        Most non-negative refits per problem.
    per_step : int or "auto", default=1
        Atoms added per greedy step (1: the exact greedy search); ``"auto"``:
        per problem, from its budget (:func:`atoms_per_step`).
    """

    lam: float = 0.5
    tol: float = 1e-10
    positive: bool = True
    criterion: str = "gain"
    check_every: int | None = None
    max_rounds: int = 32
    per_step: int | str = 1

    def __post_init__(self):
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be 'gain' or 'correlation'; got "
                             f"{self.criterion!r}.")
        check_per_step(self.per_step)

    def steps_between_checks(self, device):
        """``check_every``, or its default for atoms on ``device``."""
        if self.check_every is not None:
            return int(self.check_every)
        return 8 if device.type == "cpu" else 32
