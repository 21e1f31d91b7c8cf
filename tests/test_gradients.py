"""Tests of :mod:`sksubset.gradients` against torch autograd on small skorch nets."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sksubset.gradients import (
    LastLayer,
    batch_gradients,
    class_gradients,
    find_last_linear,
    gradient_sum,
    last_layer,
    last_layer_gradients,
    last_layer_params,
    random_batches,
    sample_gradients,
)

N_CLASSES, N_HIDDEN, N_IN = 3, 5, 6
CLASS_WEIGHT = [0.5, 2.0, 1.25]

# name -> (net kwargs for toy_net_factory); "ce" nets end in logits, "nll" in softmax
CONFIGS = {
    "ce": dict(criterion=nn.CrossEntropyLoss),
    "nll_softmax": dict(softmax=True),  # skorch's default criterion, NLLLoss
    "ce_class_weight": dict(criterion=nn.CrossEntropyLoss,
                            criterion__weight=torch.tensor(CLASS_WEIGHT)),
    "ce_label_smoothing": dict(criterion=nn.CrossEntropyLoss, criterion__label_smoothing=0.1),
    "ce_weight_and_smoothing": dict(criterion=nn.CrossEntropyLoss,
                                    criterion__weight=torch.tensor(CLASS_WEIGHT),
                                    criterion__label_smoothing=0.1),
    "nll_class_weight": dict(softmax=True, criterion__weight=torch.tensor(CLASS_WEIGHT)),
}
UNWEIGHTED = ["ce", "nll_softmax", "ce_label_smoothing"]
ATOL, RTOL = 2e-6, 1e-4


# ---------------------------------------------------------------------------
# autograd references
# ---------------------------------------------------------------------------
def _last_linear(module):
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return layers[-1]


def _layout(gb, gW):
    """Block ``c`` = [bias_c, weight row c], flattened."""
    return torch.cat([gb.unsqueeze(1), gW], dim=1).reshape(-1)


def reference_per_example(net, X, y):
    """Per-example last-layer gradients by autograd, in eval mode.

    Each example's loss is the term that skorch's loss sums/averages over the
    batch: ``net.get_loss(net.infer(X), y)`` with the criterion's reduction
    switched to ``'none'`` (so class weights multiply each example's loss and
    ``NLLLoss`` sees ``log(p + eps)``, as skorch computes it).
    """
    module, crit = net.module_, net.criterion_
    layer = _last_linear(module)
    was = module.training
    module.eval()
    reduction = crit.reduction
    crit.reduction = "none"
    try:
        losses = net.get_loss(net.infer(torch.as_tensor(X)), torch.as_tensor(y))
    finally:
        crit.reduction = reduction
    rows = []
    for i in range(len(y)):
        gb, gW = torch.autograd.grad(losses[i], [layer.bias, layer.weight], retain_graph=True)
        rows.append(_layout(gb, gW))
    module.train(was)
    return torch.stack(rows).detach()


def reference_batch_loss_grad(net, X, y):
    """Gradient of skorch's own (reduced) batch loss w.r.t. the last layer."""
    module = net.module_
    layer = _last_linear(module)
    was = module.training
    module.eval()
    loss = net.get_loss(net.infer(torch.as_tensor(X)), torch.as_tensor(y))
    gb, gW = torch.autograd.grad(loss, [layer.bias, layer.weight])
    module.train(was)
    return _layout(gb, gW).detach()


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def config(request):
    return request.param


@pytest.fixture(params=[False, True], ids=["initialized", "fitted"])
def net_and_data(request, config, toy_net_factory, toy_data):
    X, y = toy_data(n=23, n_features=N_IN, n_classes=N_CLASSES, seed=1)
    net = toy_net_factory(seed=2, n_in=N_IN, n_hidden=N_HIDDEN, n_classes=N_CLASSES,
                          **CONFIGS[config])
    if request.param:
        net.partial_fit(X, y)  # one epoch
    return net, X, y


# ---------------------------------------------------------------------------
# per-example gradients
# ---------------------------------------------------------------------------
def test_sample_gradients_match_autograd(net_and_data):
    net, X, y = net_and_data
    ll = last_layer(net, X, y)
    assert isinstance(ll, LastLayer)
    assert ll.E.shape == (23, N_CLASSES) and ll.Hb.shape == (23, N_HIDDEN + 1)
    G = sample_gradients(ll.E, ll.Hb)
    assert G.shape == (23, N_CLASSES * (N_HIDDEN + 1))
    ref = reference_per_example(net, X, y)
    torch.testing.assert_close(G, ref, atol=ATOL, rtol=RTOL)
    # the bias part of each block is dL/dz
    torch.testing.assert_close(G[:, ::N_HIDDEN + 1], ll.E)


