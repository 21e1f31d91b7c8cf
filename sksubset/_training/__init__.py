"""Subset training inside skorch's loop (private): Algorithm 1 and its collaborators.

* :mod:`._run`: :class:`SubsetRun`, Algorithm 1 (warm start, then select when
  the schedule says so and train one weighted epoch);
* :mod:`._skorch`: the callback through which skorch's loop calls the run,
  and the learning-rate schedulers advanced through skipped epochs;
* :mod:`._harvest`: each example's latest logits and last-layer input from
  training's own forward passes, which the selection rounds reuse;
* :mod:`._dataset`: the current subset and its weights, as skorch reads them;
* :mod:`._loss`: torch's losses with per-example weights;
* :mod:`._split`: the training pool and the hold-out, split once;
* :mod:`._checks`: what is checked before training, warned about or stopped on;
* :mod:`._timing`: the wall-clock of a fit, by part.
"""
