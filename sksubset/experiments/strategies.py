"""Strategy names: what each trains, and with which selector instance.

A *strategy name* maps to a training configuration (:func:`parse_strategy`):

* ``full``: the plain net trained ``T`` epochs on all the training data,
  cosine annealing over ``T``;
* ``full-earlystop``: the plain net trained ``E`` epochs with the cosine
  compressed to ``E``, where ``E`` is the cost, in full-epoch equivalents
  (:meth:`sksubset.schedule.Schedule.full_epoch_equivalents`), of the
  GRAD-MATCH-PB-WARM run at the same budget;
* ``full-frontier``: the same for each ``E`` of ``frontier_epochs``; these
  runs (and ``full``) draw the accuracy-versus-time curve of plain training;
* ``<selector>[-pb|-pc][-warm]`` with ``<selector>`` one of
  :data:`sksubset.selectors.STRATEGIES`: a
  :class:`~sksubset.SubsetTrainingClassifier` with ``kappa=kappa`` for
  ``-warm`` (else 0), ``per_batch=True`` for ``-pb``, and the selector
  instance of :func:`make_selector`.  ``random-rs2[-warm]`` is RS2: RANDOM
  drawn without replacement across rounds, reselecting every epoch
  (``R = 1``) unless ``R`` is given.  Plain ``gradmatch`` is the paper's
  per-example variant as its code (CORDS) configures it: per class and per
  gradient (each class matches the gradient of its own output unit);
  ``gradmatch-pc`` is per class on the whole last-layer gradient;
* ``default``: ``SubsetTrainingClassifier(net, budget=...)`` as a user
  writes it: the classifier's default selector
  (:func:`sksubset.classifier.default_selector`, with ``selector_params`` set
  on it), ``R`` and ``kappa`` (unless the experiment gives them).
"""

from dataclasses import dataclass
from inspect import signature

from .._estimator import BaseSubsetTraining, default_selector
from ..selectors import STRATEGIES, get_selector

__all__ = ["Strategy", "parse_strategy", "make_selector", "strategy_R", "FULL_KINDS",
           "DEFAULT_R", "DEFAULT_R_RS2"]

#: the strategies that train on all the data
FULL_KINDS = ("full", "full-earlystop", "full-frontier")

#: reselection interval of the subset strategies when none is given: the estimators' default
DEFAULT_R = signature(BaseSubsetTraining).parameters["R"].default
#: reselection interval of RS2 when none is given: every epoch
DEFAULT_R_RS2 = 1

#: the strategies' own settings of a selector, with or without ``selector_params``
_SETTINGS = {"craig": {"epsilon": 0.1}, "glister": {"per_class": False}}
#: the papers' GRAD-MATCH: every example a candidate each round (``GradMatchSelector``'s own
#: default examines a pool)
_EVERY_EXAMPLE = {"pool_factor": None, "sampling": "independent"}
#: the solver of the papers' per-example GRAD-MATCH without ``selector_params``
_PER_EXAMPLE_SOLVER = {"criterion": "correlation", "per_step": 16}
#: the solver of the papers' per-batch GRAD-MATCH without ``selector_params``: the exact search
_PER_BATCH_SOLVER = {"criterion": "gain", "per_step": 1}


@dataclass(frozen=True)
class Strategy:
    """A parsed strategy name (see the module docstring)."""

    name: str
    kind: str  # "subset" or one of FULL_KINDS
    selector: str | None = None
    per_batch: bool = False
    per_class: bool = False
    per_gradient: bool = False
    warm: bool = False
    rs2: bool = False


