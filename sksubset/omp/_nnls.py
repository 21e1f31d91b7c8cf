"""Batched non-negative least squares on the normal equations (the refit of GRAD-MATCH's OMP).

:func:`nnls_gram` solves ``min_w w^T G w - 2 h^T w`` subject to ``w >= 0``
for a batch of problems by block principal pivoting (Kim & Park, 2011).
Each pivot solves the system restricted to the free set ``F``.  When few
entries are held at zero (the out set ``O``, as after an OMP whose atoms
were chosen for their positive correlation: 19-33 of 600 on Fashion-MNIST),
the restricted solve comes from one factor of the whole system instead of a
new one: with ``x0 = G^{-1} h`` and ``Z = G^{-1} E_O``, the solution is
``x = x0 + Z mu`` with ``Z_OO mu = -x0_O``, whose dual is ``y_O = mu``
(``2 P^2 |O|`` flops against ``P^3 / 3`` for a new factor).
"""

import torch

__all__ = ["masked_solve", "nnls_gram", "solve_nnls"]


def _restricted(G, F):
    """``G`` on ``F x F`` and the identity elsewhere."""
    M = torch.where(F.unsqueeze(1) & F.unsqueeze(2), G, 0.0)
    M.diagonal(dim1=1, dim2=2).add_((~F).to(G.dtype))  # identity off F, in place
    return M


def masked_solve(G, h, F):
    """Solve ``G_FF x_F = h_F`` per batch element, ``x = 0`` off ``F``.

    Returns ``x`` and the dual ``y = G x - h`` (zero on ``F``).
    """
    L, _ = torch.linalg.cholesky_ex(_restricted(G, F))
    x = torch.cholesky_solve(torch.where(F, h, 0.0).unsqueeze(2), L).squeeze(2)
    y = torch.where(F, 0.0, torch.bmm(G, x.unsqueeze(2)).squeeze(2) - h)
    return x, y


def _solve_out(L, x0, out):
    """The restricted solve of the module docstring for out sets ``out`` (B, P) of ``mask``,
    from the factor ``L`` of the system on the mask and its solution ``x0``."""
    B, P = out.shape
    p = int(out.sum(1).max())
    # the out set's indices, padded with slots whose columns stay zero
    order = torch.sort(out.to(torch.int8), dim=1, descending=True, stable=True).indices[:, :p]
    real = torch.arange(p, device=out.device).unsqueeze(0) < out.sum(1, keepdim=True)
    Eo = torch.zeros(B, P, p, device=L.device, dtype=L.dtype)
    Eo.scatter_(1, order.unsqueeze(1), real.unsqueeze(1).to(L.dtype))
    Z = torch.cholesky_solve(Eo, L)  # (B, P, p)
    Zoo = Z.gather(1, order.unsqueeze(2).expand(B, p, p))
    both = real.unsqueeze(1) & real.unsqueeze(2)
    Zoo = torch.where(both, Zoo, torch.eye(p, device=L.device, dtype=L.dtype))
    rhs = torch.where(real, -x0.gather(1, order), 0.0)
    mu = torch.linalg.solve(Zoo, rhs.unsqueeze(2))  # (B, p, 1)
    x = x0 + torch.bmm(Z, mu).squeeze(2)
    y = torch.zeros_like(x0).scatter_(1, order, mu.squeeze(2) * real)
    return torch.where(out, 0.0, x), y


def nnls_gram(G, h, mask, max_iter=None, factor=None):
    """Batched non-negative least squares from the normal equations.

    Solves ``min_w w^T G w - 2 h^T w`` subject to ``w >= 0`` for each batch
    element by block principal pivoting (Kim & Park, 2011), starting from the
    unconstrained solution.  Entries outside ``mask`` are fixed at zero.

    Parameters
    ----------
    G : torch.Tensor of shape (B, P, P)
        Symmetric matrices, positive definite on ``mask``.
    h : torch.Tensor of shape (B, P)
    mask : torch.Tensor of shape (B, P), bool
    max_iter : int, optional
        Defaults to ``5 * P + 10``; the backup rule guarantees termination.
    factor : torch.Tensor of shape (B, P, P), optional
        The lower Cholesky factor of ``G`` on ``mask`` (the identity
        elsewhere), when the caller has it (the OMP's search grows one).

    Returns
    -------
    w : torch.Tensor of shape (B, P)

    Raises
    ------
    TypeError or ValueError
        For ``G``, ``h`` or ``mask`` not tensors, ``G`` not a floating
        ``(B, P, P)`` tensor or not finite, ``h`` not ``(B, P)`` of ``G``'s
        dtype, ``mask`` not a bool ``(B, P)`` tensor, ``max_iter`` not None
        or an int >= 1, or ``factor`` not of ``G``'s shape.

    Examples
    --------
    >>> import torch
    >>> from sksubset.omp import nnls_gram
    >>> G = torch.tensor([[[2.0, 1.0], [1.0, 2.0]]], dtype=torch.float64)
    >>> h = torch.tensor([[3.0, -1.0]], dtype=torch.float64)
    >>> nnls_gram(G, h, torch.ones(1, 2, dtype=torch.bool)).round(decimals=6).tolist()
    [[1.5, 0.0]]
    """
    _check_nnls(G, h, mask, max_iter, factor)
    return solve_nnls(G, h, mask, max_iter=max_iter, factor=factor)


