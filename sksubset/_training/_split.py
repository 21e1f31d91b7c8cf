"""The training pool and the held-out rows of a fit, split once before training."""


import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset, Subset

from .._utils.budget import holdout_size
from ..data import dataset_labels

__all__ = ["split", "ValidationDataset"]


def split(valid_size, train_split, examples, y, rng):
    """The training pool and the validation rows of a fit.

    With ``valid_size``, a hold-out stratified by the labels ``y`` (seeded by
    ``rng``; ``y=None``, a regressor's: not stratified); else the net's
    ``train_split`` applied once to all the data (``valid`` is None without
    one).

    Returns
    -------
    pool : ndarray of int
        Sorted indices of the training rows into ``examples``.
    valid : ndarray of int, torch Dataset or None
        Sorted indices of the validation rows; or the validation dataset of
        a ``train_split`` that returns its own, as
        :func:`skorch.helper.predefined_split` does (then ``pool`` is every
        row); or None.

    Raises
    ------
    ValueError
        When the hold-out or the pool would lack a class, or ``train_split``
        fails on the data.
    TypeError
        When ``train_split`` returns something else than ``(a Subset of the
        data, a Subset of the data)`` as skorch's ``ValidSplit`` does or ``(the
        data, a validation Dataset)`` as ``predefined_split`` does.
    """
    n = len(examples) if y is None else len(y)
    if valid_size is not None:
        n_valid = holdout_size(valid_size, n)
        n_classes = 1 if y is None else len(np.unique(y))
        if n_valid < n_classes or n - n_valid < n_classes:
            each = "one example" if y is None else f"one example of each of the {n_classes} classes"
            raise ValueError(f"valid_size={valid_size} leaves {n_valid} validation and "
                             f"{n - n_valid} training examples; each part needs at least "
                             f"{each}. Change valid_size, or use valid_size=None.")
        try:
            pool, valid = train_test_split(np.arange(n), test_size=n_valid, stratify=y,
                                           random_state=rng.randint(2**31 - 1))
        except ValueError as exc:  # a class too small to appear on both sides
            raise ValueError(f"valid_size={valid_size} cannot hold out a part stratified by "
                             f"class: {exc} Every class needs at least 2 examples for a "
                             f"hold-out; use valid_size=None, or drop or merge the rarest "
                             f"classes.") from None
        return np.sort(pool), np.sort(valid)
    if train_split is None:
        return np.arange(n), None
    try:
        parts = train_split(examples, y)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"net.train_split ({type(train_split).__name__}) failed on the "
                         f"training data: "
                         f"{exc} Give the net a train_split that works on it (for a regressor, "
                         f"ValidSplit(..., stratified=False)), or use valid_size instead."
                         ) from exc
    if not isinstance(parts, (tuple, list)) or len(parts) != 2:
        raise TypeError(f"net.train_split must return (training part, validation part), as "
                        f"skorch's ValidSplit and predefined_split do; got "
                        f"{type(parts).__name__}.")
    ds_train, ds_valid = parts
    if ds_valid is None:
        return np.arange(n), None
    if ds_train is examples:  # predefined_split: its own validation data
        return np.arange(n), ds_valid
    if (isinstance(ds_train, Subset) and isinstance(ds_valid, Subset)
            and ds_train.dataset is examples and ds_valid.dataset is examples):
        return np.sort(np.asarray(ds_train.indices)), np.sort(np.asarray(ds_valid.indices))
    raise TypeError(f"net.train_split must return two torch Subsets of the data it is given "
                    f"(as skorch's ValidSplit does) or the data itself and a validation "
                    f"Dataset (as skorch's predefined_split does); got "
                    f"({type(ds_train).__name__}, {type(ds_valid).__name__}). Use valid_size "
                    f"to hold out part of the data instead.")


class ValidationDataset(Dataset):
    """The validation dataset of a ``train_split`` (``predefined_split``), as the net takes it.

    Items ``(x, y)`` of the dataset given, with floating inputs as float32
    (as the training inputs) and labels encoded as the training labels: a
    classifier's as indices into ``classes``, a regressor's as float32 rows
    of ``n_outputs`` targets.

    Raises
    ------
    ValueError
        When the dataset's items are not ``(x, y)`` pairs, a label is not one
        of ``classes``, or a regressor's targets have another number of
        columns.
    """

    def __init__(self, dataset, classes=None, n_outputs=1):
        what = "the validation dataset of net.train_split (predefined_split)"
        if len(dataset) == 0:
            raise ValueError(f"{what.capitalize()} is empty.")
        item = dataset[0]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(f"The items of {what} must be (x, y) pairs; its first item is a "
                             f"{type(item).__name__}.")
        labels = np.asarray(dataset_labels(dataset))
        if classes is not None:
            idx = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
            unknown = labels[classes[idx] != labels]
            if len(unknown):
                label = unknown[:1].tolist()[0]
                raise ValueError(f"{what.capitalize()} holds the label {label!r}, which is not "
                                 f"among the classes of y ({classes.tolist()}).")
            self.y = torch.as_tensor(idx, dtype=torch.long)
        else:
            targets = labels.astype(np.float32).reshape(len(labels), -1)
            if targets.shape[1] != n_outputs:
                raise ValueError(f"{what.capitalize()} has targets of {targets.shape[1]} "
                                 f"columns; y has {n_outputs}.")
            self.y = torch.as_tensor(targets)
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        x = self.dataset[i][0]
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            x = torch.from_numpy(x.astype(np.float32))
        elif isinstance(x, torch.Tensor) and x.is_floating_point():
            x = x.float()
        return x, self.y[i]
