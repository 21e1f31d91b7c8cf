"""What a fit checks before training, and what it warns about or stops on as it trains.

Before the first epoch, so that a bad input fails with a message naming it,
not at the first selection after the warm start or deep inside torch:

* :func:`check_selector`: a selector instance's own parameters, validated as
  its ``fit`` would; its ``budget`` and ``random_state`` left at their
  defaults (the classifier's set them); the per-batch variant asked for;
* :func:`check_module`: one forward pass of the initialized module on two
  rows, which must give one output column per class;
* :func:`check_loss`: the initialized net on the first rows, before any
  step: its output must be what its criterion takes (probabilities for
  ``NLLLoss``; for a selector reading last-layer gradients, what the
  criterion expects of the last ``nn.Linear``), and its loss finite (a
  regressor's targets on a scale whose loss float32 holds);
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

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .._outputs import check_output, loss_kind
from .._regression import RegressionLoss
from ..exceptions import DivergenceError
from ..gradients import find_last_linear
from ..selectors import STRATEGIES, get_selector

__all__ = ["check_selector", "check_module", "check_loss", "reseed_module",
           "warn_if_below_one_batch", "position", "divergence_error", "warn_if_unconverged"]

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
    estimator, what = (("SubsetTrainingRegressor", "regressor") if regression
                       else ("SubsetTrainingClassifier", "classifier"))
    for name in RUN_PARAMETERS:
        default = defaults[name].default if name in defaults else None
        if name in params and params[name] != default:
            raise ValueError(
                f"The selector's {name}={params[name]!r} would be overridden: the "
                f"{what}'s {name} sets it for every selection round. Leave the "
                f"selector's {name} at its default ({default!r}) and set "
                f"{estimator}({name}=...) instead.")
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


#: rows of the data on which :func:`check_loss` runs the initialized net
N_CHECK_ROWS = 64


def check_loss(net, examples, last_layer=True, regression=False):
    """The initialized net on the first rows of ``examples``, before any optimizer step.

    One forward pass (eval mode, no autograd) over up to :data:`N_CHECK_ROWS`
    rows, and the loss of its output as training computes it
    (``net.get_loss``).  A loss that is not finite there is no matter of the
    learning rate: the error says what makes it so.

    Raises
    ------
    ValueError
        When the module's outputs are NaN or infinite; when the criterion is
        ``NLLLoss`` (skorch's default) and the outputs are not probabilities;
        with ``last_layer`` (a selector that reads last-layer gradients), when
        the module has no ``nn.Linear`` or its output is not what the
        criterion expects of that layer's; for a ``regression`` net, when the
        loss of a zero prediction overflows float32 on the targets; when the
        loss on these rows is not finite.
    """
    module = net.module_
    m = min(N_CHECK_ROWS, len(examples))
    rows = torch.stack([torch.as_tensor(examples.rows[i]) for i in range(m)]).to(net.device)
    y = examples.y[:m].to(net.device)
    kind = loss_kind(net.criterion_, classifier=not regression)
    name = f"torch.nn.{_base_name(net.criterion_)}"
    captured = {}
    handle = None
    if last_layer:
        layer = find_last_linear(module)
        handle = layer.register_forward_hook(
            lambda mod, inputs, output: captured.update(z=output))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = net.infer(rows)
    finally:
        if handle is not None:
            handle.remove()
        module.train(was_training)
    if isinstance(out, (tuple, list)):  # skorch uses the first output
        out = out[0]
    where = f"on X[:{m}], before any training step"
    if not bool(torch.isfinite(out).all()):
        scale = float(rows.abs().max()) if rows.is_floating_point() and rows.numel() else 0.0
        raise ValueError(
            f"net.module's outputs are NaN or infinite {where} (the largest |X| there is "
            f"{scale:.3g}): not a matter of the learning rate. Give X a smaller scale (e.g. "
            f"standardize it) and make sure the module's parameters are finite.")
    if kind == "probabilities":
        sums = out.sum(1)
        if bool((out < 0).any()) or not bool(torch.allclose(sums, torch.ones_like(sums),
                                                            atol=1e-3)):
            raise ValueError(
                f"net.criterion is torch.nn.NLLLoss (skorch's default), which takes "
                f"probabilities: skorch applies log to the module's output. On X[:{m}] "
                f"net.module gives values from {float(out.min()):.3g} to "
                f"{float(out.max()):.3g}, rows summing to {float(sums.min()):.3g} to "
                f"{float(sums.max()):.3g}, not probabilities (a module ending in a plain "
                f"nn.Linear gives logits), so the loss would be NaN at any learning rate. "
                f"Set criterion=torch.nn.CrossEntropyLoss for a module ending in logits, or end "
                f"the module in nn.Softmax(dim=-1).")
    if last_layer:
        try:
            check_output(out, captured["z"], kind)
        except ValueError as exc:
            raise ValueError(f"net.module does not suit net.criterion={name} for the "
                             f"selector, which reads last-layer gradients: {exc} (A module "
                             f"ending otherwise trains with selector='random'.)") from None
    if regression and isinstance(kind, RegressionLoss):
        _check_target_scale(examples.y, kind, name)
    try:
        loss = net.get_loss(out, y, X=rows, training=False)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"net.criterion={name} cannot take net.module's output {where}: it "
                         f"raised {type(exc).__name__}: {exc}") from exc
    loss = float(loss.detach().float().mean()) if isinstance(loss, torch.Tensor) else float(loss)
    if not np.isfinite(loss):
        raise ValueError(
            f"The loss ({name}) of the untrained net is {loss} {where}: not a matter of the "
            f"learning rate. Check that net.module's output suits the criterion and that X "
            f"and y are on a moderate scale.")


def _base_name(criterion):
    """The torch loss a (weighted) criterion is."""
    for cls in type(criterion).__mro__:
        if cls.__module__.startswith("torch.nn"):
            return cls.__name__
    return type(criterion).__name__


def _check_target_scale(y, kind, name):
    """A regressor's targets whose loss overflows float32 even for a zero prediction."""
    y = y.reshape(len(y), -1).to(torch.float32)
    for part in y.split(1 << 16):
        if not bool(torch.isfinite(kind.losses(torch.zeros_like(part), part)).all()):
            raise ValueError(
                f"y holds targets as large as {float(y.abs().max()):.3g} in magnitude: "
                f"their loss ({name}) overflows float32 before any training step, at any "
                f"learning rate. Put y on a smaller scale, e.g. standardize it (sklearn's "
                f"TransformedTargetRegressor with a StandardScaler does so and inverts it "
                f"for predict).")


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


def _scale(t):
    """The largest magnitude in a float tensor (0 for anything else)."""
    if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
        return float(t.abs().max())
    return 0.0


def divergence_error(where, what, lr, X=None, y=None, before_step=False):
    """The error of a diverged run: ``where`` (epoch, phase, round), ``what`` went wrong,
    and the remedies: a smaller ``lr`` (unless ``before_step``: the loss was not finite
    before the first optimizer step, which no learning rate changes), and inputs or targets
    on a smaller scale when the in-memory inputs ``X`` or a regressor's targets ``y``
    (tensors, or None) are far from unit scale."""
    hints = [] if before_step else [f"a smaller learning rate (net lr={lr:g})"]
    for name, symbol, t in (("inputs", "X", X), ("targets", "y", y)):
        scale = _scale(t)
        if scale > 1e6:
            hints.append(f"{name} on a smaller scale (the largest |{symbol}| is {scale:.3g})")
    if before_step:
        what = (f"{what.rstrip('.')} on the first mini-batch, before any optimizer step, so "
                f"no learning rate is the cause")
        hints.append("a module whose output suits the criterion")
    return DivergenceError(f"Training diverged in {where}: {what.rstrip('.')}. "
                           f"Try {' or '.join(hints)}.")


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
