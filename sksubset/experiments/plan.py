"""Plan the experiments: settings (:class:`ExperimentConfig`) and the list of runs.

The strategy names are in :mod:`sksubset.experiments.strategies`.
"""

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .._utils.budget import holdout_size, resolve_budget
from ..schedule import make_schedule
from .executors import LOCAL_CLUSTER
from .models import DEFAULT_MODEL
from .strategies import DEFAULT_R, Strategy, parse_strategy, strategy_R

__all__ = ["ExperimentConfig", "RunSpec", "pool_size", "earlystop_epochs",
           "default_frontier_epochs", "plan_runs", "DEFAULT_STRATEGIES", "DATASET_DEFAULTS",
           "DEFAULT_LR", "WEIGHTINGS"]

#: strategies run when none are named: what a user should compare, full training and its
#: frontier, the classifier's defaults (``default``), the two random baselines (RS2 and
#: RANDOM-WARM) and the papers' strategies
DEFAULT_STRATEGIES = ("full", "full-frontier", "default", "random-rs2", "random-warm",
                      "gradmatch-warm", "gradmatch-pb-warm", "craig-pb-warm", "glister-warm",
                      "crest")

#: per-dataset defaults of ``epochs`` (T), ``batch_size``, torch ``threads`` (one thread is
#: fastest for the small digits MLP and MNIST-1D CNN, whose batches are too small to share)
#: and ``lr`` (0.01, the paper's, where not given)
DATASET_DEFAULTS = {"digits": {"epochs": 60, "batch_size": 32, "threads": 1},
                    "fashion-mnist": {"epochs": 200, "batch_size": 20},
                    "cifar10": {"epochs": 300, "batch_size": 20},
                    "mnist1d": {"epochs": 30, "batch_size": 32, "threads": 1, "lr": 0.05},
                    "tabular": {"epochs": 40, "batch_size": 64, "threads": 1, "lr": 0.05},
                    "npz": {"epochs": 100, "batch_size": 32},
                    "diabetes": {"epochs": 60, "batch_size": 16, "threads": 1},
                    "friedman": {"epochs": 20, "batch_size": 64, "threads": 1}}

#: learning rate of the datasets whose :data:`DATASET_DEFAULTS` give none
DEFAULT_LR = 0.01

#: the classifier's ``weighting`` values (how selection weights enter a mini-batch's loss)
WEIGHTINGS = ("batch", "subset", "none")


