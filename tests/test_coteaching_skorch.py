"""CoTeachingClassifier on skorch's own machinery: training step, optimizers, set_params."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skal.coteaching import CoTeachingClassifier
from skal.nets import MLP

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n=48, d=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centers = rng.normal(scale=3.0, size=(n_classes, d))
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def _small(**kw):
    return CoTeachingClassifier(**{"max_epochs": 2, "batch_size": 16, "random_state": 0, **kw})


class _Counter(Callback):
    """Counts the hooks skorch fires."""

    def initialize(self):
        self.grad_calls = 0
        self.batches = 0
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.grad_calls += 1
        self.n_params = len(list(named_parameters))

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches += int(training)


class _CountingMLP(MLP):
    calls = 0

    def forward(self, X):
        type(self).calls += 1
        return super().forward(X)


def test_one_forward_per_network_and_one_grad_hook_per_batch_with_adam():
    X, y = _data(n=48)  # 3 batches of 16 per epoch
    counter = _Counter()
    _CountingMLP.calls = 0
    clf = _small(module=_CountingMLP, callbacks=[("count", counter)], max_epochs=2).fit(X, y)
    assert counter.batches == 6
    assert counter.grad_calls == 6  # skorch's on_grad_computed fires from its train_step
    # both networks' parameters are handed to the hook
    n_params = len(list(clf.module_.parameters())) + len(list(clf.module2_.parameters()))
    assert counter.n_params == n_params
    assert _CountingMLP.calls == 2 * 6  # one forward per network per batch, not per optimizer
    for opt in clf.coteaching_optimizers():
        assert int(opt.state[opt.param_groups[0]["params"][0]]["step"]) == 6


def test_lbfgs_uses_the_closure_and_learns():
    X, y = _data(n=60)
    counter = _Counter()
    clf = _small(optimizer=torch.optim.LBFGS, lr=0.5, optimizer__max_iter=4, batch_size=60,
                 max_epochs=3, forget_rate=0.0, callbacks=[("count", counter)]).fit(X, y)
    # LBFGS evaluates the closure several times per step: more hooks than batches
    assert counter.batches == 3 and counter.grad_calls > counter.batches
    assert np.all(np.isfinite(clf.history[:, "train_loss"]))
    assert clf.history[-1, "train_loss"] < clf.history[0, "train_loss"]
    assert clf.score(X, y) > 0.9


def test_train_loss_is_the_optimised_sum_and_lbfgs_sees_the_same_value():
    X, y = _data()
    clf = _small(max_epochs=1).fit(X, y)
    row = clf.history[-1]
    assert row["train_loss"] == pytest.approx(row["train_loss1"] + row["train_loss2"], rel=1e-5)


def test_set_params_before_and_after_fit():
    X, y = _data()
    clf = _small()
    # before fit: forget rate, schedules, optimizer parameters, callbacks
    clf.set_params(forget_rate=0.3, num_gradual=1, optimizer__lr=0.02, callbacks=[],
                   callbacks__print_log=None)
    clf.fit(X, y)
    np.testing.assert_allclose(clf.history[:, "forget_rate"], [0.0, 0.3])
    assert clf.history[0, "lr"] == pytest.approx(0.02)
    # after fit: optimizer parameters reach both live optimizers and the next fit
    clf.set_params(optimizer__lr=0.05)
    assert clf.get_params()["optimizer__lr"] == 0.05
    for opt in clf.coteaching_optimizers():
        assert all(g["lr"] == pytest.approx(0.05) for g in opt.param_groups)
    counter = _Counter()
    clf.set_params(forget_rate=0.1, num_gradual=0, epoch_decay_start=10,
                   callbacks=[("count", counter)])
    clf.fit(X, y)
    np.testing.assert_allclose(clf.history[:, "forget_rate"], [0.1, 0.1])
    np.testing.assert_allclose(clf.history[:, "lr"], [0.05, 0.05])
    assert counter.batches == 6
    # module parameters rebuild both networks with the sizes learned from the data
    clf.set_params(module__hidden_units=(3,))
    assert clf.module_.layers[0].out_features == 3 and clf.module_.layers[0].in_features == 5
    assert clf.module2_.layers[-1].out_features == 3
    assert clf.predict(X).shape == (len(X),)


def test_set_params_module_instance_before_fit():
    X, y = _data()
    clf = _small().set_params(module=MLP(5, 3, hidden_units=(4,)))
    clf.fit(X, y)
    assert clf.module_.layers[0].out_features == 4
    assert clf.module2_ is not clf.module_


def test_warm_start_continues_and_cold_start_restarts():
    X, y = _data()
    cold = _small(max_epochs=2, forget_rate=0.4, num_gradual=3).fit(X, y).fit(X, y)
    assert len(cold.history) == 2
    np.testing.assert_allclose(cold.history[:, "forget_rate"], [0.0, 0.2])
    warm = _small(max_epochs=2, forget_rate=0.4, num_gradual=3, warm_start=True)
    warm.fit(X, y)
    module = warm.module_
    warm.fit(X, y)
    assert warm.module_ is module and len(warm.history) == 4
    np.testing.assert_allclose(warm.history[:, "forget_rate"], [0.0, 0.2, 0.4, 0.4])


def test_partial_fit_takes_classes_on_first_call_and_is_reproducible():
    X, y = _data(n_classes=3)
    keep = y < 2  # the first batch has two of the three classes
    runs = []
    for _ in range(2):
        clf = _small(max_epochs=1)
        clf.partial_fit(X[keep], y[keep], classes=[0, 1, 2])
        assert clf.classes_.tolist() == [0, 1, 2] and clf.module_.layers[-1].out_features == 3
        clf.partial_fit(X, y)
        assert len(clf.history) == 2
        runs.append(clf.predict_proba(X))
    np.testing.assert_array_equal(*runs)
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X[:3], np.array([0, 1, 7]))


def test_fused_step_names_the_fit_parameters_it_cannot_pass():
    X, y = _data()
    with pytest.raises(TypeError, match=r"fit parameters \['sample_weight'\]"):
        _small(fused=True).fit(X, y, sample_weight=np.ones(len(y)))
