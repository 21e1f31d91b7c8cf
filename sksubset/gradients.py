"""Closed-form last-layer gradients of a skorch classifier (or regressor).

For a net whose last ``nn.Linear`` maps an embedding ``h`` (its input) to the
logits ``z``, the gradient of one example's cross-entropy loss with respect to
that layer is an outer product::

    dL/db = e              (one entry per class)
    dL/dW = e h^T          (classes x embedding)
    e     = dL/dz = softmax(z) - onehot(y)

so a per-example gradient is fully described by two small *factors*: ``e``
(``n_classes`` numbers) and ``[1, h]`` (``n_hidden + 1`` numbers).  Everything
here works on those factors, on the net's own device, in chunks, without
autograd over the model:

* :func:`last_layer_gradients` is the public entry point: it checks its
  arguments, runs the module once (eval mode, no autograd; :func:`last_layer`)
  and returns a :class:`LastLayer` holding ``E`` (n, C), ``Hb`` (n, H + 1),
  the logits and the labels.  Every selector's ``fit`` accepts it in place of
  a gradient matrix and works on the factors (see :class:`LastLayer`);
* :func:`sample_gradients` expands them into the ``(n, C * (H + 1))`` matrix of
  per-example gradients;
* :func:`class_gradients` gives each example's gradient restricted to the
  parameters of its own class (the per-class-per-gradient approximation),
  ``(n, H + 1)``;
* :func:`batch_gradients` gives mean gradients of mini-batches, ``(n_batches,
  C * (H + 1))``, without ever forming the per-example matrix.

Gradient layout
---------------
Columns come in ``C`` blocks of ``H + 1``: block ``c`` holds the gradient of
the bias of output unit ``c`` followed by the gradient of row ``c`` of the
weight matrix.  A class's own slice (per-class-per-gradient) is therefore the
contiguous block ``c * (H + 1) : (c + 1) * (H + 1)``.

Supported losses
----------------
Both skorch conventions of :class:`skorch.NeuralNetClassifier`:

* ``criterion=torch.nn.CrossEntropyLoss`` with a module that ends in the
  logits of its last ``nn.Linear``;
* skorch's default ``criterion=torch.nn.NLLLoss`` with a module whose output is
  ``softmax`` of those logits (skorch then takes ``log(p + eps)``; the factor
  ``p_y / (p_y + eps)`` this introduces is included).

Class weights (``criterion__weight``) and label smoothing are honoured.  A
:class:`skorch.NeuralNetRegressor` whose module ends in its last ``nn.Linear``,
with ``MSELoss``, ``L1Loss``, ``SmoothL1Loss`` or ``HuberLoss``, has the same
factored gradients, ``e = dl/dyhat`` with one column per output
(``sksubset/_regression.py``).  Any other arrangement raises a ``ValueError``
saying what is supported.
"""

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from torch import nn

from ._factors import (
    batch_gradients,
    class_gradients,
    gradient_sum,
    random_batches,
    sample_gradients,
)
from ._outputs import SUPPORTED, check_finite_outputs, check_output, loss_kind, output_factors
from ._regression import RegressionLoss

__all__ = [
    "LastLayer",
    "find_last_linear",
    "last_layer_gradients",
    "last_layer",
    "last_layer_params",
    "sample_gradients",
    "class_gradients",
    "batch_gradients",
    "gradient_sum",
    "random_batches",
]


