"""What :class:`~sksubset.SubsetTrainingClassifier` settles before any training.

``fit`` first validates its own parameters (``_parameter_constraints``); the
functions here check what those constraints cannot see, so that a bad input
fails with a message naming it before the first epoch, not at the first
selection after the warm start or deep inside torch:

* :func:`check_selector`: a selector instance's own parameters, validated as
  its ``fit`` would, and whether it has the per-batch variant asked for;
* :func:`check_module`: one forward pass of the initialized module on two
  rows of ``X``, which must give one output column per class;
* :func:`reseed_module`: a module the net was given as an instance is
  re-initialized under the run's seeded torch generator, so that
  ``random_state`` fixes the initialization in every process (skorch builds a
  module given as a class inside ``fit`` already; an instance it uses as is,
  with whatever weights the global generator gave it when it was built).
"""

import warnings

import torch

from .selectors import STRATEGIES, BaseSelector, get_selector

__all__ = ["check_selector", "check_module", "reseed_module"]


def check_selector(selector, per_batch):
    """Validate ``selector`` (a strategy name or an instance) for a training run.

    Raises
    ------
    ValueError or TypeError
        For an invalid parameter of the instance (the same error its ``fit``
        raises), or ``per_batch=True`` with a selector without a per-batch
        variant.
    """
    if isinstance(selector, BaseSelector):
        selector._check_params()
        cls, name = type(selector), type(selector).__name__
    else:
        cls, name = get_selector(selector), repr(selector)
    if per_batch and not cls.supports_per_batch:
        with_pb = ", ".join(n for n in STRATEGIES if get_selector(n).supports_per_batch)
        raise ValueError(f"per_batch=True needs a selector with a per-batch variant ({with_pb}); "
                         f"selector={name} has none. Use per_batch=False.")


def check_module(net, examples, n_classes):
    """Run ``net.module_`` (in eval mode, without autograd) on the first two ``examples``
    (a :class:`sksubset.data.Examples`).

    Raises
    ------
    ValueError
        When the module does not accept ``X``'s shape, or its output is not
        ``(n_rows, n_classes)``.
    """
    module = net.module_
    rows = torch.stack([torch.as_tensor(examples.rows[i]) for i in range(min(2, len(examples)))])
    shape = (len(examples),) + tuple(rows.shape[1:])
    rows = rows.to(net.device)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(rows)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(
            f"net.module does not accept X of shape {shape}: on X[:2] (shape "
            f"{tuple(rows.shape)}) it raised {type(exc).__name__}: {exc}. Give X the shape "
            f"the module takes (n_samples, ...).") from exc
    finally:
        module.train(was_training)
    if isinstance(out, (tuple, list)):  # skorch uses the first output
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != n_classes:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"net.module must output one column per class, (n_samples, {n_classes}) for the "
            f"{n_classes} classes of y; on X[:2] it gives {shape}. Set the width of its last "
            f"layer to {n_classes}.")


def reseed_module(net):
    """Re-draw the parameters of a module that skorch used as given (an instance).

    Calls ``reset_parameters()`` of every submodule that has one, with the
    current (seeded) torch generator.  Parameters that no such submodule
    owns cannot be re-drawn: a warning names them.  Does nothing when skorch
    built the module itself (``net.module`` a class, or ``module__*``
    arguments given).
    """
    module = net.module_
    if module is not net.module:
        return
    covered = set()
    for m in module.modules():
        reset = getattr(m, "reset_parameters", None)
        if callable(reset):
            reset()
            covered.update(id(p) for p in m.parameters())
    missed = [name for name, p in module.named_parameters() if id(p) not in covered]
    if missed:
        warnings.warn(
            f"random_state cannot re-draw the parameters {missed[:5]} of the module instance "
            f"(no reset_parameters() owns them), so they keep the values the instance was "
            f"built with. Pass the module as a class (with module__* arguments) so that "
            f"skorch builds it inside fit under the seeded generator.", UserWarning,
            stacklevel=3)