def _check_nnls(G, h, mask, max_iter, factor):
    """Raise ``TypeError`` or ``ValueError`` naming the argument of :func:`nnls_gram` that is not
    what it accepts."""
    for name, t in (("G", G), ("h", h), ("mask", mask)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"nnls_gram: {name} must be a torch.Tensor; got "
                            f"{type(t).__name__}.")
    if G.ndim != 3 or G.shape[1] != G.shape[2] or not G.is_floating_point():
        raise ValueError(f"nnls_gram: G must be a floating tensor of shape (B, P, P); got "
                         f"{G.dtype} of shape {tuple(G.shape)}.")
    B, P = G.shape[:2]
    if tuple(h.shape) != (B, P) or h.dtype != G.dtype:
        raise ValueError(f"nnls_gram: h must have shape (B, P) = {(B, P)} and G's dtype "
                         f"{G.dtype}; got {h.dtype} of shape {tuple(h.shape)}.")
    if tuple(mask.shape) != (B, P) or mask.dtype != torch.bool:
        raise ValueError(f"nnls_gram: mask must be a bool tensor of shape (B, P) = {(B, P)}; "
                         f"got {mask.dtype} of shape {tuple(mask.shape)}.")
    if not (bool(torch.isfinite(G).all()) and bool(torch.isfinite(h).all())):
        raise ValueError("nnls_gram: G and h must be finite; they contain NaN or infinite "
                         "values.")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, int)
                                 or max_iter < 1):
        raise ValueError(f"nnls_gram: max_iter must be None or an int >= 1; got {max_iter!r}.")
    if factor is not None and (not isinstance(factor, torch.Tensor)
                               or tuple(factor.shape) != tuple(G.shape)):
        raise ValueError(f"nnls_gram: factor must be None or a tensor of G's shape "
                         f"{tuple(G.shape)}.")


def solve_nnls(G, h, mask, max_iter=None, factor=None):
    """:func:`nnls_gram` without its argument checks (the solver's own calls)."""
    B, P, _ = G.shape
    tol = 64 * torch.finfo(G.dtype).eps * h.abs().amax(1, keepdim=True)
    F = mask.clone()
    if factor is None:
        L, info = torch.linalg.cholesky_ex(_restricted(G, mask))
        factored = not bool(info.any())  # else (a singular system) factor every pivot anew
    else:
        L, factored = factor, True
    x = torch.cholesky_solve(torch.where(mask, h, 0.0).unsqueeze(2), L).squeeze(2)
    x0, y = x.clone(), torch.zeros_like(x)
    alpha = torch.full((B,), 3, device=G.device)
    beta = torch.full((B,), P + 1, device=G.device)
    pos = torch.arange(P, device=G.device)
    for _ in range(5 * P + 10 if max_iter is None else max_iter):
        infeas = mask & ((F & (x < 0)) | (~F & (y < -tol)))
        ninf = infeas.sum(1)
        if not bool(ninf.any()):
            break
        # full exchange while the infeasible count keeps falling (or for up to
        # three more tries), else exchange only the last infeasible index
        better = ninf < beta
        full = better | (alpha >= 1)
        beta = torch.where(better, ninf, beta)
        alpha = torch.where(better, 3, torch.where(alpha >= 1, alpha - 1, alpha))
        last = torch.where(infeas, pos, -1).amax(1)
        swap = torch.where(full.unsqueeze(1), infeas, infeas & (pos == last.unsqueeze(1)))
        F = F ^ swap
        changed = torch.nonzero(swap.any(1)).squeeze(1)  # solve again only what moved
        if len(changed) == B:
            changed = slice(None)  # all of them: no copy of G
        out = mask[changed] & ~F[changed]
        if factored and 8 * int(out.sum(1).max()) <= P:
            x[changed], y[changed] = _solve_out(L[changed], x0[changed], out)
        else:
            x[changed], y[changed] = masked_solve(G[changed], h[changed], F[changed])
    return torch.where(F, x, 0.0).clamp_min(0)
