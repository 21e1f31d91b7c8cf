"""Run and record the experiments: one JSON file per (strategy, budget, seed).

Every run's record is saved under ``<out>/runs/<run_id>.json``; ``run_id``
holds a hash of the settings that change the result, and a run whose file
exists is not trained again, so an interrupted experiment resumes where it
stopped.  Runs are independent: everything that compares runs is computed by
:mod:`sksubset.experiments.report`.  The strategy names and the planning are
in :mod:`sksubset.experiments.strategies` and :mod:`sksubset.experiments.plan`.

:func:`train_run` trains one run; :class:`RunJob` trains one and saves its
record; :func:`execute` hands the runs not done yet to an executor
(:mod:`sksubset.experiments.executors`: here, in local worker processes, or on a
Dask cluster).
"""

import dataclasses
import hashlib
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from .._utils.progress import interactive
from .._utils.validation import sync
from ..classifier import SubsetTrainingClassifier
from ..exceptions import DivergenceError
from ..regressor import SubsetTrainingRegressor
from .augment import AugmentedImages, augmentation_for
from .datasets import load_data
from .executors import make_executor
from .models import LR_EVENT, make_net, module_kwargs
from .plan import pool_size
from .regression import constant_scores, is_regression, n_outputs, score_of, test_scores
from .strategies import make_selector, strategy_R

__all__ = ["train_run", "warm_up", "RunJob", "execute", "save_record", "load_records",
           "EnergyMeter", "sync"]


class EnergyMeter:
    """GPU energy used since creation, through NVML (``pynvml``, optional): ``kwh()``, None
    when it cannot be measured (not a CUDA device, no ``pynvml``, no energy counter)."""

    def __init__(self, device):
        self.handle, self.start = None, None
        if torch.device(device).type != "cuda":
            return
        try:
            import pynvml
            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
            self.start = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)  # mJ
        except Exception:  # no pynvml, no NVML, or a GPU without an energy counter
            self.handle = None

    def kwh(self):
        if self.handle is None:
            return None
        try:
            used = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self.start
        except Exception:
            return None
        return used / 3.6e9


def _fit_timed(estimator, X, y, device):
    """Wall-clock and process CPU seconds of ``estimator.fit``, and its energy (or None)."""
    meter = EnergyMeter(device)
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    estimator.fit(X, y)
    sync(device)
    return time.perf_counter() - t0, time.process_time() - c0, meter.kwh()


def _on_clock(cfg, wall, cpu):
    """The run's seconds on ``cfg.clock`` and the factor that maps wall-clock onto it."""
    if cfg.clock == "cpu":
        return cpu, cpu / max(wall, 1e-12)
    return wall, 1.0


def training_input(cfg, X_train, y_train):
    """``(X, y)`` that the runs are fitted on: the arrays, or with ``cfg.augment`` a Dataset
    drawing a new augmentation of each image at every read (and ``y=None``)."""
    if not cfg.augment:
        return X_train, y_train
    return AugmentedImages(X_train, y_train, **augmentation_for(cfg.dataset)), None


