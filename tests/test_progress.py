"""Tests of :mod:`sksubset._utils.progress`: a bar where a person watches (a terminal, a
notebook) or when asked for; never next to skorch's table; nothing inspects the caller."""

import contextlib
import io
import sys

import pytest
from conftest import ToyMLP, _toy_data
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch import NeuralNetClassifier
from torch import nn

from sksubset import SubsetTrainingClassifier
from sksubset._utils.progress import EpochBar, interactive, shows_progress

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
        assert shows_progress(1) and shows_progress(2)
        assert not shows_progress(0)
        assert not shows_progress(2, net_verbose=1)  # skorch prints its epoch table
    assert not shows_progress(1)  # pytest's capture, like a log file
    assert shows_progress(2)  # asked for explicitly


def test_epoch_bar_counts_and_shows_its_status():
    with terminal() as stream:
        bar = EpochBar(3, verbose=1)
        bar.status("select")
        bar.advance("subset")
        assert bar.bar.n == 1 and "subset" in str(bar.bar)
        bar.close()
    assert "sksubset" in stream.getvalue()
    quiet = EpochBar(3, verbose=1)  # no terminal: no bar, and its calls do nothing
    assert quiet.bar is None
    quiet.status("select")
    quiet.advance("subset")
    quiet.close()


def test_fit_shows_a_bar_on_a_terminal_only(capsys):
    X, y = _toy_data(n=64)
    with terminal() as stream:
        _clf().fit(X, y)
    assert "sksubset" in stream.getvalue()
    _clf().fit(X, y)
    assert capsys.readouterr().err == ""
    _clf(verbose=2).fit(X, y)
    assert "sksubset" in capsys.readouterr().err


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


def test_no_bar_next_to_skorch_epoch_table(capsys):
    X, y = _toy_data(n=64)
    with terminal() as stream:
        _clf(net_verbose=1).fit(X, y)
    table = capsys.readouterr().out
    assert "phase" in table and "subset_size" in table
    assert stream.getvalue() == ""