@dataclass
class LastLayer:
    """Last-layer quantities of a set of examples, on the net's device.

    The per-example last-layer gradient is the outer product of a row of ``E``
    and the same row of ``Hb`` (:func:`sample_gradients`): a ``LastLayer``
    stands for the ``(n, C * (H + 1))`` gradient matrix (its ``shape``) while
    storing ``C + H + 1`` numbers per row instead of ``C * (H + 1)``.  Every
    selector's ``fit`` accepts it in place of that matrix, and ``ll[rows]`` (or
    a selector's ``transform``) gives the same quantities for some rows.

    The name: it holds everything a selector may know of the net's last layer
    on these examples (the factors of the gradients, and the logits and labels
    that GLISTER's re-linearization and CREST's features need), the same
    object a training run hands to the selectors each round.

    Attributes
    ----------
    E : torch.Tensor of shape (n, n_classes)
        Gradient of each example's loss with respect to the logits.
    Hb : torch.Tensor of shape (n, n_hidden + 1)
        ``[1, h]``: a constant (for the bias) and the input of the last layer.
    Z : torch.Tensor of shape (n, n_classes)
        The logits.
    y : torch.Tensor of shape (n,)
        Encoded labels; 0 for every row of a regressor's (no classes: one group).
    target : torch.Tensor of shape (n, n_outputs) or None
        A regressor's targets (``None`` for a classifier's); then ``E``, ``Z``
        have one column per output, ``Z`` holds the predictions.
    loss : RegressionLoss or None
        A regressor's loss in closed form (``sksubset/_regression.py``);
        ``None`` for a classifier's cross-entropy.
    """

    E: torch.Tensor
    Hb: torch.Tensor
    Z: torch.Tensor
    y: torch.Tensor
    target: torch.Tensor | None = None
    loss: RegressionLoss | None = None

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):
        """The same quantities for a subset of the examples."""
        return LastLayer(self.E[idx], self.Hb[idx], self.Z[idx], self.y[idx],
                         None if self.target is None else self.target[idx], self.loss)

    @property
    def shape(self):
        """``(n, C * (H + 1))``: the shape of the gradient matrix the factors stand for."""
        return (len(self.y), self.E.shape[1] * self.Hb.shape[1])

    @property
    def device(self):
        return self.E.device

    def dense(self):
        """The per-example gradients as a dense tensor (:func:`sample_gradients`)."""
        return sample_gradients(self.E, self.Hb)

    @property
    def gradient_sum(self):
        """Sum of the per-example gradients, flattened (:func:`gradient_sum`)."""
        return gradient_sum(self.E, self.Hb)

    def losses(self, Z=None):
        """Per-example loss at outputs ``Z`` (default: ``self.Z``): cross-entropy of the
        logits, or the regressor's loss."""
        Z = self.Z if Z is None else Z
        if self.loss is not None:
            return self.loss.losses(Z, self.target)
        return torch.nn.functional.cross_entropy(Z, self.y, reduction="none")


def find_last_linear(module):
    """Return the last ``nn.Linear`` registered in ``module`` (the output layer)."""
    last = None
    for m in module.modules():
        if isinstance(m, nn.Linear):
            last = m
    if last is None:
        raise ValueError(f"The module has no nn.Linear layer; {SUPPORTED}.")
    return last


def last_layer_params(module):
    """Parameters of the last ``nn.Linear`` flattened in the gradient layout.

    Block ``c`` holds bias ``c`` followed by weight row ``c``, like the
    columns of :func:`sample_gradients`.
    """
    layer = find_last_linear(module)
    W = layer.weight.detach()
    b = layer.bias.detach() if layer.bias is not None else W.new_zeros(W.shape[0])
    return torch.cat([b.unsqueeze(1), W], dim=1).reshape(-1)


def _loss_kind(net):
    """The kind of ``net``'s criterion (:func:`sksubset._outputs.loss_kind`): a classifier's
    (``"logits"``, ``"probabilities"``) or, for any other net, a regression loss too."""
    base = getattr(net, "_net", net)  # a data-parallel run's local view of the net
    return loss_kind(net.criterion_, classifier=isinstance(base, ClassifierMixin))