@pytest.mark.parametrize("name", UNWEIGHTED)
def test_single_example_losses_as_skorch_computes_them(name, toy_net_factory, toy_data):
    """Without class weights, an example's loss is skorch's loss on a batch of one."""
    X, y = toy_data(n=9, n_features=N_IN, n_classes=N_CLASSES, seed=3)
    net = toy_net_factory(seed=4, n_in=N_IN, n_hidden=N_HIDDEN, n_classes=N_CLASSES,
                          **CONFIGS[name])
    layer = _last_linear(net.module_)
    net.module_.eval()
    rows = []
    for i in range(len(y)):
        loss = net.get_loss(net.infer(torch.as_tensor(X[i:i + 1])), torch.as_tensor(y[i:i + 1]))
        rows.append(_layout(*torch.autograd.grad(loss, [layer.bias, layer.weight])))
    net.module_.train()
    ll = last_layer(net, X, y)
    torch.testing.assert_close(sample_gradients(ll.E, ll.Hb), torch.stack(rows),
                               atol=ATOL, rtol=RTOL)


def test_nll_eps_factor_on_saturated_softmax(toy_net_factory, toy_data):
    """skorch's log(p + eps) matters when p_y is tiny: the factor p_y / (p_y + eps)."""
    X, y = toy_data(n=12, n_features=N_IN, n_classes=N_CLASSES, seed=8)
    net = toy_net_factory(softmax=True, n_in=N_IN, n_hidden=N_HIDDEN, n_classes=N_CLASSES)
    layer = _last_linear(net.module_)
    with torch.no_grad():
        layer.weight.mul_(30.0)
        layer.bias.zero_()
        h = net.module_.seq[:2](torch.as_tensor(X))
        z = layer(h)
    y_worst = z.argmin(1).numpy()  # the least likely class: p_y is tiny
    p_y = torch.softmax(z, 1).gather(1, torch.as_tensor(y_worst)[:, None]).squeeze(1)
    eps = torch.finfo(torch.float32).eps
    assert (p_y < eps).any()  # the construction reaches the regime where eps matters
    ll = last_layer(net, X, y_worst)
    ref = reference_per_example(net, X, y_worst)
    torch.testing.assert_close(sample_gradients(ll.E, ll.Hb), ref, atol=1e-5, rtol=1e-3)
    # and it differs from the plain cross-entropy gradient there
    plain = torch.softmax(z, 1) - torch.nn.functional.one_hot(torch.as_tensor(y_worst), N_CLASSES)
    assert not torch.allclose(ll.E, plain, atol=1e-3)


def test_gradient_sum_matches_skorch_batch_loss(net_and_data, config):
    """Sum of the per-example gradients = gradient of skorch's mean loss x normalizer."""
    net, X, y = net_and_data
    ll = last_layer(net, X, y)
    if "weight" in config:
        norm = float(np.asarray(CLASS_WEIGHT)[y].sum())  # torch's weighted mean
    else:
        norm = float(len(y))
    ref = reference_batch_loss_grad(net, X, y) * norm
    torch.testing.assert_close(gradient_sum(ll.E, ll.Hb), ref, atol=1e-5, rtol=RTOL)
    torch.testing.assert_close(ll.gradient_sum, sample_gradients(ll.E, ll.Hb).sum(0),
                               atol=1e-5, rtol=RTOL)


