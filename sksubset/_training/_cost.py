"""Rounds spaced by what they cost: ``R="auto"``, decided before training from shapes.

A selection round costs what its selector's solver and forward passes cost,
not what training costs: on a model whose last layer is a large share of its
compute (a tabular MLP, a small CNN) a round can cost several epochs of
subset training.  So that selection stays within a share of the run
(``selection_share``, 5% by default) whatever the model, the run predicts,
before it trains:

* what training costs: the floating-point operations of one example's forward
  and backward pass, counted by :class:`torch.utils.flop_counter.FlopCounterMode`
  on a few rows of the data (:func:`example_flops`; a convolution's weighted by
  :data:`CONV_FLOP_COST`), plus
  :data:`BATCH_FLOPS` a mini-batch for the optimizer's step and the loop's
  own work;
* what a round costs: the selector's own prediction from the round's shapes
  (:meth:`~sksubset.selectors.BaseSelector.round_flops`: for GRAD-MATCH the
  forward passes over its pool's rows that training did not compute, and its
  solver);

and then (:func:`space_rounds`) keeps the interval :data:`R_MIN` (measured
best when rounds are cheap) when its rounds take at most the share, else, in
this order of preference (measured on a tabular MLP, where a halved pool cost
0.4 points of accuracy, rounds twice rarer 2 points and four times rarer 5):

1. rounds cost less: the selector's pool shrinks (``pool_factor``, down to
   :data:`MIN_POOL_FACTOR`);
2. rounds come less often: the smallest interval whose rounds fit, but never
   fewer than :data:`MIN_ROUNDS` rounds in the run (a run of fewer than
   ``MIN_ROUNDS * R_MIN`` subset epochs keeps ``R_MIN``).

When nothing fits, the plan says by how much (``share``).

Nothing reads the clock: the same data, net and ``random_state`` give the same
rounds on any machine and under any load.  A user who sets ``R`` gets that
``R``; the rule decides only what is left to the library.
"""

import math
from dataclasses import dataclass, replace

import torch
from sklearn.base import clone
from torch.utils.flop_counter import FlopCounterMode

from ..gradients import last_layer_params
from ..schedule import make_schedule
from ..selectors import RoundShape

__all__ = ["BATCH_FLOPS", "CONV_FLOP_COST", "MIN_POOL_FACTOR", "MIN_ROUNDS", "R_MIN", "RoundPlan",
           "example_flops",
           "space_rounds"]

#: the smallest interval ``R="auto"`` chooses: the one measured best when rounds cost little
R_MIN = 5

#: a mini-batch's work besides its examples' arithmetic (the optimizer's step, the loop's own
#: operations), in flops
BATCH_FLOPS = 2e6

#: what a flop of a convolution costs next to one of a matrix product (small convolutions run
#: at a lower rate on a CPU core: measured 1.5 for LeNet-5, 7.6 for MNIST-1D's 1-D CNN)
CONV_FLOP_COST = 3.0

#: the smallest pool (times the budget) ``R="auto"`` shrinks a selector's to
MIN_POOL_FACTOR = 1.5

#: the fewest rounds ``R="auto"`` spaces a run's subset epochs into: on a tabular MLP (20 subset
#: epochs at 10%) one round after the warm start lost 5 points of accuracy and two lost 2, where
#: four rounds with a halved pool lost 0.4 against four with the full pool
MIN_ROUNDS = 4

#: rows :func:`example_flops` runs the module on
_ROWS = 4


@dataclass(frozen=True)
class RoundPlan:
    """How a run's rounds are spaced, and what they are predicted to cost (``spacing_``).

    Attributes
    ----------
    R : int
        Subset epochs between rounds.
    rule : str
        ``"given"`` (the user's ``R``), ``"share"`` (the selector as it is, at
        the interval that fits), ``"pool"`` (its pool shrunk too) or
        ``"unpriced"`` (the selector predicts no cost, or the run has no
        round: ``R_MIN``).
    pool_factor : float or None
        The selector's pool, when the rule changed it (else what it was).
    round_epochs : float
        A later round's predicted cost, in subset epochs.
    share : float
        The rounds' predicted share of the run.
    """

    R: int
    rule: str
    pool_factor: float | None = None
    round_epochs: float = 0.0
    share: float = 0.0


