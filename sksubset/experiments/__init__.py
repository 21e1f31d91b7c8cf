"""Experiment runner: GRAD-MATCH and its baselines against full training, from the command line.

``python -m sksubset.experiments`` (or ``sksubset-bench``) trains each
strategy (by default ``DEFAULT_STRATEGIES``) at every budget for several
seeds, saves one JSON record per run (resumable), prints a summary table (at
most :data:`~sksubset.experiments.report.PRINT_WIDTH` characters wide) and
writes it, with every column, as CSV and JSON together with Figure-3-style
plots.  From Python::

    from sksubset.experiments import ExperimentConfig, run_experiment
    result = run_experiment(ExperimentConfig(strategies=["full", "gradmatch-pb-warm"], seeds=2))
    print(result["table"])

See :mod:`~sksubset.experiments.strategies` for the strategy names and
:mod:`~sksubset.experiments.report` for the table's columns.
"""

import os
import sys

import torch

from .datasets import load_data
from .plan import DEFAULT_STRATEGIES, ExperimentConfig, plan_runs
from .report import PRINT_WIDTH, format_table, write_report
from .runner import execute, load_records

__all__ = ["ExperimentConfig", "run_experiment", "DEFAULT_STRATEGIES"]


def run_experiment(config=None, **kwargs):
    """Run (or resume) an experiment and write its report.

    Parameters
    ----------
    config : ExperimentConfig, optional
        Settings; ``kwargs`` override its fields (or build one).

    Returns
    -------
    dict
        ``config`` (resolved), ``records`` (one per run), ``rows`` (summary
        rows), ``table`` (the printed text) and ``paths`` (written files).
    """
    if config is None:
        config = ExperimentConfig(**kwargs)
    elif kwargs:
        config = ExperimentConfig(**{**config.__dict__, **kwargs})
    cfg = config.resolved()
    if cfg.report_only:
        records = load_records(os.path.join(cfg.out, "runs"))
        if not records:
            raise ValueError(f"No finished run under {os.path.join(cfg.out, 'runs')}.")
        return _report(cfg, records)
    data = load_data(cfg)
    specs = plan_runs(cfg, len(data[1]))
    if not specs:
        raise ValueError("No run to do: every strategy was skipped or none was given.")
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        records = execute(cfg, specs, data, os.path.join(cfg.out, "runs"))
    finally:
        torch.set_num_threads(threads)
    return _report(cfg, records)


def _report(cfg, records):
    rows, paths = write_report(records, cfg.out)
    table = format_table(rows, width=PRINT_WIDTH)
    print(table, file=sys.stdout, flush=True)
    print(f"\nWrote {', '.join(paths.values())}", file=sys.stderr, flush=True)
    return {"config": cfg, "records": records, "rows": rows, "table": table, "paths": paths}
