"""Tests of skal.nets: shapes, options, dropout in eval mode, use with Co-Teaching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from skal.coteaching import CoTeachingClassifier
from skal.nets import MLP, CoTeachingCNN

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mlp_shapes_and_layers():
    net = MLP(64, 10, hidden_units=(32, 16))
    assert net(torch.zeros(4, 64)).shape == (4, 10)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 16), (16, 10)]
    assert sum(isinstance(m, nn.LayerNorm) for m in net.modules()) == 2
    assert MLP(5, 3, hidden_units=7)(torch.zeros(2, 5)).shape == (2, 3)
    linear_only = MLP(5, 3, hidden_units=())
    assert [type(m) for m in linear_only.layers] == [nn.Linear]


def test_mlp_norm_options_and_single_sample_batches():
    assert any(isinstance(m, nn.BatchNorm1d) for m in MLP(4, 2, norm="batch").modules())
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))
                   for m in MLP(4, 2, norm=None).modules())
    # the default layer norm trains on a one-sample batch
    MLP(4, 2).train()(torch.ones(1, 4)).sum().backward()


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_features=0, n_classes=2), "n_features"),
    (dict(n_features=3, n_classes=2.5), "n_classes"),
    (dict(n_features=3, n_classes=2, dropout=1.0), "dropout"),
    (dict(n_features=3, n_classes=2, norm="group"), "norm"),
    (dict(n_features=3, n_classes=2, hidden_units=(4, 0)), "hidden_units"),
])
def test_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_mlp_accepts_numpy_integer_sizes():
    # sizes taken from array shapes and np.unique are numpy integers
    net = MLP(np.int64(6), np.int32(3), hidden_units=np.int64(5))
    assert [m.out_features for m in net.modules() if isinstance(m, nn.Linear)] == [5, 3]


def test_mlp_dropout_only_in_training_mode():
    torch.manual_seed(0)
    net = MLP(16, 4, hidden_units=(64,), dropout=0.5)
    x = torch.randn(8, 16)
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    net.train()
    assert not torch.allclose(net(x), net(x))


def test_cnn_architecture_matches_the_paper():
    net = CoTeachingCNN(in_channels=3, n_classes=10)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 9
    assert [c.out_channels for c in convs] == [128, 128, 128, 256, 256, 256, 512, 256, 128]
    assert [c.kernel_size[0] for c in convs] == [3] * 7 + [1, 1]
    assert convs[6].padding == (0, 0) and convs[0].padding == (1, 1)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 9
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 2
    assert all(m.negative_slope == 0.01 for m in net.modules() if isinstance(m, nn.LeakyReLU))
    assert net.classifier.in_features == 128 and net.classifier.out_features == 10


def test_cnn_forward_shape_and_eval_mode_dropout():
    torch.manual_seed(0)
    net = CoTeachingCNN(in_channels=3, n_classes=7, dropout=0.25)
    x = torch.randn(2, 3, 32, 32)
    net.eval()
    out = net(x)
    assert out.shape == (2, 7)
    torch.testing.assert_close(out, net(x))  # no dropout at prediction time
    net.train()
    assert not torch.allclose(net(x), net(x))


def test_mlp_in_coteaching_classifier_gets_sizes_from_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    y = np.array(["u", "v", "w", "x"])[np.arange(40) % 4]
    clf = CoTeachingClassifier(MLP, module__hidden_units=(8,), max_epochs=1, device="cpu",
                               verbose=0).fit(X, y)
    assert clf.module_.layers[0].in_features == 6
    assert clf.module2_.layers[-1].out_features == 4


def test_cnn_in_coteaching_classifier_fused_updates_batch_norm_of_both():
    torch.manual_seed(0)
    X = torch.randn(16, 3, 12, 12).numpy()
    y = np.arange(16) % 2
    clf = CoTeachingClassifier(CoTeachingCNN, module__n_classes=2, fused=True, max_epochs=1,
                               batch_size=16, device="cpu", verbose=0)
    clf.fit(X, y)
    bn1 = clf.module_.features[1]
    bn2 = clf.module2_.features[1]
    assert int(bn1.num_batches_tracked) == 1 and int(bn2.num_batches_tracked) == 1
    assert not torch.allclose(bn1.running_mean, torch.zeros_like(bn1.running_mean))
    assert not torch.allclose(bn1.running_mean, bn2.running_mean)
    assert clf.predict_proba(X).shape == (16, 2)
