"""Subset selectors: one module per strategy, all with the same contract.

See :mod:`sksubset.selectors._base` for the contract (``fit``/``transform``
standalone, ``select(context)`` inside a training run).  ``STRATEGIES`` lists
the names :class:`~sksubset.SubsetTrainingClassifier` accepts for ``selector``.
"""

from ._base import BaseSelector, RoundShape, Selection, SelectionContext
from .craig import CraigSelector
from .crest import CrestSelector
from .glister import GlisterSelector
from .gradmatch import GradMatchSelector, gradmatch
from .random import RandomSelector

_REGISTRY = {
    "gradmatch": GradMatchSelector,
    "random": RandomSelector,
    "craig": CraigSelector,
    "glister": GlisterSelector,
    "crest": CrestSelector,
}

#: names accepted by ``SubsetTrainingClassifier(selector=...)``
STRATEGIES = tuple(_REGISTRY)


def get_selector(name):
    """The selector class registered under ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"Unknown selector {name!r}; choose one of {', '.join(STRATEGIES)}.")
    return _REGISTRY[name]


__all__ = ["BaseSelector", "RoundShape", "Selection", "SelectionContext", "GradMatchSelector",
           "gradmatch", "RandomSelector", "CraigSelector", "GlisterSelector", "CrestSelector",
           "STRATEGIES", "get_selector"]
