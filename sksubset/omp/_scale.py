"""The scale of a problem: a relative ridge and a power-of-two rescaling of the atoms.

The public ``lam`` is relative to the data: the ridge of a call is ``lam * s2``,
``s2`` the mean squared norm of its candidate atoms (``||e_i||^2 ||h_i||^2``
for factored atoms ``vec(e_i h_i^T)``, computed from the factors).  Scaling
the atoms and the target by ``c`` scales ``s2`` by ``c^2`` and the whole
objective ``||A_S^T w - b||^2 + lam s2 ||w||^2`` by ``c^2``: the minimizer,
hence the selection and the weights, does not depend on the scale of the
gradients, and neither does the relative error reported.

The atoms are read in float32 by default, whose products overflow for
entries past about ``1e19`` and lose their precision below about ``1e-19``:
:func:`rescale` multiplies the atoms (and the target) by a power of two that
brings their largest entry into ``[1, 2)`` when it lies outside
:data:`BAND`, computed in float64 so that nothing overflows.  A power of two
changes no digit of a float, so the problem solved is the same one.
"""

import math

import torch

from ._atoms import DenseAtoms, OuterProductAtoms

__all__ = ["BAND", "mean_sqnorm", "power_of_two", "rescale"]

_F64 = torch.float64

#: the largest entries of the atoms outside ``[BAND[0], BAND[1]]`` are rescaled into [1, 2)
BAND = (2.0 ** -16, 2.0 ** 16)


def power_of_two(top):
    """The power of two ``c`` that brings a largest magnitude ``top`` to ``[1, 2)`` when ``top``
    lies outside :data:`BAND`; 1 inside it, or for ``top`` zero (or not finite)."""
    top = float(top)
    if top == 0 or not math.isfinite(top) or BAND[0] <= top <= BAND[1]:
        return 1.0
    return 2.0 ** -math.floor(math.log2(top))


def _top(X):
    """``max |X|`` as a Python float (0 for an empty tensor); never overflows."""
    return float(X.abs().max()) if X.numel() else 0.0


def rescale(atoms):
    """Atoms whose entries neither overflow nor underflow float32 products, and their factor.

    Parameters
    ----------
    atoms : DenseAtoms or OuterProductAtoms

    Returns
    -------
    atoms : DenseAtoms or OuterProductAtoms
        ``atoms`` times ``c`` (the same object when ``c == 1``).
    c : float
        The power of two applied (for factors, the product of the factors' own).
    """
    if isinstance(atoms, OuterProductAtoms):
        ce, ch = power_of_two(_top(atoms.E)), power_of_two(_top(atoms.H))
        if ce == ch == 1.0:
            return atoms, 1.0
        return OuterProductAtoms(atoms.E * ce if ce != 1 else atoms.E,
                                 atoms.H * ch if ch != 1 else atoms.H), ce * ch
    c = power_of_two(_top(atoms.A))
    return (atoms, 1.0) if c == 1.0 else (DenseAtoms(atoms.A * c), c)


def mean_sqnorm(atoms, valid=None):
    """``s2``: the mean squared norm of the atoms (those marked in ``valid``, (B, n)), in
    float64; 0 when there are none."""
    sq = atoms.sqnorms()
    if valid is not None:
        sq = sq[valid]
    return float(sq.mean()) if sq.numel() else 0.0