def parse_strategy(name):
    """The :class:`Strategy` of a name such as ``"gradmatch-pb-warm"``.

    Raises
    ------
    ValueError
        For a name that maps to no configuration.
    """
    if name in FULL_KINDS:
        return Strategy(name, name)
    if name == "default":
        return Strategy(name, "subset", "gradmatch", per_class=True, warm=True)
    parts = name.split("-")
    warm = parts[-1] == "warm"
    if warm:
        parts = parts[:-1]
    selector, flags = parts[0], parts[1:]
    rs2 = selector == "random" and flags == ["rs2"]
    if (selector not in STRATEGIES or len(flags) > 1
            or (flags and flags[0] not in ("pb", "pc") and not rs2)):
        raise ValueError(f"Unknown strategy {name!r}: use full, full-earlystop, full-frontier, "
                         f"default, random-rs2[-warm] or <selector>[-pb|-pc][-warm] with "
                         f"<selector> one "
                         f"of {', '.join(STRATEGIES)}.")
    per_batch = flags == ["pb"]
    per_class = selector == "gradmatch" and not per_batch
    per_gradient = per_class and flags != ["pc"]
    return Strategy(name, "subset", selector, per_batch, per_class, per_gradient, warm, rs2)


def make_selector(strategy, params=None, regression=False):
    """The selector instance of a subset strategy.

    ========================  =========================================================
    strategy                  selector
    ========================  =========================================================
    ``default``               the estimator's default selector (``GradMatchSelector()``)
    ``gradmatch[-warm]``      ``GradMatchSelector(per_class=True, per_gradient=True,
                              pool_factor=None, sampling="independent",
                              criterion="correlation", per_step=16)``
    ``gradmatch-pc[-warm]``   the same with ``per_gradient=False``
    ``gradmatch-pb[-warm]``   ``GradMatchSelector(per_class=False, per_gradient=False,
                              pool_factor=None, sampling="independent",
                              criterion="gain", per_step=1)``
    ``random...``             ``RandomSelector()``
    ``random-rs2[-warm]``     ``RandomSelector(sampling="cycle")``
    ``craig...``              ``CraigSelector(epsilon=0.1)``
    ``glister...``            ``GlisterSelector(per_class=False)``
    ``crest...``              ``CrestSelector()``
    ========================  =========================================================

    Parameters
    ----------
    strategy : Strategy
        A subset strategy (:func:`parse_strategy`).
    params : dict, optional
        The experiment's ``selector_params``: passed to the selector's class
        together with the strategy's own settings above (``per_class`` and
        ``per_gradient``, ``pool_factor`` and ``sampling`` of GRAD-MATCH,
        ``sampling`` of RS2, ``epsilon`` of CRAIG, ``per_class`` of GLISTER),
        which ``params`` override; GRAD-MATCH's solver (``criterion``,
        ``per_step``) is then the class's own unless ``params`` name it.
    regression : bool, default=False
        For a regressor: the ``default`` strategy is then the regressor's
        default selector (:func:`sksubset.classifier.default_selector`).

    Returns
    -------
    BaseSelector
        Its ``budget`` and ``random_state`` left at their defaults: the
        classifier sets them.
    """
    if strategy.kind != "subset":
        raise ValueError(f"{strategy.name!r} trains on all the data: it has no selector.")
    if strategy.name == "default":
        return default_selector(regression).set_params(**(params or {}))
    kwargs = dict(_SETTINGS.get(strategy.selector, {}))
    if strategy.selector == "gradmatch":
        kwargs.update(per_class=strategy.per_class, per_gradient=strategy.per_gradient,
                      **_EVERY_EXAMPLE)
        if not params:
            kwargs.update(_PER_BATCH_SOLVER if strategy.per_batch else _PER_EXAMPLE_SOLVER)
    if strategy.rs2:
        kwargs["sampling"] = "cycle"
    return get_selector(strategy.selector)(**{**kwargs, **(params or {})})


def strategy_R(cfg, strategy):
    """Reselection interval of a subset strategy: ``cfg.R`` (an int or ``"auto"``), else its
    default (the estimators' ``"auto"``; every epoch for RS2)."""
    if cfg.R is not None:
        return cfg.R if cfg.R == "auto" else int(cfg.R)
    return DEFAULT_R_RS2 if strategy.rs2 else DEFAULT_R