def test_class_gradients_are_own_blocks(net_and_data):
    net, X, y = net_and_data
    ll = last_layer(net, X, y)
    ref = reference_per_example(net, X, y)
    H1 = N_HIDDEN + 1
    own = torch.stack([ref[i, y[i] * H1:(y[i] + 1) * H1] for i in range(len(y))])
    torch.testing.assert_close(class_gradients(ll.E, ll.Hb, ll.y), own, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(class_gradients(ll.E, ll.Hb, y), own, atol=ATOL, rtol=RTOL)


def test_batch_gradients_with_short_last_batch(net_and_data):
    net, X, y = net_and_data
    ll = last_layer(net, X, y)
    batches = random_batches(len(y), 5, np.random.RandomState(0))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    ref = reference_per_example(net, X, y)
    expected = torch.stack([ref[torch.as_tensor(b)].mean(0) for b in batches])
    for chunk in (256, 2):
        Gb = batch_gradients(ll.E, ll.Hb, batches, chunk=chunk)
        assert Gb.shape == (5, N_CLASSES * (N_HIDDEN + 1))
        torch.testing.assert_close(Gb, expected, atol=ATOL, rtol=RTOL)


# ---------------------------------------------------------------------------
# the other LastLayer quantities
# ---------------------------------------------------------------------------
def test_logits_embedding_and_losses(net_and_data, config):
    net, X, y = net_and_data
    ll = last_layer(net, X, y)
    module = net.module_
    module.eval()
    with torch.no_grad():
        Xt = torch.as_tensor(X)
        h = module.seq[:2](Xt)  # Linear + ReLU: the last layer's input
        z = _last_linear(module)(h)
        out = net.infer(Xt)
    module.train()
    torch.testing.assert_close(ll.Z, z)
    torch.testing.assert_close(ll.Hb[:, 1:], h)
    assert torch.equal(ll.Hb[:, 0], torch.ones(len(y)))
    if config.startswith("nll"):
        torch.testing.assert_close(torch.softmax(ll.Z, 1), out)
    else:
        torch.testing.assert_close(ll.Z, out)
    assert ll.y.dtype == torch.long and ll.y.tolist() == y.tolist()
    # losses(): plain per-example cross-entropy from the logits
    ce = -torch.log_softmax(z, 1)[torch.arange(len(y)), torch.as_tensor(y)]
    torch.testing.assert_close(ll.losses(), ce)
    assert len(ll) == len(y)


def test_subset_indexing():
    E = torch.arange(12.).reshape(4, 3)
    Hb = torch.arange(8.).reshape(4, 2)
    ll = LastLayer(E, Hb, -E, torch.tensor([0, 2, 1, 2]))
    sub = ll[torch.tensor([3, 1])]
    assert torch.equal(sub.E, E[[3, 1]]) and torch.equal(sub.Hb, Hb[[3, 1]])
    assert torch.equal(sub.Z, -E[[3, 1]]) and sub.y.tolist() == [2, 2]
    assert len(sub) == 2


def test_last_layer_params_layout(toy_net_factory):
    net = toy_net_factory(criterion=nn.CrossEntropyLoss, n_in=N_IN, n_hidden=N_HIDDEN,
                          n_classes=N_CLASSES)
    layer = _last_linear(net.module_)
    p = last_layer_params(net.module_)
    assert p.shape == (N_CLASSES * (N_HIDDEN + 1),)
    H1 = N_HIDDEN + 1
    for c in range(N_CLASSES):
        assert p[c * H1] == layer.bias[c]
        assert torch.equal(p[c * H1 + 1:(c + 1) * H1], layer.weight[c].detach())
    assert not p.requires_grad
    assert find_last_linear(net.module_) is layer


def test_last_layer_params_first_order(toy_net_factory, toy_data):
    """A change of the parameters (in the layout) dotted with the gradient = loss change."""
    X, y = toy_data(n=10, n_features=N_IN, n_classes=N_CLASSES, seed=5)
    net = toy_net_factory(criterion=nn.CrossEntropyLoss, n_in=N_IN, n_hidden=N_HIDDEN,
                          n_classes=N_CLASSES)
    ll = last_layer(net, X, y)
    g = ll.gradient_sum.double()
    layer = _last_linear(net.module_)
    before = ll.losses().double().sum()
    gen = torch.Generator().manual_seed(0)
    delta = 1e-3 * torch.randn(N_CLASSES * (N_HIDDEN + 1), generator=gen)
    with torch.no_grad():
        p = last_layer_params(net.module_) + delta
        p = p.reshape(N_CLASSES, N_HIDDEN + 1)
        layer.bias.copy_(p[:, 0])
        layer.weight.copy_(p[:, 1:])
    after = last_layer(net, X, y).losses().double().sum()
    assert float(after - before) == pytest.approx(float(g @ delta.double()), rel=2e-2, abs=1e-6)


def test_no_bias_layer_params():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    p = last_layer_params(m).reshape(2, 4)
    assert torch.equal(p[:, 0], torch.zeros(2))
    assert torch.equal(p[:, 1:], m[2].weight.detach())


# ---------------------------------------------------------------------------
# modes, dropout, inputs
# ---------------------------------------------------------------------------
def test_train_mode_restored_and_dropout_deterministic(toy_net_factory, toy_data):
    X, y = toy_data(n=30, n_features=N_IN, n_classes=N_CLASSES, seed=6)
    net = toy_net_factory(criterion=nn.CrossEntropyLoss, dropout=0.5, n_in=N_IN,
                          n_hidden=N_HIDDEN, n_classes=N_CLASSES)
    net.module_.train()
    a = last_layer(net, X, y)
    assert net.module_.training
    assert all(m.training for m in net.module_.modules())
    b = last_layer(net, X, y)
    assert torch.equal(a.E, b.E) and torch.equal(a.Hb, b.Hb) and torch.equal(a.Z, b.Z)
    torch.testing.assert_close(sample_gradients(a.E, a.Hb), reference_per_example(net, X, y),
                               atol=ATOL, rtol=RTOL)
    # a module in eval mode stays in eval mode
    net.module_.eval()
    last_layer(net, X, y)
    assert not net.module_.training


def test_no_autograd_graph(toy_net_factory, toy_data):
    X, y = toy_data(n=8, n_features=N_IN, n_classes=N_CLASSES)
    net = toy_net_factory(criterion=nn.CrossEntropyLoss, n_in=N_IN, n_hidden=N_HIDDEN,
                          n_classes=N_CLASSES)
    ll = last_layer(net, X, y)
    assert not ll.E.requires_grad and not ll.Hb.requires_grad and not ll.Z.requires_grad


def test_chunking_and_input_types(toy_net_factory, toy_data):
    X, y = toy_data(n=23, n_features=N_IN, n_classes=N_CLASSES, seed=7)
    net = toy_net_factory(softmax=True, n_in=N_IN, n_hidden=N_HIDDEN, n_classes=N_CLASSES)
    ref = last_layer(net, X, y)
    for kw, XX, yy in [(dict(batch_size=7), X, y), (dict(batch_size=1), X, y),
                       ({}, torch.as_tensor(X), torch.as_tensor(y)),
                       (dict(batch_size=5), torch.as_tensor(X), y.tolist())]:
        other = last_layer(net, XX, yy, **kw)
        torch.testing.assert_close(other.E, ref.E)
        torch.testing.assert_close(other.Hb, ref.Hb)
        torch.testing.assert_close(other.Z, ref.Z)
        assert torch.equal(other.y, ref.y)


def test_stream_of_batches_gives_the_array_factors(toy_net_factory, toy_data):
    X, y = toy_data(n=23, n_features=N_IN, n_classes=N_CLASSES, seed=3)
    net = toy_net_factory(softmax=True, n_in=N_IN, n_hidden=N_HIDDEN, n_classes=N_CLASSES)
    ref = last_layer(net, X, y)
    loader = DataLoader(TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size=5)
    generator = ((X[s:s + 4], y[s:s + 4]) for s in range(0, len(y), 4))  # no length: grown
    for stream in (loader, generator):
        other = last_layer(net, stream)
        for a, b in ((other.E, ref.E), (other.Hb, ref.Hb), (other.Z, ref.Z)):
            torch.testing.assert_close(a, b)
        assert torch.equal(other.y, ref.y)
    with pytest.raises(ValueError, match="no batches"):
        last_layer(net, iter(()))


# ---------------------------------------------------------------------------
# unsupported arrangements
# ---------------------------------------------------------------------------
class NoLinear(nn.Module):
    def __init__(self, n_in=N_IN, n_classes=N_CLASSES):
        super().__init__()
        self.W = nn.Parameter(torch.randn(n_in, n_classes))

    def forward(self, X):
        return X @ self.W


class LogSoftmaxMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(N_IN, N_HIDDEN), nn.ReLU(),
                                 nn.Linear(N_HIDDEN, N_CLASSES), nn.LogSoftmax(dim=-1))

    def forward(self, X):
        return self.seq(X)


