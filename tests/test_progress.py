"""Tests of :mod:`sksubset._utils.progress`: a first line of the schedule, a bar where a person
watches (a terminal, a notebook) or when asked for, one line per round in a log, a summary line
at the end; silent clones at verbose=1; never next to skorch's table; nothing inspects the
caller."""

import contextlib
import functools
import io
import sys

import pytest
from conftest import ToyMLP, _toy_data
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch import NeuralNetClassifier
from torch import nn

from sksubset import SubsetTrainingClassifier
from sksubset._utils import progress
from sksubset._utils.progress import EpochBar, interactive, plan_line, progress_mode
from sksubset.schedule import make_schedule

pytestmark = pytest.mark.usefixtures("one_thread")


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


@contextlib.contextmanager
def terminal():
    """Standard error as a terminal, for the body of a test (pytest restores its own capture
    between a fixture's set-up and the test)."""
    stream, saved = Terminal(), sys.stderr
    sys.stderr = stream
    try:
        yield stream
    finally:
        sys.stderr = saved


def _clf(verbose=1, net_verbose=0):
    net = NeuralNetClassifier(ToyMLP, criterion=nn.CrossEntropyLoss, max_epochs=4,
                              batch_size=8, lr=0.1, train_split=None, verbose=net_verbose)
    return SubsetTrainingClassifier(net, budget=0.5, R=1, random_state=0, verbose=verbose)


def test_interactive_follows_stderr():
    with terminal():
        assert interactive()
    assert not interactive()  # pytest's capture


def test_the_rule():
    with terminal():
        assert progress_mode(1) == progress_mode(2) == "bar"
        assert progress_mode(0) is None
        assert progress_mode(2, net_verbose=1) is None  # skorch prints its epoch table
    assert progress_mode(1) == "log"  # pytest's capture, like a log file
    assert progress_mode(2) == "bar"  # asked for explicitly
    assert progress_mode(1, net_verbose=1) is None and progress_mode(0) is None


#: the digits layout of the user guide: T=300, kappa=0.5, 126 of 1257 rows
SCHEDULE = make_schedule(300, k=126, n=1257, R=5, kappa=0.5)


def test_the_first_line_says_what_the_warm_start_paid_for():
    assert (SCHEDULE.n_trained, SCHEDULE.skipped_epochs) == (166, 134)
    assert plan_line(SCHEDULE, 126, 1257) == (
        "sksubset: 166 trained of 300 scheduled epochs (the warm start paid for 134): "
        "16 warm on all 1257 rows, 150 on subsets of 126 rows")
    assert plan_line(make_schedule(20, k=5, n=50, R=5, kappa=0.0), 5, 50) == (
        "sksubset: 20 epochs: 20 on subsets of 5 rows")


def test_epoch_bar_measures_cost_and_shows_phase_and_loss():
    with terminal() as stream:
        bar = EpochBar(SCHEDULE, 126, 1257, verbose=1)
        assert bar.bar.total == pytest.approx(16 + 150 * 126 / 1257)
        bar.advance("warm", 2.3456)
        assert bar.bar.n == 1 and "1/166 epochs, warm, training loss 2.346" in str(bar.bar)
        bar.status("select")
        assert "1/166 epochs, select" in str(bar.bar)
        bar.advance("subset", 0.5)
        assert bar.bar.n == pytest.approx(1 + 126 / 1257)  # a subset epoch costs k / n
        assert "subset, training loss 0.5" in str(bar.bar)
        bar.close()
        bar.summary({"gradients": 1.0, "solver": 3.0, "total": 16.0}, 2)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("sksubset: 166 trained of 300 scheduled epochs")
    assert lines[-1] == ("sksubset: done: 2 epochs trained (1 warm, 1 on subsets) of 300 "
                         "scheduled, 2 selection rounds (25% of the time), 16.0 s, "
                         "training loss 0.5")