def last_layer_gradients(net, X, y, *, batch_size=None):
    """Per-example last-layer gradients of a skorch classifier, as factors on its device.

    The gradient of example ``i``'s loss (the net's criterion) with respect
    to the weights and bias of the net's last ``nn.Linear`` is the outer
    product ``e_i [1, h_i]^T``; this returns the two factors for every row of
    ``X`` (one forward pass in eval mode, no autograd), never the
    ``(n, C * (H + 1))`` matrix.  Give the result to any selector's ``fit``
    in place of a gradient matrix::

        G = last_layer_gradients(net, X, y)
        sel = GradMatchSelector(budget=0.1, per_class=True).fit(G, y)
        X_subset, w = sel.transform(X), sel.weights_

    and the same call on held-out data gives the validation target:
    ``fit(G, y, target=last_layer_gradients(net, X_valid, y_valid))``.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        An initialized (usually fitted) net whose module ends in its last
        ``nn.Linear`` (logits, with ``CrossEntropyLoss``) or in the softmax
        of it (skorch's default ``NLLLoss``).
    X : array-like or torch.Tensor of shape (n_samples, ...)
        Inputs, as the module takes them.
    y : array-like or torch.Tensor of shape (n_samples,)
        Integer class indices ``0 .. n_classes - 1``, as the net's criterion
        takes them.
    batch_size : int, optional
        Rows per forward pass (see :func:`last_layer`).

    Returns
    -------
    LastLayer
        Factors ``E``, ``Hb``, logits ``Z`` and labels ``y`` on ``net.device``;
        ``shape`` is that of the gradient matrix, ``dense()`` forms it.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sksubset.gradients import last_layer_gradients
    >>> X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    >>> y = np.arange(60) % 3
    >>> module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                              torch.nn.Linear(8, 3))
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
    ...                           max_epochs=1, train_split=None, verbose=0).fit(X, y)
    >>> G = last_layer_gradients(net, X, y)
    >>> G.shape, tuple(G.E.shape), tuple(G.Hb.shape)
    ((60, 27), (60, 3), (60, 9))
    """
    if not getattr(net, "initialized_", False) or not hasattr(net, "module_"):
        raise ValueError("net must be an initialized skorch net (call net.fit(...) or "
                         "net.initialize() first).")
    n_classes = find_last_linear(net.module_).out_features
    yt = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    if len(X) != len(yt):
        raise ValueError(f"X has {len(X)} rows but y has {len(yt)} entries.")
    if len(yt) == 0:
        raise ValueError("X and y must have at least one row.")
    if isinstance(_loss_kind(net), RegressionLoss):
        if not yt.is_floating_point() or yt.ndim not in (1, 2) or yt[0].numel() != n_classes:
            raise ValueError(f"y must hold real targets of shape (n_samples, {n_classes}) (or "
                             f"(n_samples,) for one output), one per output of the net's "
                             f"last layer; got {yt.dtype} of shape {tuple(yt.shape)}.")
        if not bool(torch.isfinite(yt).all()):
            raise ValueError("y contains NaN or infinite values; it must be finite.")
        return last_layer(net, X, yt, batch_size=batch_size)
    if yt.is_floating_point() or yt.is_complex() or yt.dtype == torch.bool:
        raise TypeError(f"y must hold integer class indices 0..{n_classes - 1}, as the net's "
                        f"criterion takes them; got dtype {yt.dtype}.")
    if yt.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,); got shape {tuple(yt.shape)}.")
    if int(yt.min()) < 0 or int(yt.max()) >= n_classes:
        raise ValueError(f"y must hold class indices 0..{n_classes - 1} (the net's last layer "
                         f"has {n_classes} outputs); got values from {int(yt.min())} to "
                         f"{int(yt.max())}.")
    return last_layer(net, X, yt, batch_size=batch_size)