def _net(module, **kw):
    torch.manual_seed(0)
    return NeuralNetClassifier(module, train_split=None, verbose=0, **kw).initialize()


@pytest.mark.parametrize("make,match", [
    (lambda f: f(criterion=nn.MSELoss, n_in=N_IN, n_classes=N_CLASSES),
     r"Unsupported criterion MSELoss.*CrossEntropyLoss"),
    (lambda f: f(criterion=nn.BCEWithLogitsLoss, n_in=N_IN, n_classes=N_CLASSES),
     r"Unsupported criterion"),
    (lambda f: f(criterion=nn.CrossEntropyLoss, softmax=True, n_in=N_IN,
                 n_classes=N_CLASSES), r"not the logits"),
    (lambda f: f(softmax=False, n_in=N_IN, n_classes=N_CLASSES), r"not the softmax"),
    (lambda f: _net(NoLinear, criterion=nn.CrossEntropyLoss), r"no nn\.Linear"),
    (lambda f: _net(LogSoftmaxMLP), r"not the softmax"),
], ids=["mse", "bce", "ce_with_softmax", "nll_with_logits", "no_linear", "nll_log_softmax"])
def test_unsupported_raises(make, match, toy_net_factory, toy_data):
    X, y = toy_data(n=10, n_features=N_IN, n_classes=N_CLASSES)
    net = make(toy_net_factory)
    net.module_.train()
    with pytest.raises(ValueError, match=match):
        last_layer(net, X, y)
    assert net.module_.training  # restored even on error