@dataclass
class ExperimentConfig:
    """Settings of one experiment (the command-line options).

    Parameters
    ----------
    dataset : {"digits", "fashion-mnist", "cifar10", "mnist1d", "tabular", "npz", "diabetes", \
"friedman"}, default="digits"
        The last two are regression sets
        (:mod:`sksubset.experiments.regression`).
    data_dir : str, optional
        Fashion-MNIST folder, ``cifar-10-batches-py`` folder, ``.npz`` file, or
        the folder keeping the generated MNIST-1D arrays (default ``out/data``).
    strategies : sequence of str, optional
        Default :data:`DEFAULT_STRATEGIES`.
    budgets : sequence of float, default=(0.05, 0.1, 0.3)
    epochs : int, optional
        Epoch budget ``T`` (default per dataset, :data:`DATASET_DEFAULTS`).
    R : int or "auto", optional
        Reselection interval of the subset strategies (default: the estimators', 5; 1 for
        ``random-rs2``).
    kappa : float, default=0.5
        Warm-start fraction of the ``-warm`` strategies.
    seeds : int, default=3
        Seeds ``0 .. seeds - 1``.
    device : {"auto", "cpu", "cuda"}, default="auto"
    model : {"mlp", "mlp-256x2", "lenet5", "cnn1d", "resnet18", "resnet-small"}, optional
        Default ``lenet5`` for Fashion-MNIST, ``resnet18`` for CIFAR-10,
        ``cnn1d`` for MNIST-1D, else ``mlp``.
    batch_size : int, optional
        Default per dataset.
    lr : float, optional
        SGD learning rate (default per dataset: 0.05 for MNIST-1D, else 0.01).
    out : str, optional
        Output folder (default ``./results/<dataset>``).
    quiet : bool, default=False
        Plain log lines instead of a progress bar (also the behaviour when
        standard error is not a terminal).
    valid_size : float or int, optional
        Hold-out for the subset strategies (the paper's *isValid*).
    frontier_epochs : sequence of int, optional
        ``E`` values of ``full-frontier`` (default :func:`default_frontier_epochs`).
    threads : int, optional
        ``torch.set_num_threads`` for the experiment (default per dataset: 1 for
        digits, else torch's own).
    report_only : bool, default=False
        Train nothing: summarize every finished run found under ``out/runs``
        (e.g. runs made by several invocations with different budgets).
    tag : str, optional
        Label of a variant: appended to the subset strategies' names
        (``gradmatch-pb-warm+tag``), so that variants (other ``R``,
        ``valid_size``, selector parameters) share one output folder and one
        table with the baselines.
    selector_params : dict, optional
        Parameters of the subset strategies' selector (e.g.
        ``{"pool_factor": 3.0}``), passed to its class
        (:func:`~sksubset.experiments.strategies.make_selector`).
    weighting : {"batch", "subset", "none"}, default="batch"
        How selection weights enter the subset strategies' mini-batch losses
        (:class:`~sksubset.SubsetTrainingClassifier`'s ``weighting``).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        Learning-rate schedule of every run (:func:`~sksubset.experiments.models.make_net`).
    scheduler : str, optional
        Address of a Dask scheduler that trains the runs
        (:mod:`sksubset.experiments.cluster`), or ``"local"``: a Dask cluster
        of ``workers`` processes started on this machine (both need the
        ``dask`` extra).  Not part of a run's identity.
    workers : int, optional
        Runs trained at a time on this machine, each in its own worker
        process (:class:`~sksubset.experiments.executors.ProcessExecutor`;
        1: one after another in this process).  Default: fill the cores,
        the available cores divided by ``threads`` (one worker when
        ``threads`` is torch's own), at most the number of runs
        (:func:`~sksubset.experiments.executors.default_workers`).  Not with
        a scheduler's address, whose workers train the runs.  Not part of a
        run's identity: a run's record is the same in any process.
    train_size, test_size : int, optional
        Keep a stratified random sample (seed 0) of this many training / test
        examples (for quick runs on the CPU); default all of them.
    augment : bool, optional
        Train every strategy through a per-epoch random crop (and flip) of the
        images (:mod:`sksubset.experiments.augment`); default on for CIFAR-10,
        off otherwise; defined for CIFAR-10 and Fashion-MNIST.
    clock : {"wall", "cpu"}, default="wall"
        What a run's seconds measure: wall-clock, or the process's CPU time
        (for a machine shared with other work, with one torch thread: it
        counts only the run's own computation).  With ``"cpu"`` the
        classifier's wall-clock split (``timing``, per-round seconds) is
        scaled by the run's CPU/wall ratio; ``wall_seconds`` and
        ``cpu_seconds`` are recorded either way.
    """

    dataset: str = "digits"
    data_dir: str | None = None
    strategies: tuple | None = None
    budgets: tuple = (0.05, 0.1, 0.3)
    epochs: int | None = None
    R: int | str | None = None
    kappa: float = 0.5
    seeds: int = 3
    device: str = "auto"
    model: str | None = None
    batch_size: int | None = None
    lr: float | None = None
    out: str | None = None
    quiet: bool = False
    valid_size: float | None = None
    frontier_epochs: tuple | None = None
    threads: int | None = None
    report_only: bool = False
    tag: str | None = None
    selector_params: dict | None = None
    weighting: str = "batch"
    lr_schedule: str = "cosine"
    scheduler: str | None = None
    workers: int | None = None
    augment: bool | None = None
    train_size: int | None = None
    test_size: int | None = None
    clock: str = "wall"

    def resolved(self):
        """A copy with every default filled in."""
        defaults = DATASET_DEFAULTS.get(self.dataset, DATASET_DEFAULTS["npz"])
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif torch.device(device).type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but torch sees no CUDA device; use "
                             "--device cpu or auto.")
        if self.clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu'; got {self.clock!r}.")
        if self.workers is not None and self.scheduler not in (None, LOCAL_CLUSTER):
            raise ValueError(f"--workers sets the runs trained at a time on this machine; "
                             f"the workers of the scheduler at {self.scheduler} train them "
                             "(--scheduler local --workers N: a Dask cluster on this machine).")
        out = self.out or os.path.join("results", self.dataset)
        augment = self.dataset == "cifar10" if self.augment is None else bool(self.augment)
        if augment and self.dataset not in ("cifar10", "fashion-mnist"):
            raise ValueError(f"--augment is defined for cifar10 and fashion-mnist images; got "
                             f"--dataset {self.dataset}.")
        return ExperimentConfig(**{
            **asdict(self), "strategies": tuple(self.strategies or DEFAULT_STRATEGIES),
            "budgets": tuple(float(b) for b in self.budgets),
            "epochs": int(self.epochs or defaults["epochs"]),
            "batch_size": int(self.batch_size or defaults["batch_size"]),
            "lr": float(defaults.get("lr", DEFAULT_LR) if self.lr is None else self.lr),
            "model": self.model or DEFAULT_MODEL.get(self.dataset, "mlp"),
            "device": device, "out": out, "threads": self.threads or defaults.get("threads"),
            "augment": augment,
            "frontier_epochs": None if self.frontier_epochs is None else tuple(
                int(e) for e in self.frontier_epochs)})


