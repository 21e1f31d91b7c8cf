"""Training data of a fit, whether arrays or a torch ``Dataset``, behind one interface.

:meth:`SubsetTrainingClassifier.fit <sksubset.SubsetTrainingClassifier.fit>`
accepts three kinds of input; this module turns each into the same objects,
so that the classifier and the selectors never ask which kind they got:

* arrays ``X`` of shape ``(n, ...)`` and labels ``y``: validated into one
  float32 array, as scikit-learn estimators do;
* a :class:`torch.utils.data.Dataset` whose items are ``(x, y)`` pairs, with
  ``y=None`` (skorch's convention).  Every read of an example goes through
  the dataset, so its transform (augmentation) runs each time an example is
  trained on, and subsets are index views of it, never copies of the data;
* a :class:`skorch.helper.SliceDataset` of such a dataset, with the labels
  as ``y`` (an array, or ``SliceDataset(dataset, idx=1)``): what scikit-learn's
  splitters need in ``GridSearchCV`` and ``cross_val_score``.  It is read
  through the dataset it wraps, at its indices.

Labels of a dataset are read once: from its ``targets`` attribute when it
has one (torchvision's datasets do; also through ``Subset`` and skorch's
``Dataset``), else by one pass over it.

``Rows`` are the inputs of some examples (an index view); the selection
pass streams over them in batches (``Rows.batches``): chunks of the
array, or a ``DataLoader`` built from the net's own inference-iterator
settings (``batch_size``, ``iterator_valid__num_workers``,
``iterator_valid__pin_memory``, ``iterator_valid__collate_fn``), so that only
the last-layer factors of the examples are kept, never their inputs.

Clean or augmented selection
----------------------------
By default a selection round reads the examples through the same dataset as
training, hence through its augmentation, as the GRAD-MATCH paper's code
(CORDS) does: its selection loader iterates the training set, random crop and
flip included.  To select on clean examples, pass
``SelectionView(train_dataset, clean_dataset)``: two datasets over the same
examples in the same order, the first read for training, the second for the
selection passes and the hold-out of ``valid_size``.
"""

import numpy as np
import torch
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.validation import validate_data
from skorch.helper import SliceDataset
from torch.utils.data import DataLoader, Dataset

from ._utils.validation import from_numpy

# the public name; the rest serves the classifier and the selection passes
__all__ = ["SelectionView"]


class SelectionView(Dataset):
    """Train through one dataset, select through another over the same examples.

    Parameters
    ----------
    train : torch.utils.data.Dataset
        Items ``(x, y)`` read for training (typically with augmentation).
    select : torch.utils.data.Dataset
        The same examples in the same order (typically without augmentation),
        read by the selection passes and for the ``valid_size`` hold-out.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> X, y = torch.rand(6, 2), torch.tensor([0, 1, 0, 1, 0, 1])
    >>> view = SelectionView(TensorDataset(X + 1, y), TensorDataset(X, y))
    >>> len(view), bool((view[0][0] == X[0] + 1).all())
    (6, True)
    """

    def __init__(self, train, select):
        if len(train) != len(select):
            raise ValueError(f"SelectionView needs two datasets of the same length; got "
                             f"{len(train)} (train) and {len(select)} (select).")
        self.train = train
        self.select = select

    def __len__(self):
        return len(self.train)

    def __getitem__(self, i):
        return self.train[i]


def is_dataset(X):
    """Whether ``X`` is read example by example (a torch Dataset or a SliceDataset)."""
    return isinstance(X, (Dataset, SliceDataset))


class _Field:
    """``item[pos]`` of ``dataset[j]`` (a picklable reader, for DataLoader workers)."""

    def __init__(self, dataset, pos):
        self.dataset, self.pos = dataset, pos

    def __call__(self, j):
        return self.dataset[int(j)][self.pos]


def _compose(index, idx):
    idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
    return idx if index is None else index[idx]