def train_run(spec, cfg, data):
    """Train one run and return its record (a JSON-ready dict).

    Parameters
    ----------
    spec : RunSpec
    cfg : ExperimentConfig
        Resolved.
    data : tuple
        ``X_train, y_train, X_test, y_test``.

    Returns
    -------
    dict
        ``test_accuracy`` (on a regression set ``test_r2`` and ``test_rmse``:
        :mod:`~sksubset.experiments.regression`), ``fit_seconds`` (wall-clock of ``fit``, selection
        included, test evaluation excluded), ``timing`` (the classifier's
        split; the plain nets charge everything to ``training``),
        ``n_selections``, ``spacing`` (the classifier's ``spacing_``: ``R``,
        ``rule``, ``pool_factor``, ``round_epochs``, ``share``), ``selections`` (per round:
        ``epoch``, ``reason``,
        ``gradient_seconds``, ``solver_seconds`` and, where the selector
        reports them, ``gradient_error`` and ``omp_rounds``, the non-negative
        refits, and ``n_forward``, ``n_harvested``), ``n_forward`` and
        ``n_harvested`` summed over the rounds (None when the classifier does
        not record them), ``mean_gradient_error``, ``epochs_trained``,
        ``full_epoch_equivalents``, ``energy_kwh`` (None unless NVML measures
        the GPU), ``learning_rates`` (one per trained epoch) and the run's
        identity and settings.
    """
    X_train, y_train, X_test, y_test = data
    X_fit, y_fit = training_input(cfg, X_train, y_train)
    strategy = spec.strategy
    regression = is_regression(y_train)
    module_kw = module_kwargs(cfg.model, X_train, n_outputs(y_train))
    record = {"run_id": spec.run_id, "strategy": spec.name, "kind": strategy.kind,
              "budget": spec.budget, "epochs": spec.epochs, "seed": spec.seed,
              "settings": spec.settings}
    if strategy.kind == "subset":
        net = make_net(cfg.model, module_kw, cfg.epochs, cfg.batch_size, cfg.lr, cfg.device,
                       lr_schedule=cfg.lr_schedule, regression=regression)
        clf = (SubsetTrainingRegressor if regression else SubsetTrainingClassifier)(
            net, selector=make_selector(strategy, cfg.selector_params, regression),
            budget=spec.budget, R=strategy_R(cfg, strategy),
            kappa=cfg.kappa if strategy.warm else 0.0,
            per_batch=strategy.per_batch, weighting=cfg.weighting, valid_size=cfg.valid_size,
            random_state=spec.seed, verbose=0)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            wall, cpu, energy = _fit_timed(clf, X_fit, y_fit, cfg.device)
        except DivergenceError as exc:
            seconds, _ = _on_clock(cfg, time.perf_counter() - t0, time.process_time() - c0)
            return _diverged(record, exc, y_test, seconds)
        seconds, scale = _on_clock(cfg, wall, cpu)
        scores = test_scores(clf, X_test, y_test)
        errors = [h["gradient_error"] for h in clf.selection_history_
                  if h.get("gradient_error") is not None]
        n_pool = pool_size(len(y_train), cfg.valid_size)
        history = clf.net_.history
        record.update(
            **_rows_summed(clf.selection_history_),
            timing={k: float(v) * scale for k, v in clf.timing_.items()},
            n_selections=len(clf.selection_history_),
            spacing=dataclasses.asdict(clf.spacing_),
            selections=[_round_summary(h, scale) for h in clf.selection_history_],
            mean_gradient_error=float(np.mean(errors)) if errors else None,
            epochs_trained=int(clf.n_iter_), subset_size=int(clf.subset_size_),
            full_epoch_equivalents=float(
                clf.schedule_.full_epoch_equivalents(clf.subset_size_, n_pool)))
    else:
        epochs = spec.epochs
        net = make_net(cfg.model, module_kw, epochs, cfg.batch_size, cfg.lr, cfg.device,
                       t_max=epochs, lr_schedule=cfg.lr_schedule, regression=regression)
        y_fit = y_fit.reshape(len(y_fit), -1) if regression else y_fit  # skorch's 2-D targets
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(spec.seed)
            wall, cpu, energy = _fit_timed(net, X_fit, y_fit, cfg.device)
        seconds, _ = _on_clock(cfg, wall, cpu)
        scores = test_scores(net, X_test, y_test)
        history = net.history
        record.update(timing={"setup": 0.0, "warm_start": 0.0, "gradients": 0.0, "solver": 0.0,
                              "subset_training": 0.0, "training": seconds, "total": seconds},
                      n_selections=0, selections=[], mean_gradient_error=None,
                      epochs_trained=len(history), subset_size=len(y_train),
                      full_epoch_equivalents=float(epochs))
    record.update(**scores, fit_seconds=float(seconds), wall_seconds=float(wall),
                  cpu_seconds=float(cpu), energy_kwh=energy,
                  learning_rates=[float(lr) for lr in history[:, LR_EVENT]])
    return record