def _chunks(X, y, batch_size):
    """``(X[s:s+bs], y[s:s+bs])`` chunks of in-memory inputs."""
    for start in range(0, len(y), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def last_layer(net, X, y=None, *, batch_size=None):
    """Last-layer gradient factors of a fitted skorch net on ``X`` (arguments unchecked).

    :func:`last_layer_gradients` is the checked, public form.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        An initialized net (``net.module_`` and ``net.criterion_`` exist).
    X : array-like, torch.Tensor or iterable of ``(x, y)`` batches
        Inputs of shape ``(n_samples, ...)``, as the module takes them; or,
        with ``y=None``, a stream of batches such as a
        :class:`torch.utils.data.DataLoader` yielding ``(x, y)`` with integer
        labels, read once, of which only the factors are kept.
    y : array-like or torch.Tensor of shape (n_samples,), optional
        Integer class labels ``0 .. C-1`` of array inputs.
    batch_size : int, optional
        Chunk size of the forward passes over array inputs (default 512 on the
        CPU, where larger chunks fall out of the caches, and 8192 on a GPU).

    Returns
    -------
    LastLayer
        ``E`` (``dL/dz``), ``Hb`` (``[1, h]``, ``h`` the input of the last
        linear layer), the logits ``Z`` and ``y``, all on ``net.device``.

    Raises
    ------
    sksubset.exceptions.DivergenceError
        When logits or the last layer's inputs are NaN or infinite.
    ValueError
        When the module's output is not what its criterion expects.

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                              torch.nn.Linear(8, 3))
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss).initialize()
    >>> X, y = torch.randn(10, 4), torch.arange(10) % 3
    >>> ll = last_layer(net, DataLoader(TensorDataset(X, y), batch_size=4))
    >>> ll.E.shape, ll.Hb.shape
    (torch.Size([10, 3]), torch.Size([10, 9]))
    >>> bool(torch.allclose(ll.E, last_layer(net, X, y).E))
    True
    """
    module, criterion = net.module_, net.criterion_
    kind = _loss_kind(net)
    layer = find_last_linear(module)
    device = torch.device(net.device)
    if y is None:
        batches = X
        try:  # a DataLoader (or our chunks) knows the number of examples: preallocate
            n = len(X.dataset)
        except (AttributeError, TypeError):
            n = None
    else:
        y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
        n = len(y)
        batches = _chunks(X, y, batch_size or (512 if device.type == "cpu" else 8192))
    captured = {}

    def hook(mod, inputs, output):
        captured["h"], captured["z"] = inputs[0], output

    handle = layer.register_forward_hook(hook)
    was_training = module.training
    module.eval()
    parts, start = [], 0
    out_ = None  # (E, Z, Hb, labels, targets), preallocated at the first batch
    try:
        with torch.inference_mode():
            for xb, yb in batches:
                if not isinstance(xb, torch.Tensor):
                    xb = torch.as_tensor(np.asarray(xb))
                out = net.infer(xb.to(device))
                z = captured["z"]
                h = captured["h"].reshape(len(z), -1)
                if not parts and out_ is None:
                    check_finite_outputs(z, h, out)
                    check_output(out, z, kind)
                e, labels, target, loss = output_factors(z, out, torch.as_tensor(yb).to(device),
                                                         criterion, kind)
                rows = (e, z, h, labels) + (() if target is None else (target,))
                if n is None:
                    parts.append(rows)
                    continue
                if out_ is None:
                    out_ = [torch.empty((n,) + tuple(t.shape[1:]), device=device, dtype=t.dtype)
                            for t in rows]
                    out_[2] = torch.ones(n, h.shape[1] + 1, device=device, dtype=z.dtype)
                stop = start + len(z)
                for i, t in enumerate(rows):  # h goes after Hb's column of ones
                    if i == 2:
                        out_[i][start:stop, 1:] = t
                    else:
                        out_[i][start:stop] = t
                start = stop
    finally:
        handle.remove()
        module.train(was_training)
    if n is None:
        if not parts:
            raise ValueError("last_layer got no batches; it needs at least one example.")
        out_ = [torch.cat(c) for c in zip(*parts)]
        h = out_[2]
        out_[2] = torch.cat([torch.ones(len(h), 1, device=device, dtype=h.dtype), h], dim=1)
    elif start != n:
        raise ValueError(f"The batches held {start} examples; their dataset has {n}.")
    E, Z, Hb, Y = out_[:4]
    check_finite_outputs(Z, Hb[:, 1:])
    return LastLayer(E, Hb, Z, Y, *(out_[4:] + [loss] if len(out_) > 4 else []))
