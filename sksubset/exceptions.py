"""Exceptions and warnings of sksubset."""

__all__ = ["DivergenceError"]


class DivergenceError(FloatingPointError):
    """Training diverged: the loss, the logits or the last layer's inputs became NaN or infinite.

    Raised by :meth:`sksubset.SubsetTrainingClassifier.fit` with the epoch, the
    phase (warm start or subset training) and the selection round in its
    message.  A smaller learning rate is the usual remedy.
    """
