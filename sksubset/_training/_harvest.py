"""What training already computed: each example's latest last-layer input and logits.

Every training mini-batch runs the module forward over its examples, computing
the input ``h`` of the last ``nn.Linear`` and that layer's output, the logits
``z``: everything a last-layer gradient needs (:mod:`sksubset.gradients`).
A :class:`Harvest` keeps them, the latest per example of the training pool,
so that a selection round needs a forward pass only over the candidates that
training has not visited since the last round:

* in the epochs whose outputs a round will read (the run decides: the epoch
  before each scheduled round, since it trains the whole subset), a forward hook
  on the last linear layer (:func:`~sksubset.gradients.find_last_linear`)
  is registered while a training mini-batch runs (:meth:`Harvest.begin_batch`)
  and removed after it (:meth:`Harvest.end_batch`), which writes the captured
  ``[1, h]`` and ``z`` at the batch's rows (the :class:`~._dataset.SubsetDataset`
  yields each example's row with its target) into buffers of shape
  ``(n_pool, ...)``, on the net's device, float32, allocated at the first batch;
* a mask marks the rows trained since the last selection round
  (:meth:`Harvest.free`); the run clears it after each round (:meth:`Harvest.reset`);
* :meth:`Harvest.factors` gives the :class:`~sksubset.gradients.LastLayer` of some
  rows: the marked ones from the buffers (``E`` from the harvested logits by
  :func:`sksubset._outputs.output_factors`, the net's criterion with its class
  weights and label smoothing, or a regressor's loss), the others from one
  forward pass over just them.

What a harvested row holds differs from a fresh pass in two ways, on purpose:
it was computed in training mode (dropout active, batch-norm on the batch's
statistics) before the optimizer's step of its batch, up to one epoch before
the round; and it is the input the net trained on, that is, for a Dataset with
a transform (augmentation), the transformed example of that epoch.
"""

import numpy as np
import torch

from .._outputs import check_finite_outputs, loss_kind, output_factors
from ..gradients import LastLayer, find_last_linear

__all__ = ["Harvest"]


class Harvest:
    """The latest ``[1, h]`` and logits of each pool row, from training's own passes.

    Parameters
    ----------
    n : int
        Rows of the training pool (the row indices the dataset yields).
    device : torch.device
        Where the buffers live (the net's device).
    """

    def __init__(self, n, device):
        self.n, self.device = int(n), torch.device(device)
        self.Hb = self.Z = None  # (n, H + 1) and (n, C), allocated at the first batch
        self.trained = np.zeros(self.n, dtype=bool)  # rows trained since the last round
        self._handle = self._captured = None
        self._layer = None  # (module, its last linear layer), found at the first batch

    # -- while training ----------------------------------------------------------
    def begin_batch(self, module):
        """Capture the last linear layer's input and output of the coming training batch."""
        self.close()
        self._captured = None
        if self._layer is None or self._layer[0] is not module:
            self._layer = (module, find_last_linear(module))
        self._handle = self._layer[1].register_forward_hook(self._hook)

    def _hook(self, layer, inputs, output):
        self._captured = (inputs[0], output)  # the last call wins (e.g. a closure optimizer)

    def end_batch(self, rows):
        """Write the captured tensors at ``rows`` (the batch's pool rows) and mark them."""
        self.close()
        captured, self._captured = self._captured, None
        if captured is None or rows is None:
            return
        rows = torch.as_tensor(rows).reshape(-1).cpu()
        h, z = captured
        h, z = h.detach().reshape(len(h), -1), z.detach()
        if z.ndim != 2 or len(h) != len(rows) or len(z) != len(rows):
            return  # not one row per example: nothing to keep from this batch
        if self.Hb is None:
            self.Hb = torch.ones(self.n, h.shape[1] + 1, device=self.device,
                                 dtype=torch.float32)
            self.Z = torch.zeros(self.n, z.shape[1], device=self.device, dtype=torch.float32)
        at = rows.to(self.device)
        self.Hb[at, 1:] = h.to(self.device, torch.float32)
        self.Z[at] = z.to(self.device, torch.float32)
        self.trained[rows.numpy()] = True

    def close(self):
        """Remove the hook (after a batch, or when training stops)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    # -- at a selection round ------------------------------------------------------
    def free(self):
        """Rows trained since the last round, sorted: their factors cost no forward pass."""
        return np.flatnonzero(self.trained)

    def reset(self):
        """Start a new round: no row trained since."""
        self.trained[:] = False

    def factors(self, idx, y, criterion, forward):
        """The :class:`~sksubset.gradients.LastLayer` of pool rows ``idx``.

        Parameters
        ----------
        idx : ndarray of int or None
            Pool rows, in the order of the result (``None``: all of them).
        y : torch.Tensor
            Encoded labels (a regressor's targets) of the whole pool.
        criterion : torch.nn.Module
            The net's criterion (``CrossEntropyLoss`` or ``NLLLoss`` kind, or a
            regression loss).
        forward : callable ``rows -> LastLayer``
            A forward pass over some pool rows (``None``: all), for those not trained
            since the last round.

        Returns
        -------
        ll : LastLayer
        n_harvested, n_forward : int
            Rows from the buffers and from the forward pass.

        Raises
        ------
        sksubset.exceptions.DivergenceError
            When harvested logits or last-layer inputs are NaN or infinite.
        """
        rows = np.arange(self.n) if idx is None else np.asarray(idx, dtype=np.int64)
        have = self.trained[rows]
        if self.Hb is None or not have.any():
            return forward(idx), 0, len(rows)
        ours, rest = np.flatnonzero(have), np.flatnonzero(~have)
        at = torch.as_tensor(rows[ours], device=self.device)
        Z, Hb = self.Z[at], self.Hb[at]
        check_finite_outputs(Z, Hb[:, 1:])
        yt = y[torch.as_tensor(rows[ours])].to(self.device)
        kind = loss_kind(criterion)
        p = torch.softmax(Z, dim=1) if kind == "probabilities" else Z  # the module's output
        E, labels, target, loss = output_factors(Z, p, yt, criterion, kind)
        harvested = LastLayer(E, Hb, Z, labels, target, loss)
        if not len(rest):
            return harvested, len(ours), 0
        fresh = forward(rows[rest])
        return _interleave(harvested, ours, fresh, rest), len(ours), len(rest)


def _interleave(a, pos_a, b, pos_b):
    """One LastLayer holding ``a``'s rows at positions ``pos_a`` and ``b``'s at ``pos_b``."""
    dtype = torch.promote_types(a.E.dtype, b.E.dtype)
    device = b.E.device
    n = len(pos_a) + len(pos_b)
    pa, pb = torch.as_tensor(pos_a, device=device), torch.as_tensor(pos_b, device=device)
    parts = []
    pairs = [(a.E, b.E), (a.Hb, b.Hb), (a.Z, b.Z), (a.y, b.y)]
    if b.target is not None:  # a regressor's targets
        pairs.append((a.target, b.target))
    for ta, tb in pairs:
        dt = tb.dtype if tb.dtype == torch.long else dtype
        out = torch.empty((n,) + tuple(tb.shape[1:]), device=device, dtype=dt)
        out[pa] = ta.to(device, dt)
        out[pb] = tb.to(dt)
        parts.append(out)
    return LastLayer(*parts, loss=b.loss)