def _diverged(record, exc, y_test, seconds):
    """The record of a run whose training diverged: the error's message under ``diverged``,
    the scores of a constant prediction and the seconds until the error."""
    record.update(diverged=str(exc), **constant_scores(y_test),
                  fit_seconds=seconds, timing={"total": seconds}, n_selections=None,
                  selections=[], mean_gradient_error=None, epochs_trained=None,
                  full_epoch_equivalents=None, energy_kwh=None, learning_rates=[])
    return record


_ROUND_KEYS = ("epoch", "reason", "gradient_seconds", "solver_seconds", "gradient_error",
               "omp_rounds", "n_forward", "n_harvested")


def _rows_summed(history):
    """``n_forward`` and ``n_harvested`` summed over a run's rounds: the rows that the
    rounds passed forward, and those whose factors came from training's own passes (each
    None when no round records it)."""
    out = {}
    for key in ("n_forward", "n_harvested"):
        values = [h[key] for h in history if h.get(key) is not None]
        out[key] = int(sum(int(v) for v in values)) if values else None
    return out


def _round_summary(record, scale=1.0):
    """The JSON-sized part of a ``selection_history_`` record (no indices or weights), its
    seconds multiplied by ``scale``."""
    out = {}
    for key in _ROUND_KEYS:
        value = record.get(key)
        if value is not None:
            out[key] = value if isinstance(value, (str, int, float)) else value.item()
            if key.endswith("_seconds"):
                out[key] *= scale
    return out


def _log(msg, bar):
    if bar is not None:
        bar.write(msg, file=sys.stderr)
    else:
        print(msg, file=sys.stderr, flush=True)


def warm_up(cfg, data):
    """One untimed epoch of a small net on a few rows, so that no run's wall-clock pays
    the process's one-time costs (lazy initialization of torch kernels, CUDA context)."""
    X_train, y_train = data[0][:4 * cfg.batch_size], data[1][:4 * cfg.batch_size]
    regression = is_regression(data[1])
    net = make_net(cfg.model, module_kwargs(cfg.model, data[0], n_outputs(data[1])), 1,
                   cfg.batch_size, cfg.lr, cfg.device, regression=regression)
    if regression:
        y_train = y_train.reshape(len(y_train), -1)
    with torch.random.fork_rng(devices=[]):
        net.fit(X_train, y_train)
        net.predict(X_train)
    sync(cfg.device)


def _read_record(path, warn=True):
    """The record saved at ``path``, or None when it cannot be read back (with a warning
    naming the file when ``warn``): a truncated or corrupted file counts as a run not done."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if warn:
            warnings.warn(f"Run record {path} cannot be read ({type(exc).__name__}: {exc}); "
                          "treating that run as not done.", RuntimeWarning, stacklevel=3)
        return None


class RunJob:
    """Train a run and save its record under ``runs_dir``: what every executor runs.

    Picklable (a Dask worker receives it).  Calling it for a run whose record
    is on disk returns that record without training, so a run finished
    meanwhile (by another runner sharing the cluster) is not trained twice.

    Parameters
    ----------
    cfg : ExperimentConfig
        Resolved.
    runs_dir : str
        Folder of the per-run JSON files.
    """

    def __init__(self, cfg, runs_dir):
        self.cfg = cfg
        self.runs_dir = runs_dir

    @property
    def data_key(self):
        """What the prepared data depends on (one preparation per key and process)."""
        c = self.cfg
        return (c.dataset, c.data_dir, c.train_size, c.test_size, c.model, c.batch_size,
                c.device)

    def key(self, spec):
        """A task name unique to the output folder and the run."""
        folder = hashlib.sha1(os.path.abspath(self.runs_dir).encode()).hexdigest()[:8]
        return f"sksubset-run-{folder}-{spec.run_id}"

    def prepare(self, data=None):
        """``data`` (loaded by :func:`~sksubset.experiments.datasets.load_data` when None),
        after :func:`warm_up`, with this process's torch threads set to ``cfg.threads``
        (when given)."""
        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        if data is None:
            data = load_data(self.cfg)
        warm_up(self.cfg, data)
        return data

    def __call__(self, spec, data):
        """The run's saved record, or train it (:func:`train_run`), save and return it."""
        path = os.path.join(self.runs_dir, spec.run_id + ".json")
        if os.path.exists(path):
            record = _read_record(path, warn=False)
            if record is not None:
                return record
        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        record = train_run(spec, self.cfg, data)
        save_record(record, path)
        return record