def example_flops(module, rows):
    """Flops of one example's forward pass and of its forward and backward passes.

    Counted by :class:`~torch.utils.flop_counter.FlopCounterMode` on ``rows``
    (a few examples, as the module takes them), in eval mode (no random draw,
    no running statistic updated) and without touching the parameters'
    gradients.  The count depends on shapes only; a convolution's flops count
    :data:`CONV_FLOP_COST` times.

    Returns
    -------
    forward, train : float
        Per example.
    n_outputs : int
        Width of the module's output.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = module(rows)
        forward = _weighted(counter)
        n_outputs = int((out[0] if isinstance(out, (tuple, list)) else out).shape[-1])
        with FlopCounterMode(display=False) as counter:
            out = module(rows)
            out = out[0] if isinstance(out, (tuple, list)) else out
            if params and out.requires_grad:
                torch.autograd.grad(out.float().sum(), params, allow_unused=True)
        train = _weighted(counter)
    finally:
        module.train(was_training)
    n = len(rows)
    return forward / n, max(train, forward) / n, n_outputs


def _weighted(counter):
    """A counter's flops, a convolution's weighted by :data:`CONV_FLOP_COST`."""
    counts = counter.get_flop_counts().get("Global", {})
    return float(sum(v * (CONV_FLOP_COST if "convolution" in str(op) else 1.0)
                     for op, v in counts.items()))


def _rows(examples, device):
    """The first :data:`_ROWS` inputs of ``examples`` as one batch."""
    take = range(min(_ROWS, len(examples)))
    return torch.stack([torch.as_tensor(examples.rows[i]) for i in take]).to(device)


def space_rounds(net, examples, selector, *, k, class_sizes, n_valid, kappa, R, share,
                 per_batch):
    """Decide the run's interval ``R`` (and, when rounds are dear, the selector's pool).

    Parameters
    ----------
    net : skorch net, initialized
    examples : Examples
        The training pool.
    selector : BaseSelector
        This fit's own instance; its ``pool_factor`` may be lowered (rule 1 of
        the module docstring).
    k : int
        The budget of a round.
    class_sizes : sequence of int
        Rows of each group of the pool.
    n_valid : int
        Held-out rows a round matches.
    kappa : float
    R : int or "auto"
        The estimator's ``R``.
    share : float
        The share of the run that selection may take.
    per_batch : bool

    Returns
    -------
    RoundPlan
    """
    n, T = len(examples), int(net.max_epochs)
    pool_factor = getattr(selector, "pool_factor", None)
    if R != "auto":
        return RoundPlan(R=int(R), rule="given", pool_factor=pool_factor)
    schedule = make_schedule(T, k, n, R_MIN, kappa)
    S = schedule.subset_epochs
    forward, train, C = example_flops(net.module_, _rows(examples, net.device))
    params = last_layer_params(net.module_)
    shape = RoundShape(class_sizes=tuple(int(c) for c in class_sizes), budget=int(k),
                       n_outputs=C, n_inputs=max(1, len(params) // max(C, 1)),
                       forward_flops=forward, n_valid=int(n_valid), per_batch=per_batch,
                       batch_size=int(net.batch_size))

    def costs(sel):
        """The first round's flops (after the warm start every row is free) and a later's."""
        return (sel.round_flops(replace(shape, free_share=1.0 if schedule.warm_epochs else 0.0)),
                sel.round_flops(replace(shape, free_share=k / n)))

    first, later = costs(selector)
    if S == 0 or first is None:
        return RoundPlan(R=R_MIN, rule="unpriced", pool_factor=pool_factor)
    batch = BATCH_FLOPS / max(1, int(net.batch_size))
    epoch = k * (train + batch)  # a subset epoch
    training = (schedule.warm_epochs * n + S * k) * (train + batch)

    def plan(interval, first, later, rule, pool_factor):
        rounds = math.ceil(S / interval)
        cost = first + (rounds - 1) * later
        return RoundPlan(R=interval, rule=rule, pool_factor=pool_factor,
                         round_epochs=later / epoch, share=cost / (training + cost))

    candidate = plan(R_MIN, first, later, "share", pool_factor)
    if candidate.share <= share:
        return candidate
    # 1. cheaper rounds: the selector's pool shrinks, down to MIN_POOL_FACTOR
    factor = pool_factor
    while factor is not None and factor > MIN_POOL_FACTOR and candidate.share > share:
        factor = max(MIN_POOL_FACTOR, round(factor * 0.8, 3))
        first, later = costs(clone(selector).set_params(pool_factor=factor))
        candidate = plan(R_MIN, first, later, "pool", factor)
    # 2. rounds less often, keeping at least MIN_ROUNDS of them
    longest = max(R_MIN, S // MIN_ROUNDS)
    interval = R_MIN
    while candidate.share > share and interval < longest:
        interval += 1
        candidate = plan(interval, first, later, "share" if factor == pool_factor else "pool",
                         factor)
    if factor != pool_factor:
        selector.set_params(pool_factor=factor)
    return candidate