# ---------------------------------------------------------------------------
# the public, checked entry point
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ce", "nll_class_weight"])
def test_last_layer_gradients_equal_autograd(name, toy_net_factory, toy_data):
    X, y = toy_data(n=23, n_features=N_IN, n_classes=N_CLASSES, seed=1)
    net = toy_net_factory(seed=2, n_in=N_IN, n_hidden=N_HIDDEN, n_classes=N_CLASSES,
                          **CONFIGS[name])
    net.partial_fit(X, y)
    G = last_layer_gradients(net, X, y)
    assert isinstance(G, LastLayer)
    assert G.shape == (23, N_CLASSES * (N_HIDDEN + 1)) and G.device == torch.device(net.device)
    torch.testing.assert_close(G.dense(), reference_per_example(net, X, y), atol=ATOL, rtol=RTOL)
    np.testing.assert_array_equal(G.y.numpy(), y)
    rows = G[torch.tensor([3, 0, 7])]
    assert rows.shape == (3, G.shape[1])
    torch.testing.assert_close(rows.dense(), G.dense()[[3, 0, 7]])


def test_last_layer_gradients_takes_tensors_and_small_batches(toy_net_factory, toy_data):
    X, y = toy_data(n=17, n_features=N_IN, n_classes=N_CLASSES, seed=5)
    net = toy_net_factory(criterion=nn.CrossEntropyLoss, n_in=N_IN, n_hidden=N_HIDDEN,
                          n_classes=N_CLASSES)
    a = last_layer_gradients(net, X, y)
    b = last_layer_gradients(net, torch.as_tensor(X), torch.as_tensor(y), batch_size=4)
    torch.testing.assert_close(a.E, b.E)
    torch.testing.assert_close(a.Hb, b.Hb)


@pytest.mark.parametrize("y_bad, err, match", [
    (np.arange(10) * 0.5, TypeError, "integer class indices"),
    (np.arange(10) % 4, ValueError, r"0\.\.2"),
    (-np.ones(10, dtype=np.int64), ValueError, r"0\.\.2"),
    (np.zeros(9, dtype=np.int64), ValueError, "10 rows but y has 9"),
    (np.zeros((10, 1), dtype=np.int64), ValueError, "1-D"),
])
def test_last_layer_gradients_bad_labels(y_bad, err, match, toy_net_factory, toy_data):
    X, _ = toy_data(n=10, n_features=N_IN, n_classes=N_CLASSES)
    net = toy_net_factory(n_in=N_IN, n_hidden=N_HIDDEN, n_classes=N_CLASSES)
    with pytest.raises(err, match=match):
        last_layer_gradients(net, X, y_bad)


def test_last_layer_gradients_needs_an_initialized_net(toy_data):
    X, y = toy_data(n=10, n_features=N_IN, n_classes=N_CLASSES)
    net = NeuralNetClassifier(nn.Linear(N_IN, N_CLASSES), criterion=nn.CrossEntropyLoss)
    with pytest.raises(ValueError, match="initialized skorch net"):
        last_layer_gradients(net, X, y)
