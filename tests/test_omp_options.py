"""The search options (:mod:`sksubset.omp._options`)."""

import pytest
import torch

from sksubset.omp._options import SearchOptions


def test_options_check_the_rule_and_default_the_checks():
    with pytest.raises(ValueError, match="criterion must be"):
        SearchOptions(criterion="best")
    assert SearchOptions().steps_between_checks(torch.device("cpu")) == 8
    assert SearchOptions().steps_between_checks(torch.device("cuda")) == 32
    assert SearchOptions(check_every=3).steps_between_checks(torch.device("cuda")) == 3
