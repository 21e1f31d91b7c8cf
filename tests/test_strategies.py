"""Strategy names: parsing, reselection intervals and each strategy's selector instance."""

import pytest

from sksubset.classifier import default_selector
from sksubset.experiments import ExperimentConfig
from sksubset.experiments.plan import plan_runs
from sksubset.experiments.strategies import make_selector, parse_strategy, strategy_R
from sksubset.selectors import (
    STRATEGIES,
    CraigSelector,
    CrestSelector,
    GlisterSelector,
    GradMatchSelector,
    RandomSelector,
)

#: every subset strategy's selector: its class and the parameters it must have, so that each
#: strategy selects as it did before the defaults moved (GRAD-MATCH's and GLISTER's per_class,
#: CRAIG's epsilon)
EXPECTED = {
    "gradmatch": (GradMatchSelector, {"per_class": True, "per_gradient": True,
                                      "criterion": "correlation", "per_step": 16, "lam": 0.05,
                                      "pool_factor": None, "positive": True}),
    "gradmatch-warm": (GradMatchSelector, {"per_class": True, "per_gradient": True,
                                           "criterion": "correlation", "per_step": 16}),
    "gradmatch-pc-warm": (GradMatchSelector, {"per_class": True, "per_gradient": False,
                                              "criterion": "correlation", "per_step": 16}),
    "gradmatch-pb": (GradMatchSelector, {"per_class": False, "per_gradient": False,
                                         "criterion": "gain", "per_step": 1, "lam": 0.05}),
    "gradmatch-pb-warm": (GradMatchSelector, {"per_class": False, "per_gradient": False,
                                              "criterion": "gain", "per_step": 1}),
    "random": (RandomSelector, {"sampling": "independent"}),
    "random-warm": (RandomSelector, {"sampling": "independent"}),
    "random-rs2": (RandomSelector, {"sampling": "cycle"}),
    "random-rs2-warm": (RandomSelector, {"sampling": "cycle"}),
    "craig-pb-warm": (CraigSelector, {"epsilon": 0.1, "per_class": True, "optimizer": "lazy",
                                      "metric": "euclidean"}),
    "craig": (CraigSelector, {"epsilon": 0.1, "per_class": True}),
    "glister-warm": (GlisterSelector, {"per_class": False, "epsilon": 0.01, "eta": 0.03,
                                       "update_every": 1, "optimizer": "stochastic"}),
    "crest": (CrestSelector, {"subset_fraction": 0.01, "check_every": 1}),
}


def _tol(selector):
    """GRAD-MATCH's OMP tolerance (``tol``; ``eps`` before the rename)."""
    params = selector.get_params()
    return params["tol"] if "tol" in params else params["eps"]


def _held_out(selector):
    """GLISTER's held-out share (``valid_size``; ``n_valid`` before the rename)."""
    params = selector.get_params()
    return params["valid_size"] if "valid_size" in params else params["n_valid"]


def test_parse_strategy():
    s = parse_strategy("gradmatch")
    assert (s.selector, s.per_batch, s.per_class, s.warm) == ("gradmatch", False, True, False)
    assert parse_strategy("gradmatch-pc-warm") == parse_strategy("gradmatch-pc-warm")
    s = parse_strategy("gradmatch-pb-warm")
    assert (s.per_batch, s.per_class, s.warm) == (True, False, True)
    s = parse_strategy("craig-pb-warm")
    assert (s.selector, s.per_batch, s.warm) == ("craig", True, True)
    assert parse_strategy("full-frontier").kind == "full-frontier"
    s = parse_strategy("random-rs2")
    assert (s.selector, s.rs2, s.warm, s.per_class) == ("random", True, False, False)
    assert parse_strategy("random-rs2-warm").warm and not parse_strategy("random-warm").rs2
    for bad in ("bogus", "gradmatch-xx", "full-warm", "random-pb-pc", "gradmatch-rs2"):
        with pytest.raises(ValueError, match="Unknown strategy"):
            parse_strategy(bad)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_strategy_builds_its_selector(name):
    cls, expected = EXPECTED[name]
    selector = make_selector(parse_strategy(name))
    assert type(selector) is cls
    params = selector.get_params()
    assert {k: params[k] for k in expected} == expected
    # the classifier sets these for every round: an instance leaves them at their defaults
    assert params["budget"] == 0.1 and params["random_state"] is None
    if cls is GradMatchSelector:
        assert _tol(selector) == 1e-10
    if cls is GlisterSelector:
        assert _held_out(selector) == 0.1


def test_every_selector_and_default_strategy_is_covered():
    from sksubset.experiments.plan import DEFAULT_STRATEGIES

    assert {parse_strategy(n).selector for n in EXPECTED} == set(STRATEGIES)
    assert {n for n in DEFAULT_STRATEGIES
            if not n.startswith("full") and n != "default"} <= set(EXPECTED)
    # what the guide recommends comparing: the classifier's defaults and the two baselines
    assert {"full", "full-frontier", "default", "random-rs2", "random-warm"} <= set(
        DEFAULT_STRATEGIES)


def test_selector_params_go_to_the_class_with_the_strategys_own_settings():
    # per-example GRAD-MATCH with parameters: the class's solver unless they name one
    sel = make_selector(parse_strategy("gradmatch-pc-warm"), {"pool_factor": 3.0})
    p = sel.get_params()
    assert (p["per_class"], p["per_gradient"], p["pool_factor"]) == (True, False, 3.0)
    assert (p["criterion"], p["per_step"]) == ("correlation", "auto")
    fast = {"criterion": "correlation", "per_step": 16, "pool_factor": 3.0}
    p = make_selector(parse_strategy("gradmatch"), fast).get_params()
    assert (p["criterion"], p["per_step"], p["per_gradient"]) == ("correlation", 16, True)
    # parameters override the strategy's settings
    assert make_selector(parse_strategy("craig"), {"epsilon": 0.2}).epsilon == 0.2
    assert make_selector(parse_strategy("craig"), {"metric": "cosine"}).epsilon == 0.1
    assert make_selector(parse_strategy("random-rs2"), {"budget": 0.1}).sampling == "cycle"
    with pytest.raises(TypeError):
        make_selector(parse_strategy("random"), {"no_such_parameter": 1})


def test_full_training_has_no_selector():
    with pytest.raises(ValueError, match="no selector"):
        make_selector(parse_strategy("full"))


def test_rs2_reselects_every_epoch_unless_R_is_given():
    cfg = ExperimentConfig(dataset="digits", budgets=(0.1,), R=None,
                           strategies=("random-rs2", "random")).resolved()
    assert [strategy_R(cfg, parse_strategy(n)) for n in cfg.strategies] == [1, "auto"]
    assert [s.settings["R"] for s in plan_runs(cfg, 1257) if s.seed == 0] == [1, "auto"]
    cfg = ExperimentConfig(dataset="digits", budgets=(0.1,), R=5,
                           strategies=("random-rs2", "random")).resolved()
    assert {s.settings["R"] for s in plan_runs(cfg, 1257)} == {5}


def test_default_is_the_classifier_as_a_user_writes_it():
    strategy = parse_strategy("default")
    assert strategy.kind == "subset" and strategy.warm and not strategy.per_batch
    assert make_selector(strategy).get_params() == default_selector().get_params()
    tuned = make_selector(strategy, {"pool_factor": 3.0, "sampling": "cycle"})
    assert tuned.get_params() == default_selector().set_params(
        pool_factor=3, sampling="cycle").get_params()
