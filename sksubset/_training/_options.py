"""skorch's own options of the net given to an estimator: what subset training honours, and
what it refuses before training (with what to write instead).

Honoured as in a plain skorch fit: ``train_split`` (``ValidSplit``,
``predefined_split``, ``None``: applied once, for monitoring, see
:mod:`._split`), callbacks (``Checkpoint``, ``EarlyStopping``,
``LRScheduler``, scoring on the validation data), ``iterator_train__*`` and
``iterator_valid__*`` options, ``batch_size`` and ``device``.  Refused by
:func:`check_net_options`:

* ``callbacks="disable"``, which would disable the callback that runs subset
  training;
* a callback that monitors a validation score (``monitor="valid_loss"``, the
  default of ``EarlyStopping`` and ``Checkpoint``) on a net without validation
  data, which skorch reports only after the first epoch;
* a callback that scores the training data (``EpochScoring(on_train=True)``),
  whose rows and targets change with every subset;
* ``dataset`` other than skorch's own: the estimator gives the net its training
  data as a Dataset, which skorch takes as it is, so the class would be
  ignored for training;
* ``warm_start=True``: every fit trains a fresh clone of the net;
* ``compile=True``: the selections read the net's own module and criterion;
* a ``device`` that torch does not know, ``None`` (but for a net of skorch's
  ``AccelerateMixin``, whose accelerator places it), or CUDA where there is none.
"""

import torch
from skorch.callbacks import BatchScoring, EpochScoring, PassthroughScoring
from skorch.dataset import Dataset

__all__ = ["check_net_options"]


def _callbacks(net):
    """The net's own callbacks, as instances (skorch instantiates classes)."""
    for item in net.callbacks or ():
        name, cb = item if isinstance(item, tuple) else (None, item)
        cb = cb() if isinstance(cb, type) else cb
        yield name or type(cb).__name__, cb


def check_net_options(net, valid_size):
    """Refuse the skorch options of ``net`` that subset training cannot honour.

    Raises
    ------
    ValueError
        For each option refused (module docstring), naming it and what to
        write instead.
    """
    if isinstance(net.callbacks, str):
        raise ValueError(f"net.callbacks={net.callbacks!r} would disable the callback that runs "
                         f"subset training. Pass callbacks=None or a list (verbose=0 silences "
                         f"the net's epoch table).")
    has_valid = valid_size is not None or net.train_split is not None
    for name, cb in _callbacks(net):
        monitor = getattr(cb, "monitor", None)
        if not has_valid and isinstance(monitor, str) and monitor.startswith("valid"):
            raise ValueError(
                f"The net's callback {name} monitors {monitor!r}, but the net has no validation "
                f"data (train_split=None and valid_size=None), so skorch would stop after the "
                f"first epoch. Give it some (valid_size=0.1, or net__train_split="
                f"skorch.dataset.ValidSplit(5)), or monitor a training score "
                f"(monitor={monitor.replace('valid', 'train', 1)!r}).")
        on_train = getattr(cb, "on_train", False)
        if (on_train and isinstance(cb, (EpochScoring, BatchScoring))
                and not isinstance(cb, PassthroughScoring)):
            raise ValueError(
                f"The net's callback {name} scores the training data (on_train=True), whose "
                f"rows and targets change with every subset. Score the validation data "
                f"instead (on_train=False, with valid_size or net__train_split).")
    if net.dataset is not Dataset:
        raise ValueError(
            f"net.dataset={net.dataset!r}: the estimator gives the net its training data as a "
            f"Dataset, which skorch takes as it is, so this class would be ignored for "
            f"training. Leave net.dataset at skorch.dataset.Dataset and pass your data to fit "
            f"as a torch Dataset of (x, y) items instead.")
    if net.warm_start:
        raise ValueError("net.warm_start=True has no effect here: every fit trains a fresh "
                         "clone of net. Set net__warm_start=False (a fitted estimator's "
                         "trained net is its net_).")
    if getattr(net, "compile", False):
        raise ValueError("net.compile=True is not supported: the selections read the net's "
                         "own module and criterion. Set net__compile=False.")
    device = net.device
    if getattr(net, "accelerator", None) is not None:
        return  # skorch's AccelerateMixin: the accelerator places the net (device=None)
    if device is None:
        raise ValueError("net.device=None is not supported: the estimator moves the selections' "
                         "data to the net's device. Set net__device='cpu' or 'cuda'.")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"net.device={net.device!r} is not a torch device; use 'cpu' or "
                         f"'cuda'.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"net.device={net.device!r} but CUDA is not available; use "
                         f"net__device='cpu'.")
