"""The training pool and the held-out rows of a fit, split once before training."""


import numpy as np
from sklearn.model_selection import train_test_split

from .._utils.budget import holdout_size

__all__ = ["split"]


def split(valid_size, train_split, examples, y, rng):
    """The training pool and the validation rows, as sorted indices into ``examples``.

    With ``valid_size``, a hold-out stratified by the labels ``y`` (seeded by
    ``rng``; ``y=None``, a regressor's: not stratified); else the net's
    ``train_split`` applied once to all the data (``valid`` is None without
    one).

    Raises
    ------
    ValueError
        When the hold-out or the pool would lack a class.
    """
    n = len(examples) if y is None else len(y)
    if valid_size is not None:
        n_valid = holdout_size(valid_size, n)
        n_classes = 1 if y is None else len(np.unique(y))
        if n_valid < n_classes or n - n_valid < n_classes:
            raise ValueError(f"valid_size={valid_size} leaves {n_valid} validation and "
                             f"{n - n_valid} training samples; each needs at least one "
                             f"per class ({n_classes}).")
        pool, valid = train_test_split(np.arange(n), test_size=n_valid, stratify=y,
                                       random_state=rng.randint(2**31 - 1))
        return np.sort(pool), np.sort(valid)
    if train_split is None:
        return np.arange(n), None
    ds_train, ds_valid = train_split(examples, y)
    if ds_valid is None:
        return np.arange(n), None
    return np.asarray(ds_train.indices), np.asarray(ds_valid.indices)
