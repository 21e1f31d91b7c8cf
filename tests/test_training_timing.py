"""Tests of :mod:`sksubset._training._timing` (the wall-clock of a fit, by part)."""

import types

import pytest
import torch

from sksubset._training import _timing
from sksubset._training._timing import PARTS, Clock


@pytest.fixture
def ticks(monkeypatch):
    """A clock that reads 0, 1, 2, ... seconds: each reading advances it by one."""
    state = {"now": -1.0}

    def perf_counter():
        state["now"] += 1.0
        return state["now"]

    monkeypatch.setattr(_timing, "time", types.SimpleNamespace(perf_counter=perf_counter))
    return state


def test_laps_add_up_to_the_total(ticks):
    clock = Clock(torch.device("cpu"), setup=0.25)  # reads 0
    assert clock.lap("warm_start") == 1.0  # reads 1
    assert clock.lap("subset_training") == 1.0
    assert clock.lap("subset_training") == 1.0
    timing = clock.timing()
    assert set(timing) == set(PARTS) | {"total"}
    assert timing == {"setup": 0.25, "warm_start": 1.0, "gradients": 0.0, "solver": 0.0,
                      "subset_training": 2.0, "total": 3.25}


def test_a_selection_step_charges_its_forward_passes_to_gradients(ticks):
    clock = Clock(torch.device("cpu"))  # reads 0

    def step(context):
        assert context == "ctx"
        clock.forward(lambda: None)  # reads 1 and 2: one second of forward pass
        clock.forward(lambda: None)  # reads 3 and 4
        return "selection"

    out, seconds, gradient_seconds = clock.selection(step, "ctx")  # the lap reads 5
    assert (out, seconds, gradient_seconds) == ("selection", 5.0, 2.0)
    totals = clock.timing()
    assert (totals["gradients"], totals["solver"]) == (2.0, 3.0)
    # the next step starts its own count of forward passes
    assert clock.selection(lambda context: None, None) == (None, 1.0, 0.0)
    assert (clock.timing()["gradients"], clock.timing()["solver"]) == (2.0, 4.0)


def test_a_forward_pass_returns_its_result():
    clock = Clock(torch.device("cpu"))
    assert clock.forward(lambda a, b=0: a + b, 2, b=3) == 5
