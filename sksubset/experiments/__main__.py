"""Command line of the experiment runner: python -m sksubset.experiments, sksubset-bench."""

import argparse
import ast
import os
import sys
import warnings

from . import run_experiment
from .datasets import DATASETS, FASHION_MNIST_DIR
from .models import MODELS
from .plan import DATASET_DEFAULTS, DEFAULT_STRATEGIES, WEIGHTINGS, ExperimentConfig
from .strategies import parse_strategy

__all__ = ["build_parser", "config_from_args", "main"]


def _valid_size(text):
    value = float(text)
    if value >= 1:
        if value != int(value):
            raise argparse.ArgumentTypeError(f"--valid-size must be a fraction in (0, 1) or a "
                                             f"count; got {text}")
        return int(value)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--valid-size must be positive; got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1; got {text}")
    return value


def _key_value(text):
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE; got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value  # a bare word: a string


def _budget(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a budget is a fraction in (0, 1]; got {text}")
    return value


def _prog():
    """The command's name in usage lines: ``sksubset-bench`` when run as that script, else
    ``python -m sksubset.experiments``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name.startswith("sksubset-bench"):
        return "sksubset-bench"
    return "python -m sksubset.experiments"


def build_parser():
    """The ``argparse`` parser of :func:`main`."""
    defaults = ", ".join(f"{name}: T={d['epochs']}, batch {d['batch_size']}"
                         for name, d in DATASET_DEFAULTS.items())
    p = argparse.ArgumentParser(
        prog=_prog(),
        description="Train a net on subsets chosen by GRAD-MATCH and its baselines, compare "
                    "with full-data training (accuracy, wall-clock, speedup, relative error, "
                    "Wilcoxon tests, frontier of full training) and write a table and plots. "
                    "Finished runs are kept under OUT/runs and skipped on rerun.",
        epilog="Strategies: full, full-earlystop, full-frontier, random-rs2[-warm] (RS2: random "
               "subsets without replacement across rounds, R=1 unless --R is given), or "
               "<selector>[-pb|-pc][-warm] "
               "with <selector> in gradmatch, random, craig, glister, crest "
               "(gradmatch alone is per example, per class and per gradient as in the "
               "paper's code; -pc: per class on the whole gradient; -pb: per batch; -warm: "
               "kappa warm start). Training: SGD lr 0.01, momentum 0.9, weight decay 5e-4, "
               "cosine annealing per epoch (--lr-schedule). Defaults per dataset: "
               + defaults + ".")
    p.add_argument("--dataset", choices=DATASETS, default="digits",
                   help="data set (default: digits, sklearn's bundled 8x8 digits, 70/30 split)")
    p.add_argument("--data-dir", default=None,
                   help=f"Fashion-MNIST folder (default {FASHION_MNIST_DIR}), the "
                        "cifar-10-batches-py folder (data_batch_1..5, test_batch; never "
                        "downloaded) or the .npz file (arrays X_train, y_train, X_test, y_test)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="train through a new random crop of each image every epoch (padding 4; "
                        "CIFAR-10 also flips, as the papers' code); default: on for cifar10, "
                        "off for fashion-mnist")
    p.add_argument("--strategies", nargs="+", default=None, metavar="NAME",
                   help="strategies to run (default: " + " ".join(DEFAULT_STRATEGIES) + ")")
    p.add_argument("--budgets", nargs="+", type=_budget, default=[0.05, 0.1, 0.3],
                   metavar="FRACTION", help="subset sizes as fractions (default: 0.05 0.1 0.3)")
    p.add_argument("--epochs", type=_positive_int, default=None, metavar="T",
                   help="epoch budget T (default per dataset, see below)")
    p.add_argument("--R", type=_positive_int, default=None,
                   help="reselect every R subset epochs (default: 20; 1 for random-rs2)")
    p.add_argument("--kappa", type=float, default=0.5,
                   help="warm-start fraction of the -warm strategies (default: 0.5)")
    p.add_argument("--seeds", type=_positive_int, default=3,
                   help="number of seeds, 0..N-1 (default: 3)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="torch device (default: auto, cuda when available)")
    p.add_argument("--train-size", type=_positive_int, default=None, metavar="N",
                   help="train on a stratified random sample of N training examples "
                        "(seed 0; for quick runs on the CPU; default: all)")
    p.add_argument("--test-size", type=_positive_int, default=None, metavar="N",
                   help="evaluate on a stratified random sample of N test examples (seed 0)")
    p.add_argument("--model", choices=tuple(MODELS), default=None,
                   help="network (default: lenet5 for fashion-mnist, resnet18 for cifar10, "
                        "else mlp)")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="mini-batch size (default per dataset)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default: 0.01)")
    p.add_argument("--valid-size", type=_valid_size, default=None,
                   help="hold out this fraction (or count) of the training data and match its "
                        "gradient (the paper's isValid; default: off)")
    p.add_argument("--frontier-epochs", nargs="+", type=_positive_int, default=None,
                   metavar="E", help="epochs E of the full-frontier runs (default: five values "
                   "spread geometrically over the subset runs' cost, in full-epoch equivalents, "
                   "up to twice the largest)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (default: 1 for digits, whose small MLP runs "
                        "fastest on one, else torch's own)")
    p.add_argument("--out", default=None, metavar="OUT",
                   help="output folder (default: ./results/<dataset>)")
    p.add_argument("--tag", default=None,
                   help="label of a variant, appended to the subset strategies' names "
                        "(e.g. gradmatch-pb-warm+R10) so that variants share OUT with the "
                        "baselines")
    p.add_argument("--selector-param", action="append", default=[], metavar="KEY=VALUE",
                   type=_key_value,
                   help="parameter of the subset strategies' selector, e.g. pool_fraction=0.3 "
                        "(repeatable; VALUE is a Python literal)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="what run seconds measure: wall-clock, or the process CPU time (for "
                        "a machine shared with other work; use with --threads 1) "
                        "(default: wall)")
    p.add_argument("--weighting", choices=WEIGHTINGS, default="batch",
                   help="how selection weights enter a mini-batch's loss: batch (sum w l / "
                        "sum w per mini-batch), subset (mean w l, weights averaging 1 over the "
                        "subset) or none (ignored); default: batch")
    p.add_argument("--lr-schedule", choices=("cosine", "constant"), default="cosine",
                   help="learning-rate schedule of every run (default: cosine annealing over "
                        "the run's epochs)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="train the runs on the Dask cluster of this scheduler (e.g. "
                            "tcp://10.0.0.5:8786); workers need the data and OUT at the same "
                            "paths (needs sksubset[dask])")
    where.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                       help="train the runs on a local Dask cluster of N worker processes "
                            "(needs sksubset[dask])")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: summarize every finished run under OUT/runs")
    p.add_argument("--quiet", action="store_true",
                   help="plain log lines instead of a progress bar (the default when standard "
                        "error is not a terminal)")
    return p


def config_from_args(args):
    """The :class:`~sksubset.experiments.plan.ExperimentConfig` of parsed arguments."""
    return ExperimentConfig(
        dataset=args.dataset, data_dir=args.data_dir,
        strategies=tuple(args.strategies) if args.strategies else None,
        budgets=tuple(args.budgets), epochs=args.epochs, R=args.R, kappa=args.kappa,
        seeds=args.seeds, device=args.device, model=args.model, batch_size=args.batch_size,
        lr=args.lr, out=args.out, quiet=args.quiet, valid_size=args.valid_size,
        frontier_epochs=tuple(args.frontier_epochs) if args.frontier_epochs else None,
        threads=args.threads, report_only=args.report_only, tag=args.tag,
        selector_params=dict(args.selector_param) or None, weighting=args.weighting,
        lr_schedule=args.lr_schedule, scheduler=args.scheduler, workers=args.workers,
        augment=args.augment, train_size=args.train_size, test_size=args.test_size,
        clock=args.clock)


def main(argv=None):
    """Run the command line; returns the exit status (0, or 2 on a usage or data error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.kappa <= 1:
        parser.error(f"--kappa must be in [0, 1]; got {args.kappa}")
    for name in args.strategies or ():
        try:
            parse_strategy(name)
        except ValueError as exc:
            parser.error(str(exc))
    warnings.simplefilter("default", RuntimeWarning)
    try:
        run_experiment(config_from_args(args))
    except (FileNotFoundError, ImportError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"{parser.prog}: error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