def _label(i, n, spec):
    return (f"[{i}/{n}] {spec.name}" + ("" if spec.budget is None else f" budget={spec.budget:g}")
            + ("" if spec.epochs is None else f" E={spec.epochs}") + f" seed={spec.seed}")


def execute(cfg, specs, data, runs_dir, executor=None):
    """Train the specs whose record is not on disk yet; return all records, in spec order.

    Parameters
    ----------
    cfg : ExperimentConfig
        Resolved.
    specs : list of RunSpec
    data : tuple or None
        ``X_train, y_train, X_test, y_test`` (None: loaded where the runs train).
    runs_dir : str
        Folder of the per-run JSON files.
    executor : executor, optional
        Where the runs train (:mod:`sksubset.experiments.executors`); default
        :func:`~sksubset.experiments.executors.make_executor`: a Dask cluster
        with ``cfg.scheduler``, else ``cfg.workers`` local processes (this one
        when 1).  Pass ``DaskExecutor(client=client)`` to use an existing Dask
        client.

    Returns
    -------
    list of dict
    """
    os.makedirs(runs_dir, exist_ok=True)
    records = {}
    for s in specs:
        path = os.path.join(runs_dir, s.run_id + ".json")
        if os.path.exists(path):
            record = _read_record(path)
            if record is not None:
                records[s.run_id] = record
    todo = [s for s in specs if s.run_id not in records]
    if executor is None:
        executor = make_executor(cfg, data, n_runs=len(todo))
    labels = {s.run_id: _label(i, len(specs), s) for i, s in enumerate(specs, 1)}
    # a bar where a person watches, plain log lines in a log file or with --quiet
    show = interactive() and not cfg.quiet
    bar = (tqdm(total=len(specs), initial=len(specs) - len(todo), desc="runs", unit="run")
           if show else None)
    try:
        if bar is None:
            for s in specs:
                if s.run_id in records:
                    _log(f"{labels[s.run_id]}: done before, skipped", bar)
        for spec, record in executor.map(RunJob(cfg, runs_dir), todo):
            records[spec.run_id] = record
            label = labels[spec.run_id]
            _log(f"{label}: diverged ({record['diverged']})" if record.get("diverged") else
                 f"{label}: {'R2' if 'test_r2' in record else 'accuracy'} "
                 f"{score_of(record):.4f}, "
                 f"{record['fit_seconds']:.2f} s", bar)
            if bar is not None:
                bar.set_postfix_str(label.split("] ", 1)[1])
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return [records[s.run_id] for s in specs]


def save_record(record, path):
    """Write a run's record to ``path`` atomically: never a half-written record."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, path)


def load_records(runs_dir):
    """Every finished run's record under ``runs_dir``, in file-name order (an unreadable
    file is skipped with a warning naming it)."""
    if not os.path.isdir(runs_dir):
        return []
    records = []
    for name in sorted(os.listdir(runs_dir)):
        if name.endswith(".json"):
            record = _read_record(os.path.join(runs_dir, name))
            if record is not None:
                records.append(record)
    return records
