"""Nets of the experiment runner: shapes, parameter counts and the skorch settings."""

import numpy as np
import pytest
import torch

from sksubset.experiments.models import (
    CNN1D,
    DEFAULT_MODEL,
    MODELS,
    LeNet5,
    ResNet18,
    SmallResNet,
    make_net,
    module_kwargs,
)


def test_models():
    kw = module_kwargs("lenet5", np.zeros((2, 1, 28, 28), np.float32), 10)
    assert kw == {"n_classes": 10, "in_channels": 1, "image_size": 28}
    net = LeNet5(**kw)
    assert net.classifier[0].in_features == 400
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert net(torch.zeros(2, 784)).shape == (2, 10)
    assert module_kwargs("lenet5", np.zeros((2, 784)), 10)["image_size"] == 28
    with pytest.raises(ValueError, match="square"):
        module_kwargs("lenet5", np.zeros((2, 64 + 1)), 10)
    net = make_net("mlp", {"n_features": 64, "n_classes": 10}, epochs=7, batch_size=32)
    params = net.get_params()
    assert params["optimizer__momentum"] == 0.9 and params["optimizer__weight_decay"] == 5e-4
    assert params["optimizer__nesterov"] is False and params["train_split"] is None
    assert params["lr"] == 0.01 and params["criterion"] is torch.nn.CrossEntropyLoss
    assert dict(params["callbacks"])["lr_scheduler"].kwargs["T_max"] == 7


def test_residual_nets():
    net = ResNet18()
    assert sum(p.numel() for p in net.parameters()) == 11_173_962
    assert net.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert module_kwargs("resnet18", np.zeros((2, 3, 32, 32)), 10) == {"n_classes": 10,
                                                                       "in_channels": 3}
    small = SmallResNet(n_classes=4, in_channels=1)
    assert small(torch.zeros(2, 1, 28, 28)).shape == (2, 4)
    assert small.linear.in_features == 64
    with pytest.raises(ValueError, match="images"):
        module_kwargs("resnet-small", np.zeros((2, 784)), 10)


def test_cnn1d_the_mnist1d_papers_small_cnn():
    assert DEFAULT_MODEL["mnist1d"] == "cnn1d" and MODELS["cnn1d"] is CNN1D
    kw = module_kwargs("cnn1d", np.zeros((2, 1, 40), np.float32), 10)
    assert kw == {"n_classes": 10, "in_channels": 1, "length": 40}
    assert module_kwargs("cnn1d", np.zeros((2, 40)), 10) == kw  # flat rows: one channel
    net = CNN1D(**kw)
    assert sum(p.numel() for p in net.parameters()) == 5210  # as in Greydanus (2020)
    assert net(torch.zeros(3, 1, 40)).shape == (3, 10)
    assert net(torch.zeros(3, 40)).shape == (3, 10)
    # the output layer is the last nn.Linear, whose gradients GRAD-MATCH matches
    from sksubset import last_layer_gradients
    from sksubset.gradients import find_last_linear
    assert find_last_linear(net) is net.linear and net.linear.in_features == 125
    skorch_net = make_net("cnn1d", kw, epochs=1, batch_size=4).initialize()
    X, y = np.random.default_rng(0).normal(size=(6, 1, 40)).astype(np.float32), np.arange(6)
    G = last_layer_gradients(skorch_net, X, y)
    assert tuple(G.shape) == (6, 10 * 126) and tuple(G.Hb.shape) == (6, 126)
    assert CNN1D(n_classes=4, in_channels=2, length=7)(torch.zeros(2, 2, 7)).shape == (2, 4)
    with pytest.raises(ValueError, match="length at least 3"):
        CNN1D(length=2)
    with pytest.raises(ValueError, match="signals"):
        module_kwargs("cnn1d", np.zeros((2, 1, 28, 28)), 10)