class Rows:
    """Inputs of a set of examples: ``rows[i]`` reads example ``i``.

    Built by :func:`read_training_data`; :meth:`take` gives index views.
    """

    def __init__(self, index=None):
        self.index = index

    def _n_source(self):  # pragma: no cover - interface
        raise NotImplementedError

    def __len__(self):
        return self._n_source() if self.index is None else len(self.index)

    def take(self, idx):
        """The rows ``idx`` of these rows, as a view."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view.index = _compose(self.index, idx)
        return view

    def clean(self):
        """These rows as the selection reads them (see :class:`SelectionView`)."""
        return self

    @property
    def selected_as_trained(self):
        """Whether the selection reads these rows as training does (no :class:`SelectionView`)."""
        return True

    def batches(self, net, y, seed=0):  # pragma: no cover - interface
        """Iterable of ``(x, y)`` batches of the clean rows, in order, for an inference pass.

        ``seed`` seeds the generator of a ``DataLoader`` (its workers' seeds).
        """
        raise NotImplementedError


class _ArrayRows(Rows):
    """Rows of one in-memory tensor."""

    def __init__(self, X, index=None):
        super().__init__(index)
        self.X = X

    def _n_source(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i] if self.index is None else self.X[self.index[i]]

    def batches(self, net, y, seed=0):
        device = torch.device(net.device)
        bs = 512 if device.type == "cpu" else 8192  # larger CPU chunks fall out of the caches
        return _Chunks(self, y, bs)


class _Chunks:
    """Consecutive chunks ``(X[rows], y)`` of array rows (one chunk in memory at a time)."""

    def __init__(self, rows, y, batch_size):
        self.rows, self.y, self.batch_size = rows, torch.as_tensor(y), batch_size
        self.dataset = rows  # its length is the number of examples (as a DataLoader's)

    def __iter__(self):
        X, index = self.rows.X, self.rows.index
        for s in range(0, len(self.rows), self.batch_size):
            part = slice(s, s + self.batch_size)
            yield (X[part] if index is None else X[index[part]]), self.y[part]


class _DatasetRows(Rows):
    """Rows read one by one through a dataset (``train``), and ``select`` for inference."""

    def __init__(self, train, select, n, index=None):
        super().__init__(index)
        self.train, self.select, self.n = train, select, n

    def _n_source(self):
        return self.n

    def _source(self, i):
        return int(i) if self.index is None else int(self.index[int(i)])

    def __getitem__(self, i):
        return self.train(self._source(i))

    def clean(self):
        return _DatasetRows(self.select, self.select, self.n, self.index)

    @property
    def selected_as_trained(self):
        return self.select is self.train

    def batches(self, net, y, seed=0):
        kwargs = net.get_params_for("iterator_valid")
        kwargs.setdefault("batch_size", net.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(self)
        kwargs["shuffle"] = False
        # an own generator: workers' seeds drawn from it, never from the global torch stream
        kwargs.setdefault("generator", torch.Generator().manual_seed(int(seed)))
        return net.iterator_valid(Examples(self.clean(), y), **kwargs)


class Examples(Dataset):
    """``(x, y)`` items of some rows and their encoded labels (a torch Dataset).

    Parameters
    ----------
    rows : Rows
    y : array-like of shape (len(rows),) or (len(rows), n_outputs)
        Encoded labels (held as int64), or a regressor's real targets (held
        as given, a float tensor).
    """

    def __init__(self, rows, y):
        self.rows = rows
        y = torch.as_tensor(np.asarray(y))
        self.y = y if y.is_floating_point() else y.to(torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.rows[i], self.y[i]

    def take(self, idx):
        """The examples ``idx``, as a view."""
        return Examples(self.rows.take(idx), self.y[torch.as_tensor(np.asarray(idx))])

    def clean(self):
        """The same examples as the selection reads them (see :class:`SelectionView`)."""
        return Examples(self.rows.clean(), self.y)

    def batches(self, net, seed=0):
        """Inference batches of these examples (see :meth:`Rows.batches`)."""
        return self.rows.batches(net, self.y, seed)


# -- labels ----------------------------------------------------------------------
class _Column:
    """Collate function keeping item ``pos`` of each item of a batch."""

    def __init__(self, pos):
        self.pos = pos

    def __call__(self, batch):
        return [item[self.pos] for item in batch]


def _to_numpy(labels):
    if isinstance(labels, torch.Tensor):
        return labels.detach().cpu().numpy()
    values = [v.item() if isinstance(v, torch.Tensor) else v for v in labels]
    return np.asarray(values)


def _stored_labels(ds):
    """Labels a dataset exposes without reading its examples, or None."""
    if isinstance(ds, SelectionView):
        return _stored_labels(ds.train)
    if isinstance(ds, torch.utils.data.Subset):
        inner = _stored_labels(ds.dataset)
        return None if inner is None else inner[np.asarray(ds.indices)]
    for attr in ("targets", "y"):
        labels = getattr(ds, attr, None)
        if labels is not None and not callable(labels):
            labels = _to_numpy(labels)
            if labels.ndim >= 1 and len(labels) == len(ds):
                return labels
    return None


def _dataset_labels(ds, indices, pos=1):
    """Labels (item ``pos``) of ``ds`` at ``indices``: stored ones, else one pass."""
    stored = _stored_labels(ds) if pos == 1 else None
    if stored is not None:
        return stored if indices is None else stored[np.asarray(indices)]
    view = ds if indices is None else torch.utils.data.Subset(ds, np.asarray(indices))
    loader = DataLoader(view, batch_size=256, collate_fn=_Column(pos), generator=torch.Generator())
    out = []
    for part in loader:
        out.extend(part)
    return _to_numpy(out)


def _check_labels(y, n, multi_output=False):
    y = check_array(np.asarray(y), ensure_2d=False, dtype=None, ensure_all_finite=True,
                    input_name="y")
    if not multi_output or y.ndim == 1:
        y = column_or_1d(y, warn=True)
    if len(y) != n:
        raise ValueError(f"X has {n} examples but y has {len(y)} labels.")
    return y


def dataset_labels(X):
    """Labels of the examples of a Dataset ``X`` (see :func:`read_training_data`).

    Raises
    ------
    TypeError
        When ``X`` is not a Dataset (arrays need their ``y``).
    """
    if isinstance(X, SliceDataset):
        return _dataset_labels(X.dataset, X.indices_, 1 if X.idx == 0 else X.idx)
    if isinstance(X, Dataset):
        return _dataset_labels(X, None)
    raise TypeError(f"y is required when X is not a torch Dataset; got X of type "
                    f"{type(X).__name__} and y=None.")


# -- what fit and predict were given ----------------------------------------------
def _unwrap(X):
    """``(dataset, position of x in its items, indices)`` of a Dataset or SliceDataset."""
    if isinstance(X, SliceDataset):
        return X.dataset, X.idx, np.asarray(X.indices_)
    return X, 0, None


def read_training_data(estimator, X, y, multi_output=False):
    """The rows and labels of what ``fit(X, y)`` was given.

    Parameters
    ----------
    estimator : BaseEstimator
        Gets ``n_features_in_`` for array input (scikit-learn's
        ``validate_data``); loses a stale one for Dataset input.
    X : array-like, torch.utils.data.Dataset or skorch.helper.SliceDataset
        Arrays of shape ``(n, ...)``; or a Dataset of ``(x, y)`` items with
        ``y=None``; or a SliceDataset (``idx=0``) of such a dataset with ``y``.
    y : array-like of shape (n,), SliceDataset or None
        Of shape (n, n_outputs) too with ``multi_output`` (a regressor's).
    multi_output : bool, default=False

    Returns
    -------
    rows : Rows
        The inputs, read lazily from a Dataset.
    y : ndarray of shape (n,)
        The labels as given (not encoded), validated.

    Raises
    ------
    ValueError
        For a Dataset with ``y`` given, or whose items are not ``(x, y)``
        pairs, or labels whose length differs from the number of examples.
    """
    if not is_dataset(X):  # validate_data says that arrays need y
        X, y = _validate(estimator, "fit", X, y, allow_nd=True, dtype=np.float32,
                         multi_output=multi_output)
        return _ArrayRows(from_numpy(X)), y
    if hasattr(estimator, "n_features_in_"):
        del estimator.n_features_in_
    if isinstance(X, Dataset) and y is not None:
        raise ValueError("X is a torch Dataset whose items are (x, y) pairs: pass y=None, or "
                         "wrap it as skorch.helper.SliceDataset(X) to pass the labels as y "
                         "(as scikit-learn's splitters need).")
    dataset, pos, indices = _unwrap(X)
    n = len(X)
    if n == 0:
        raise ValueError("X is an empty Dataset; fit needs at least one example.")
    item = dataset[int(indices[0]) if indices is not None else 0]
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        what = type(item).__name__
        if isinstance(item, (tuple, list)):
            what += f" of {len(item)}"
        raise ValueError(f"The items of a Dataset X must be (x, y) pairs (skorch's "
                         f"convention); its first item is a {what}.")
    labels = dataset_labels(X) if y is None else (
        dataset_labels(y) if isinstance(y, SliceDataset) else y)
    train = select = dataset
    if isinstance(dataset, SelectionView):
        train, select = dataset.train, dataset.select
    field = _Field(train, pos)
    rows = _DatasetRows(field, field if select is train else _Field(select, pos), len(dataset))
    if indices is not None:
        rows = rows.take(indices)
    return rows, _check_labels(labels, n, multi_output)


def prediction_input(estimator, X):
    """``X`` as the fitted net takes it: validated arrays, or the Dataset as given."""
    if is_dataset(X):
        return X
    return _validate(estimator, "predict", X, reset=False, allow_nd=True, dtype=np.float32)


def _validate(estimator, method, X, y="no_validation", **kwargs):
    """scikit-learn's ``validate_data``, its error naming the argument of ``method`` at fault
    (the same message after it, and the same exception class)."""
    try:
        return validate_data(estimator, X, y, **kwargs)
    except (ValueError, TypeError) as exc:
        cls = ValueError if isinstance(exc, ValueError) else TypeError
        culprit = "X"
        if not isinstance(y, str):  # fit: X alone, or y, or their lengths
            if "inconsistent numbers of samples" in str(exc):
                culprit = "X and y"
            else:
                try:
                    check_array(X, allow_nd=True, dtype=np.float32, input_name="X")
                    culprit = "y"
                except (ValueError, TypeError):
                    pass
        raise cls(f"{type(estimator).__name__}.{method} got an invalid {culprit}: {exc}") from exc
