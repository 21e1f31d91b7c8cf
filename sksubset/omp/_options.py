"""The options of one greedy search, as one small object (:class:`SearchOptions`)."""

from dataclasses import dataclass

__all__ = ["CRITERIA", "SearchOptions"]

#: The rules for choosing the next atom (see :mod:`sksubset.omp`).
CRITERIA = ("gain", "correlation")


@dataclass(frozen=True)
class SearchOptions:
    """How a greedy search runs; every field is the option of the same name of
    :func:`~sksubset.omp.omp_batched`.

    Attributes
    ----------
    lam : float, default=0.5
        Ridge regularization of the weights.
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
    per_step : int, default=1
        Atoms added per greedy step (1: the exact greedy search).
    """

    lam: float = 0.5
    tol: float = 1e-10
    positive: bool = True
    criterion: str = "gain"
    check_every: int | None = None
    max_rounds: int = 32
    per_step: int = 1

    def __post_init__(self):
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be 'gain' or 'correlation'; got "
                             f"{self.criterion!r}.")

    def steps_between_checks(self, device):
        """``check_every``, or its default for atoms on ``device``."""
        if self.check_every is not None:
            return int(self.check_every)
        return 8 if device.type == "cpu" else 32