def test_epoch_bar_writes_lines_in_a_log_and_nothing_when_silent(capsys):
    log = EpochBar(SCHEDULE, 126, 1257, verbose=1)  # no terminal: lines, no bar
    assert log.bar is None
    log.advance("warm", 1.5)
    log.selected({"indices": list(range(126)), "reason": "first", "gradient_error": 0.25,
                  "seconds": 0.5})
    log.close()
    log.summary({"total": 2.0}, 1)
    assert capsys.readouterr().err.splitlines()[1:] == [
        "sksubset: selection before epoch 2 of 166 (first): 126 rows, gradient error 0.25, "
        "0.50 s, training loss 1.5",
        "sksubset: done: 1 epochs trained (1 warm, 0 on subsets) of 300 scheduled, 1 selection "
        "round (0% of the time), 2.0 s, training loss 1.5"]
    for quiet in (EpochBar(SCHEDULE, 126, 1257, verbose=0),
                  EpochBar(SCHEDULE, 126, 1257, verbose=1, net_verbose=1)):
        quiet.status("select")
        quiet.advance("subset", 1.0)
        quiet.selected({"indices": [0], "reason": "first"})
        quiet.close()
        quiet.summary({"total": 1.0}, 1)
    assert capsys.readouterr().err == ""


def _lines(text):
    return [x for x in text.replace("\r", "\n").splitlines() if x.strip()]


def test_fit_on_a_terminal_shows_a_bar_and_leaves_a_summary(monkeypatch):
    X, y = _toy_data(n=64)
    # every update drawn (tqdm draws at most every 0.1 s; this fit takes less)
    monkeypatch.setattr(progress, "tqdm", functools.partial(progress.tqdm, mininterval=0))
    with terminal() as stream:
        clf = _clf().fit(X, y)
    lines = _lines(stream.getvalue())
    n = clf.schedule_.n_trained
    assert lines[0] == plan_line(clf.schedule_, clf.subset_size_, 64)
    assert any("%|" in x and "training loss" in x for x in lines)
    assert any(f"{n}/{n} epochs, subset, training loss" in x for x in lines)
    assert lines[-1].startswith(f"sksubset: done: {n} epochs trained")
    assert f"{len(clf.selection_history_)} selection rounds" in lines[-1]
    assert not any("selection before epoch" in x for x in lines)  # the bar shows rounds


def test_fit_in_a_log_writes_a_line_per_round(capsys):
    X, y = _toy_data(n=64)
    clf = _clf().fit(X, y)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and "%|" not in err  # no bar in a log
    assert lines[0] == plan_line(clf.schedule_, clf.subset_size_, 64)
    rounds = [x for x in lines if x.startswith("sksubset: selection before epoch")]
    assert len(rounds) == len(clf.selection_history_) >= 2
    assert all("training loss" in x for x in rounds[1:])
    assert lines[-1].startswith(f"sksubset: done: {clf.n_iter_} epochs trained")
    assert len(lines) == len(rounds) + 2
    _clf(verbose=0).fit(X, y)
    assert capsys.readouterr().err == ""
    _clf(verbose=2).fit(X, y)  # the bar wherever the output goes
    assert "%|" in capsys.readouterr().err


def test_grid_search_writes_no_bars_by_default(capfd):
    X, y = _toy_data(n=64)
    grid = GridSearchCV(_clf(), {"R": [1, 2], "kappa": [0, 0.5]}, cv=2).fit(X, y)
    assert hasattr(grid, "best_estimator_")  # the refit on all data is silent too
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_searches_on_a_terminal_fit_silent_clones():
    """The clones that searches and cross-validation fit show no bar at verbose=1; the estimator
    the user built does, and verbose=2 shows every fit's."""
    X, y = _toy_data(n=64)
    with terminal() as stream:
        cross_val_score(_clf(), X, y, cv=2)
        GridSearchCV(_clf(), {"R": [1, 2]}, cv=2).fit(X, y)
        clone(_clf()).fit(X, y)
    assert stream.getvalue() == ""
    with terminal() as stream:
        clf = _clf()
        clf.fit(X, y)
    assert stream.getvalue().count("sksubset") >= 1
    assert not clf._cloned and clone(clf)._cloned and clone(clone(clf))._cloned
    with terminal() as stream:
        cross_val_score(_clf(verbose=2), X, y, cv=2)
    assert stream.getvalue().count("sksubset") >= 2


def test_nothing_next_to_skorch_epoch_table(capsys):
    X, y = _toy_data(n=64)
    with terminal() as stream:
        _clf(net_verbose=1).fit(X, y)
    table = capsys.readouterr().out
    assert "phase" in table and "subset_size" in table
    assert stream.getvalue() == ""
    _clf(net_verbose=1).fit(X, y)  # in a log: no line of ours beside the table either
    out, err = capsys.readouterr()
    assert "phase" in out and "sksubset" not in err
