"""Subset selectors: one module per strategy, all with the same contract.

See :mod:`sksubset.selectors._base` for the contract (``fit``/``transform``
standalone, ``select(context)`` inside a training run).  ``STRATEGIES`` lists
the names :class:`~sksubset.SubsetTrainingClassifier` accepts for ``selector``.
"""

from importlib import import_module

from ._base import BaseSelector, Selection, SelectionContext
from .gradmatch import GradMatchSelector, gradmatch

_REGISTRY = {
    "gradmatch": ("gradmatch", "GradMatchSelector"),
    "random": ("random", "RandomSelector"),
    "craig": ("craig", "CraigSelector"),
    "glister": ("glister", "GlisterSelector"),
    "crest": ("crest", "CrestSelector"),
}

#: names accepted by ``SubsetTrainingClassifier(selector=...)``
STRATEGIES = tuple(_REGISTRY)


def get_selector(name):
    """The selector class registered under ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"Unknown selector {name!r}; choose one of {', '.join(STRATEGIES)}.")
    module, cls = _REGISTRY[name]
    return getattr(import_module(f".{module}", __name__), cls)


__all__ = ["BaseSelector", "Selection", "SelectionContext", "GradMatchSelector", "gradmatch",
           "STRATEGIES", "get_selector"]