def pool_size(n, valid_size):
    """Training examples left to the subset strategies after the ``valid_size`` hold-out."""
    return n - holdout_size(valid_size, n)


def _fee(cfg, budget, n, kappa):
    n_pool = pool_size(n, cfg.valid_size)
    k = resolve_budget(budget, n_pool)
    return make_schedule(cfg.epochs, k, n_pool, 1, kappa).full_epoch_equivalents(k, n_pool)


def earlystop_epochs(cfg, budget, n):
    """``E`` of ``full-earlystop``: the full-epoch cost of GRAD-MATCH-PB-WARM at ``budget``."""
    return max(1, int(round(_fee(cfg, budget, n, cfg.kappa))))


def default_frontier_epochs(cfg, n, count=5):
    """About ``count`` epochs ``E``, geometrically spread from the cheapest subset run's cost
    (in full-epoch equivalents) to twice the dearest one's (at most ``T``), so that the
    frontier spans the subset runs' wall-clock including their selection overhead."""
    fees = [_fee(cfg, b, n, kappa) for b in cfg.budgets for kappa in (0.0, cfg.kappa)]
    lo = max(1, int(math.floor(min(fees))))
    hi = min(cfg.epochs, max(lo, int(math.ceil(2 * max(fees)))))
    return tuple(sorted({int(round(e)) for e in np.geomspace(lo, hi, count)}))


@dataclass(frozen=True)
class RunSpec:
    """One run to train: a strategy at a budget (subset runs) or for ``epochs``, and a seed."""

    strategy: Strategy
    seed: int
    budget: float | None = None
    epochs: int | None = None  # E of the full-* kinds
    settings: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self):
        """The strategy's name, with the variant's tag when there is one."""
        tag = self.settings.get("tag")
        return self.strategy.name + (f"+{tag}" if tag else "")

    @property
    def run_id(self):
        """File name (without ``.json``) of the run's record."""
        parts = [self.name]
        if self.budget is not None:
            parts.append(f"b{self.budget:g}")
        if self.epochs is not None:
            parts.append(f"E{self.epochs}")
        digest = hashlib.sha1(json.dumps(self.settings, sort_keys=True).encode()).hexdigest()
        return "_".join(parts + [f"seed{self.seed}", digest[:8]])


def _settings(cfg, strategy):
    # digits and MNIST-1D are the same data wherever they are kept
    s = {"dataset": cfg.dataset,
         "data_dir": cfg.data_dir if cfg.dataset not in ("digits", "mnist1d") else None,
         "model": cfg.model, "T": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr,
         "device": cfg.device}
    if cfg.clock != "wall":
        s["clock"] = cfg.clock
    if cfg.lr_schedule != "cosine":
        s["lr_schedule"] = cfg.lr_schedule
    if cfg.augment:
        s["augment"] = True
    for key in ("train_size", "test_size"):
        if getattr(cfg, key):
            s[key] = getattr(cfg, key)
    if strategy.kind == "subset":
        s.update(R=strategy_R(cfg, strategy), kappa=cfg.kappa if strategy.warm else 0.0,
                 valid_size=cfg.valid_size, weighting=cfg.weighting)
        if cfg.tag:
            s["tag"] = cfg.tag
        if cfg.selector_params:
            s["selector_params"] = dict(cfg.selector_params)
    if strategy.kind == "full-earlystop":
        s.update(R=cfg.R or DEFAULT_R, kappa=cfg.kappa, valid_size=cfg.valid_size)
    return s


def plan_runs(cfg, n_train):
    """The :class:`RunSpec` list of a resolved config.

    Parameters
    ----------
    cfg : ExperimentConfig
        Resolved (:meth:`ExperimentConfig.resolved`).
    n_train : int
        Number of training examples.

    Returns
    -------
    list of RunSpec
    """
    specs = []
    for name in dict.fromkeys(cfg.strategies):
        strategy = parse_strategy(name)
        settings = _settings(cfg, strategy)
        if strategy.kind == "full":
            variants = [(None, cfg.epochs)]
        elif strategy.kind == "full-frontier":
            epochs = cfg.frontier_epochs or default_frontier_epochs(cfg, n_train)
            variants = [(None, e) for e in epochs]
        elif strategy.kind == "full-earlystop":
            variants = [(b, earlystop_epochs(cfg, b, n_train)) for b in cfg.budgets]
        else:
            variants = [(b, None) for b in cfg.budgets]
        for budget, epochs in variants:
            for seed in range(cfg.seeds):
                specs.append(RunSpec(strategy, seed, budget, epochs, settings))
    return specs
