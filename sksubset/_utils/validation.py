"""Input checks and conversions shared by the solver, the selectors and the estimators."""

import numpy as np
import torch

__all__ = ["DTYPES", "NUMPY_DTYPES", "as_tensor", "check_finite", "check_matrix", "check_target",
           "check_labels", "from_numpy", "resolve_device", "sync"]

#: values of the selectors' ``dtype`` parameter
DTYPES = {"float32": torch.float32, "float64": torch.float64}
NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def from_numpy(a):
    """``torch.from_numpy(a)``, sharing the memory of a writable array; a read-only one (such
    as a memory map opened for reading) is copied first, since torch tensors are writable."""
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def as_tensor(x, name, dtype=None):
    """``x`` as a real floating tensor; numpy input is read straight into ``dtype`` (default
    float64), without a copy when it is a writable C-contiguous array of that dtype already
    (:func:`from_numpy`)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        complex_ = t.is_complex()
    else:
        try:
            a = np.asarray(x)
            complex_ = a.dtype.kind == "c"
            if not complex_:
                a = np.ascontiguousarray(a, dtype=NUMPY_DTYPES.get(dtype, np.float64))
        except (TypeError, ValueError) as exc:
            what = type(x).__name__
            if isinstance(x, np.ndarray):
                what += f" of dtype {x.dtype}"
            raise TypeError(f"{name} must be a numeric array or torch.Tensor; got {what} "
                            f"({exc}).") from exc
        t = None if complex_ else from_numpy(a)
    if complex_:
        raise TypeError(f"{name} must be real; got complex values.")
    return t if t.is_floating_point() else t.to(torch.float64)


def check_finite(t, name):
    # in slices: a mask of the whole tensor would cost more memory than a float32 copy of it
    if not all(bool(torch.isfinite(c).all()) for c in t.reshape(-1).split(1 << 20)):
        raise ValueError(f"{name} contains NaN or infinite values; it must be finite.")
    return t


def check_matrix(G, device, dtype, name="G"):
    """``G`` as a finite 2-D float tensor on ``device`` (clear errors otherwise)."""
    Gt = as_tensor(G, name, dtype)
    if Gt.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape "
                         f"{tuple(Gt.shape)}.")
    if Gt.shape[0] < 1 or Gt.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column; got shape "
                         f"{tuple(Gt.shape)}.")
    return check_finite(Gt.to(device=device, dtype=dtype), name)


def check_target(target, shape, device, dtype, name="target"):
    """``target`` of the given ``shape`` as a finite ``(n_problems, d)`` tensor."""
    t = as_tensor(target, name, dtype)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {tuple(t.shape)}.")
    return check_finite(t.to(device=device, dtype=dtype).reshape(-1, shape[-1]), name)


def check_labels(y, n, required):
    """``y`` as an array of shape ``(n,)`` (or None when not given and not ``required``)."""
    if y is None:
        if required:
            raise ValueError("per_class=True requires y (the class of each row of G).")
        return None
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match G; got {y.shape}.")
    return y


def resolve_device(device, *arrays):
    """``device`` as a torch device; ``"auto"`` or None: where the first tensor is, or the CPU."""
    if device is None or device == "auto":
        for a in arrays:
            if isinstance(a, torch.Tensor):
                return a.device
        return torch.device("cpu")
    return torch.device(device)


def sync(device):
    """Wait for the work queued on a CUDA ``device`` (so that wall-clock timings are honest);
    nothing to wait for on the CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
