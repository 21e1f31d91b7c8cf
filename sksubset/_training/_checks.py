"""What a fit checks before training, and what it warns about or stops on as it trains.

Before the first epoch, so that a bad input fails with a message naming it,
not at the first selection after the warm start or deep inside torch:

* :func:`check_selector`: a selector instance's own parameters, validated as
  its ``fit`` would; its ``budget`` and ``random_state`` left at their
  defaults (the classifier's set them); the per-batch variant asked for;
* :func:`check_module`: one forward pass of the initialized module on two
  rows, which must give one output column per class;
* :func:`reseed_module`: a module the net was given as an instance is
  re-initialized under the run's seeded torch generator, so that
  ``random_state`` fixes the initialization in every process (skorch builds a
  module given as a class inside ``fit`` already);
* :func:`warn_if_below_one_batch`: a subset no larger than one mini-batch.

While and after training:

* :func:`divergence_error`: the :class:`~sksubset.exceptions.DivergenceError`
  of a run whose loss, logits or last-layer inputs became NaN or infinite,
  saying where (:func:`position`) and what to try;
* :func:`warn_if_unconverged`: a run whose training loss ended far above
  where it started.
"""

import inspect
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

from ..exceptions import DivergenceError
from ..selectors import STRATEGIES, get_selector

__all__ = ["check_selector", "check_module", "reseed_module", "warn_if_below_one_batch",
           "position", "divergence_error", "warn_if_unconverged"]

#: selector parameters that the classifier sets for every round
RUN_PARAMETERS = ("budget", "random_state")


# -- before training ----------------------------------------------------------------
def check_selector(selector, per_batch, regression=False):
    """Validate the selector instance of a training run.

    Raises
    ------
    ValueError or TypeError
        For an invalid parameter of the instance (the same error its ``fit``
        raises); a ``budget`` or ``random_state`` changed from its default;
        ``per_batch=True`` with a selector without a per-batch variant;
        ``per_gradient=True`` (each class's own output unit) for a
        ``regression`` net, which has no classes.
    """
    selector._check_params()
    if regression and getattr(selector, "per_gradient", False):
        raise ValueError(f"{type(selector).__name__}(per_gradient=True) matches each class's "
                         f"gradient on its own output unit; a regressor has no classes. Use "
                         f"per_gradient=False.")
    cls = type(selector)
    defaults = inspect.signature(cls.__init__).parameters
    params = selector.get_params(deep=False)
    for name in RUN_PARAMETERS:
        default = defaults[name].default if name in defaults else None
        if name in params and params[name] != default:
            raise ValueError(
                f"The selector's {name}={params[name]!r} would be overridden: the "
                f"classifier's {name} sets it for every selection round. Leave the "
                f"selector's {name} at its default ({default!r}) and set "
                f"SubsetTrainingClassifier({name}=...) instead.")
    if per_batch and not cls.supports_per_batch:
        with_pb = ", ".join(n for n in STRATEGIES if get_selector(n).supports_per_batch)
        raise ValueError(f"per_batch=True needs a selector with a per-batch variant ({with_pb}); "
                         f"selector={cls.__name__} has none. Use per_batch=False.")


def check_module(net, examples, n_classes, column="class"):
    """Run ``net.module_`` (in eval mode, without autograd) on the first two ``examples``
    (a :class:`sksubset.data.Examples`).

    Raises
    ------
    ValueError
        When the module does not accept ``X``'s shape, or its output is not
        ``(n_rows, n_classes)``: one column per ``column`` of y (a class, or a
        regressor's target column).
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
        what = "classes" if column == "class" else f"{column}s"
        raise ValueError(
            f"net.module must output one column per {column}, (n_samples, {n_classes}) for "
            f"the {n_classes} {what} of y; on X[:2] it gives {shape}. Set the width of its "
            f"last layer to {n_classes}.")


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
            stacklevel=5)


def warn_if_below_one_batch(k, n, batch_size, stacklevel=5):
    """Warn when a subset of ``k`` of the ``n`` examples fits in one mini-batch."""
    if 0 < k <= batch_size < n:
        warnings.warn(
            f"Each subset holds {k} examples, no more than one mini-batch of the net "
            f"(batch_size={batch_size}): every subset epoch is a single gradient step, and the "
            f"net barely trains on the subsets. Raise budget to well above {batch_size / n:.3g} "
            f"or lower the net's batch_size (net__batch_size) well below {k}.",
            UserWarning, stacklevel=stacklevel)


# -- while and after training ----------------------------------------------------------
def position(schedule, epoch, selection_round):
    """Where a run is: the epoch (1-based, as in the net's history), the phase and, in subset
    training, the selection round."""
    where = f"epoch {epoch + 1} of {schedule.n_trained}"
    if schedule.phase(epoch) == "warm":
        return where + " (warm start on all the data)"
    return where + f" (subset training, selection round {selection_round})"


def divergence_error(where, what, lr, X=None):
    """The error of a diverged run: ``where`` (epoch, phase, round), ``what`` went wrong,
    and the remedies: a smaller ``lr``, and inputs on a smaller scale when the in-memory
    inputs ``X`` (a tensor, or None) are far from unit scale."""
    hint = f"a smaller learning rate (net lr={lr:g})"
    scale = float(X.abs().max()) if isinstance(X, torch.Tensor) and X.numel() else 0.0
    if scale > 1e6:
        hint += f" or inputs on a smaller scale (the largest |X| is {scale:.3g})"
    return DivergenceError(f"Training diverged in {where}: {what.rstrip('.')}. Try {hint}.")


def warn_if_unconverged(history, lr, stacklevel=5):
    """A ConvergenceWarning when the last epoch's training loss (of a skorch ``history``) is
    more than twice the first mini-batch's, the loss before any step."""
    first = history[0, "batches", 0, "train_loss"]
    last = history[-1, "train_loss"]
    if last > 2 * first:
        warnings.warn(f"The training loss ended at {last:.4g} after {len(history)} epochs, "
                      f"more than twice its start ({first:.4g}): training did not converge. "
                      f"Try a smaller learning rate (net lr={lr:g}).",
                      ConvergenceWarning, stacklevel=stacklevel)
