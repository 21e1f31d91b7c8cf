"""Progress bars: shown where a person watches; silent in logs, searches, next to skorch's table."""

import contextlib
import io
import sys

import pytest
from conftest import ToyMLP, _toy_data
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch import NeuralNetClassifier
from torch import nn

from sksubset import SubsetTrainingClassifier
from sksubset._utils.progress import epoch_bar, inside_model_selection, interactive

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


def test_inside_model_selection_sees_sklearn_frames():
    assert not inside_model_selection()
    namespace = {"__name__": "sklearn.model_selection._search", "probe": inside_model_selection}
    exec("def search():\n    return probe()", namespace)
    assert namespace["search"]()


def test_epoch_bar_rules():
    with terminal():
        assert epoch_bar(3, verbose=1) is not None
        assert epoch_bar(3, verbose=0) is None
        assert epoch_bar(3, verbose=2, net_verbose=1) is None  # skorch prints its epoch table
    assert epoch_bar(3, verbose=1) is None  # pytest's capture, like a log file
    assert epoch_bar(3, verbose=2) is not None  # asked for explicitly


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


def test_search_on_a_terminal_writes_no_bars():
    X, y = _toy_data(n=64)
    with terminal() as stream:
        cross_val_score(_clf(), X, y, cv=2)
        GridSearchCV(_clf(), {"R": [1, 2]}, cv=2, refit=False).fit(X, y)
    assert stream.getvalue() == ""


def test_no_bar_next_to_skorch_epoch_table(capsys):
    X, y = _toy_data(n=64)
    with terminal() as stream:
        _clf(net_verbose=1).fit(X, y)
    table = capsys.readouterr().out
    assert "phase" in table and "subset_size" in table
    assert stream.getvalue() == ""
