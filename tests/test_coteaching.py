"""Tests of skal.coteaching: schedules, the small-loss exchange, the estimator."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Checkpoint
from skorch.dataset import ValidSplit

from skal.coteaching import (
    CoTeachingClassifier,
    forget_rate_scheduler,
    learning_rate_plan,
    loss_coteaching,
)
from skal.nets import MLP

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------


def test_forget_rate_schedule_linear_ramp_then_flat():
    np.testing.assert_allclose(forget_rate_scheduler(6, 0.4, 3, 1), [0.0, 0.2, 0.4, 0.4, 0.4, 0.4])
    # the reference's linspace(0, r, num_gradual) for exponent 1
    np.testing.assert_allclose(forget_rate_scheduler(12, 0.2, 10, 1)[:10], np.linspace(0, 0.2, 10))
    np.testing.assert_allclose(forget_rate_scheduler(12, 0.2, 10, 1)[10:], [0.2, 0.2])


def test_forget_rate_schedule_shorter_than_ramp_does_not_crash():
    sched = forget_rate_scheduler(3, 0.5, 10, 1)
    np.testing.assert_allclose(sched, np.linspace(0, 0.5, 10)[:3])
    assert forget_rate_scheduler(0, 0.5, 10, 1).shape == (0,)


def test_forget_rate_schedule_exponent_never_jumps():
    sched = forget_rate_scheduler(5, 0.4, 3, 2)
    np.testing.assert_allclose(sched, [0.0, 0.1, 0.4, 0.4, 0.4])
    long = forget_rate_scheduler(50, 0.3, 20, 0.5)
    assert long[19] == pytest.approx(0.3)
    assert np.all(np.diff(long) >= 0)
    # no step larger than the largest step inside the ramp
    assert np.max(np.diff(long)) == pytest.approx(np.max(np.diff(long[:20])))


def test_forget_rate_schedule_degenerate_ramps_and_errors():
    np.testing.assert_allclose(forget_rate_scheduler(3, 0.3, 0, 1), [0.3, 0.3, 0.3])
    np.testing.assert_allclose(forget_rate_scheduler(3, 0.3, 1, 1), [0.0, 0.3, 0.3])
    with pytest.raises(ValueError, match="forget_rate"):
        forget_rate_scheduler(3, 1.5, 2, 1)
    with pytest.raises(ValueError, match="exponent"):
        forget_rate_scheduler(3, 0.3, 2, 0)
    with pytest.raises(ValueError, match="num_gradual"):
        forget_rate_scheduler(3, 0.3, -1, 1)


def test_learning_rate_plan_values():
    factor, beta1 = learning_rate_plan(5, 2)
    np.testing.assert_allclose(factor, [1.0, 1.0, 1.0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(beta1, [0.9, 0.9, 0.1, 0.1, 0.1])
    factor, beta1 = learning_rate_plan(3, 3)  # decay start at the end: no decay
    np.testing.assert_allclose(factor, 1.0)
    np.testing.assert_allclose(beta1, 0.9)


# --------------------------------------------------------------------------
# the loss
# --------------------------------------------------------------------------


def _ce2(margin: float) -> float:
    """Cross-entropy of a 2-class logit pair (0, margin) with target 0."""
    return math.log1p(math.exp(margin))


def _hand_batch():
    # target is class 0 everywhere; the logit of class 1 sets each loss
    m1 = [3.0, -2.0, 0.0, 1.0, -1.0]   # net 1 losses increase with the margin
    m2 = [-3.0, 2.0, -1.0, 0.5, 0.0]
    y_1 = torch.tensor([[0.0, m] for m in m1], requires_grad=True)
    y_2 = torch.tensor([[0.0, m] for m in m2], requires_grad=True)
    t = torch.zeros(5, dtype=torch.long)
    return m1, m2, y_1, y_2, t


def test_small_loss_exchange_exact_indices_and_values():
    m1, m2, y_1, y_2, t = _hand_batch()
    loss_1, loss_2, idx_1, idx_2 = loss_coteaching(y_1, y_2, t, 0.4, return_indices=True)
    # k = floor(0.6 * 5) = 3; net 2's three smallest losses: margins -3, -1, 0
    assert idx_1.tolist() == [0, 2, 4]
    # net 1's three smallest: margins -2, -1, 0
    assert idx_2.tolist() == [1, 4, 2]
    assert loss_1.item() == pytest.approx(np.mean([_ce2(m1[i]) for i in (0, 2, 4)]), rel=1e-6)
    assert loss_2.item() == pytest.approx(np.mean([_ce2(m2[i]) for i in (1, 4, 2)]), rel=1e-6)
    # each network gets gradient only from the samples the other one picked
    (loss_1 + loss_2).backward()
    assert torch.count_nonzero(y_1.grad.abs().sum(1)).item() == 3
    assert set(torch.nonzero(y_1.grad.abs().sum(1)).ravel().tolist()) == {0, 2, 4}
    assert set(torch.nonzero(y_2.grad.abs().sum(1)).ravel().tolist()) == {1, 2, 4}


def test_loss_is_plain_mean_without_extra_division():
    _, _, y_1, y_2, t = _hand_batch()
    loss_1, loss_2 = loss_coteaching(y_1, y_2, t, 0.0)
    assert loss_1.item() == pytest.approx(F.cross_entropy(y_1, t).item(), rel=1e-6)
    assert loss_2.item() == pytest.approx(F.cross_entropy(y_2, t).item(), rel=1e-6)


def test_k_is_clamped_to_one():
    _, _, y_1, y_2, t = _hand_batch()
    _, _, idx_1, idx_2 = loss_coteaching(y_1, y_2, t, 1.0, return_indices=True)
    assert idx_1.tolist() == [0] and idx_2.tolist() == [1]
    _, _, idx_1, _ = loss_coteaching(y_1[:1], y_2[:1], t[:1], 0.9, return_indices=True)
    assert idx_1.tolist() == [0]


def test_class_weights_weight_updates_but_not_ranking():
    y_1 = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5], [1.0, 0.0, 0.0]])
    y_2 = y_1.clone()
    t = torch.tensor([0, 1, 2, 1])
    w = torch.tensor([1.0, 3.0, 0.5])
    loss_1, _, idx_1, _ = loss_coteaching(y_1, y_2, t, 0.25, w, return_indices=True)
    _, _, idx_unweighted, _ = loss_coteaching(y_1, y_2, t, 0.25, return_indices=True)
    assert idx_1.tolist() == idx_unweighted.tolist()
    ce = F.cross_entropy(y_1, t, reduction="none")
    kept = idx_1
    expected = (ce[kept] * w[t[kept]]).sum() / w[t[kept]].sum()
    assert loss_1.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss_1.item() == pytest.approx(
        F.cross_entropy(y_1[kept], t[kept], weight=w).item(), rel=1e-6)


def test_plus_variant_uses_disagreements_only():
    # predictions: net 1 -> [0, 1, 0, 1], net 2 -> [0, 0, 1, 1]; disagree on 1, 2
    y_1 = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    y_2 = torch.tensor([[2.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 2.0]], requires_grad=True)
    t = torch.tensor([0, 1, 0, 1])
    loss_1, loss_2, idx_1, idx_2 = loss_coteaching(y_1, y_2, t, 0.5, plus=True,
                                                   return_indices=True)
    # k = floor(0.5 * 2) = 1 among the disagreements {1, 2}.
    # net 2's losses there: log1p(e^3) (row 1), log1p(e^1) (row 2) -> keeps row 2
    # net 1's losses there: log1p(e^-2) (row 1), log1p(e^-1) (row 2) -> keeps row 1
    assert idx_1.tolist() == [2]
    assert idx_2.tolist() == [1]
    assert loss_1.item() == pytest.approx(math.log1p(math.exp(-1.0)), rel=1e-6)
    assert loss_2.item() == pytest.approx(math.log1p(math.exp(3.0)), rel=1e-6)
    # without "+", all four rows compete: net 2's two smallest are rows 0 and 3
    _, _, idx_1_plain, _ = loss_coteaching(y_1, y_2, t, 0.5, return_indices=True)
    assert idx_1_plain.tolist() == [0, 3]


def test_plus_variant_without_disagreement_gives_zero_loss():
    y = torch.tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
    loss_1, loss_2 = loss_coteaching(y, y * 2, torch.tensor([1, 0]), 0.2, plus=True)
    assert loss_1.item() == 0.0 and loss_2.item() == 0.0
    (loss_1 + loss_2).backward()
    assert torch.all(y.grad == 0)


def test_loss_shape_errors():
    with pytest.raises(ValueError, match="same shape"):
        loss_coteaching(torch.zeros(3, 2), torch.zeros(3, 3), torch.zeros(3), 0.1)
    with pytest.raises(ValueError, match="t must have shape"):
        loss_coteaching(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(4), 0.1)


# --------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------


def _blobs(n=120, n_classes=3, d=8, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, d))
    y = np.arange(n) % n_classes
    X = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    if labels is not None:
        y = np.asarray(labels)[y]
    return X, y


def _clf(**kw):
    params = dict(module__hidden_units=(16,), max_epochs=4, batch_size=32, lr=0.01,
                  device="cpu", verbose=0)
    params.update(kw)
    return CoTeachingClassifier(MLP, **params)


def test_fit_predict_with_string_labels():
    X, y = _blobs(labels=np.array(["cat", "dog", "emu"]))
    torch.manual_seed(0)
    clf = _clf(max_epochs=15).fit(X, y)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    pred = clf.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= {"cat", "dog", "emu"}
    assert np.mean(pred == y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert clf.score(X, y) == pytest.approx(np.mean(pred == y))


def test_float64_input_and_non_contiguous_labels():
    X, y = _blobs(labels=np.array([10, -3, 7]))
    clf = _clf().fit(X.astype(np.float64), y)
    assert set(clf.predict(X.astype(np.float64))) <= {10, -3, 7}
    assert clf.module_.layers[-1].out_features == 3
    assert clf.module_.layers[0].in_features == X.shape[1]


def test_predict_with_mean_averages_both_networks():
    X, y = _blobs()
    clf = _clf(predict_with="mean").fit(X, y)
    with torch.no_grad():
        xt = torch.as_tensor(X)
        clf.module_.eval()
        clf.module2_.eval()
        expected = (F.softmax(clf.module_(xt), 1) + F.softmax(clf.module2_(xt), 1)) / 2
    np.testing.assert_allclose(clf.predict_proba(X), expected.numpy(), rtol=1e-5, atol=1e-6)
    clf.set_params(predict_with="module1")
    with torch.no_grad():
        np.testing.assert_allclose(clf.predict_proba(X), F.softmax(clf.module_(xt), 1).numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_history_records_schedule_and_both_networks():
    X, y = _blobs()
    clf = _clf(max_epochs=5, forget_rate=0.4, num_gradual=3).fit(X, y)
    np.testing.assert_allclose(clf.history[:, "forget_rate"], [0.0, 0.2, 0.4, 0.4, 0.4])
    for key in ("train_loss1", "train_loss2", "train_acc1", "train_acc2", "train_loss"):
        values = np.asarray(clf.history[:, key], dtype=float)
        assert values.shape == (5,) and np.all(np.isfinite(values))
    accs = np.asarray(clf.history[:, "train_acc1"])
    assert np.all((accs >= 0) & (accs <= 1))
    # train_loss is what the optimizers minimise: the sum of both networks' losses
    np.testing.assert_allclose(
        clf.history[:, "train_loss"],
        np.asarray(clf.history[:, "train_loss1"]) + np.asarray(clf.history[:, "train_loss2"]),
        rtol=1e-5)


def test_lr_and_beta1_plan_applied_to_both_optimizers():
    X, y = _blobs()
    clf = _clf(max_epochs=4, epoch_decay_start=2, lr=0.02, optimizer2__lr=0.01).fit(X, y)
    np.testing.assert_allclose(clf.history[:, "beta1"], [0.9, 0.9, 0.1, 0.1])
    np.testing.assert_allclose(clf.history[:, "lr"], [0.02, 0.02, 0.02, 0.01])
    # after the last epoch (index 3) the factor is (4 - 3) / (4 - 2) = 0.5
    for opt, base in ((clf.optimizer_, 0.02), (clf.optimizer2_, 0.01)):
        for group in opt.param_groups:
            assert group["lr"] == pytest.approx(base * 0.5)
            assert group["betas"][0] == pytest.approx(0.1)
            assert group["betas"][1] == pytest.approx(0.999)


def test_default_epoch_decay_start_is_forty_percent():
    X, y = _blobs()
    clf = _clf(max_epochs=5).fit(X, y)  # round(0.4 * 5) = 2
    np.testing.assert_allclose(clf.history[:, "beta1"], [0.9, 0.9, 0.1, 0.1, 0.1])


def test_module2_is_independent_copy_and_module_params_reach_both():
    X, y = _blobs()
    clf = _clf(module__hidden_units=(12,), max_epochs=1).fit(X, y)
    assert clf.module_.layers[0].out_features == 12
    assert clf.module2_.layers[0].out_features == 12
    assert clf.module_ is not clf.module2_
    ids1 = {id(p) for p in clf.module_.parameters()}
    assert not ids1 & {id(p) for p in clf.module2_.parameters()}
    w1 = clf.module_.layers[0].weight
    w2 = clf.module2_.layers[0].weight
    assert not torch.allclose(w1, w2)


def test_module_instance_gets_reset_copy():
    torch.manual_seed(0)
    net = MLP(8, 3, hidden_units=(10,))
    X, y = _blobs()
    clf = CoTeachingClassifier(net, max_epochs=1, device="cpu", verbose=0).fit(X, y)
    assert clf.module_ is net
    assert clf.module2_ is not net
    assert not torch.allclose(clf.module_.layers[0].weight, clf.module2_.layers[0].weight)
    with pytest.raises(ValueError, match="shares parameters"):
        shared = torch.nn.Sequential(net)
        CoTeachingClassifier(net, module2=shared, device="cpu", verbose=0).initialize()


def test_set_params_module2_and_optimizer2_reach_the_right_objects():
    X, y = _blobs()
    clf = _clf(max_epochs=1).fit(X, y)
    clf.set_params(module2__hidden_units=(7,))
    assert clf.module2_.layers[0].out_features == 7
    assert clf.module_.layers[0].out_features == 16
    # the re-created optimizer2 holds the new module2's parameters
    opt_params = {id(p) for g in clf.optimizer2_.param_groups for p in g["params"]}
    assert opt_params == {id(p) for p in clf.module2_.parameters()}
    clf.set_params(optimizer2__lr=0.123)
    assert all(g["lr"] == pytest.approx(0.123) for g in clf.optimizer2_.param_groups)
    assert all(g["lr"] != pytest.approx(0.123) for g in clf.optimizer_.param_groups)
    clf.set_params(lr=0.05)
    assert all(g["lr"] == pytest.approx(0.05) for g in clf.optimizer_.param_groups)
    # fit again: module2__hidden_units kept, and it still predicts
    clf.fit(X, y)
    assert clf.module2_.layers[0].out_features == 7
    assert clf.predict(X).shape == (len(X),)


def test_optimizer_params_reach_both_and_optimizer2_overrides():
    X, y = _blobs()
    clf = _clf(max_epochs=1, optimizer__weight_decay=0.01, optimizer2__weight_decay=0.5).fit(X, y)
    assert clf.optimizer_.param_groups[0]["weight_decay"] == pytest.approx(0.01)
    assert clf.optimizer2_.param_groups[0]["weight_decay"] == pytest.approx(0.5)
    clf = _clf(max_epochs=1, optimizer__weight_decay=0.02).fit(X, y)
    assert clf.optimizer2_.param_groups[0]["weight_decay"] == pytest.approx(0.02)


def test_clone_and_pickle_round_trip():
    X, y = _blobs(labels=np.array(["a", "b", "c"]))
    clf = _clf(module2__hidden_units=(9,), forget_rate=0.3)
    cloned = clone(clf)
    assert cloned.get_params()["module2__hidden_units"] == (9,)
    assert cloned.get_params()["forget_rate"] == 0.3
    clf.fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    assert restored.module2_.layers[0].out_features == 9
    assert restored.optimizer2_.param_groups[0]["params"][0] is next(restored.module2_.parameters())
    # a clone of a fitted estimator is unfitted
    assert not hasattr(clone(clf), "module2_")


def test_grid_search_over_forget_rate():
    X, y = _blobs(n=90, labels=np.array(["x", "y", "z"]))
    grid = GridSearchCV(_clf(max_epochs=3), {"forget_rate": [0.0, 0.3]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["forget_rate"] in (0.0, 0.3)
    assert len(grid.cv_results_["mean_test_score"]) == 2
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.forget_rate == grid.best_params_["forget_rate"]


def test_class_weight_dict_and_balanced():
    X, y = _blobs(labels=np.array(["a", "b", "c"]))
    clf = _clf(class_weight={"b": 3.0}, max_epochs=1).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [1.0, 3.0, 1.0])
    # the training loss uses those weights
    logits = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    t = torch.tensor([0, 1, 2])
    loss_1, _, idx_1, _ = clf.get_coteaching_loss(logits, logits, t)
    w = torch.tensor([1.0, 3.0, 1.0])
    assert loss_1.item() == pytest.approx(
        F.cross_entropy(logits[idx_1], t[idx_1], weight=w).item(), rel=1e-6)
    Xi, yi = X[:70], y[:70]  # unbalanced: 24/23/23
    clf = _clf(class_weight="balanced", max_epochs=1).fit(Xi, yi)
    counts = np.array([np.sum(yi == c) for c in ["a", "b", "c"]])
    np.testing.assert_allclose(clf.class_weight_, len(yi) / (3 * counts))
    with pytest.raises(ValueError, match="not seen"):
        _clf(class_weight={"zzz": 2.0}, max_epochs=1).fit(X, y)


@pytest.mark.parametrize("n", [1, 5, 20])
def test_tiny_datasets_train_without_crashing(n):
    X, y = _blobs(n=max(n, 3))
    X, y = X[:n], y[:n]
    clf = _clf(max_epochs=2).fit(X, y)
    assert clf.predict(X).shape == (n,)
    # every sample is below min_batch_size=16 for n < 16, yet nothing is skipped
    assert clf.history[-1, "train_batches_skipped"] == 0
    assert clf.history[-1, "train_batch_count"] == 1


def test_small_last_batch_is_skipped():
    X, y = _blobs(n=40)
    clf = _clf(batch_size=16, max_epochs=2).fit(X, y)  # batches 16, 16, 8
    assert clf.history[:, "train_batches_skipped"] == [1, 1]
    assert clf.history[:, "train_batch_count"] == [2, 2]
    clf = _clf(batch_size=16, min_batch_size=8, max_epochs=1).fit(X, y)
    assert clf.history[-1, "train_batches_skipped"] == 0


def test_both_optimizers_step_once_per_batch():
    X, y = _blobs(n=64)
    clf = _clf(batch_size=32, max_epochs=3).fit(X, y)
    for opt in clf.coteaching_optimizers():
        state = opt.state[opt.param_groups[0]["params"][0]]
        assert int(state["step"]) == 6


def test_device_cpu_and_default_device():
    X, y = _blobs()
    clf = _clf(max_epochs=1, device="cpu").fit(X, y)
    assert all(p.device.type == "cpu" for p in clf.module2_.parameters())
    # the default is resolved when the networks are built, not at import
    default = CoTeachingClassifier(MLP, max_epochs=1)
    assert default.device == "auto"
    default.fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default.device_ == expected and default.device == "auto"
    assert next(default.module2_.parameters()).device.type == expected


def test_partial_fit_continues_schedule_and_rejects_unknown_labels():
    X, y = _blobs(labels=np.array(["a", "b", "c"]))
    clf = _clf(max_epochs=2, forget_rate=0.4, num_gradual=3).fit(X, y)
    clf.partial_fit(X, y)
    np.testing.assert_allclose(clf.history[:, "forget_rate"], [0.0, 0.2, 0.4, 0.4])
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X[:3], np.array(["a", "b", "q"]))


@pytest.mark.parametrize("bad, match", [
    (dict(forget_rate=1.5), "forget_rate"),
    (dict(num_gradual=-1), "num_gradual"),
    (dict(min_batch_size=0), "min_batch_size"),
    (dict(predict_with="both"), "predict_with"),
    (dict(variant="x"), "variant"),
    (dict(exponent=0), "exponent"),
])
def test_bad_parameters_name_the_argument(bad, match):
    X, y = _blobs()
    with pytest.raises(ValueError, match=match):
        _clf(**bad).fit(X, y)


def test_validation_split_and_checkpoint_save_both_networks(tmp_path):
    X, y = _blobs(n=150, labels=np.array(["a", "b", "c"]))
    # monitor=None saves after every epoch, so the files hold the final state
    cp = Checkpoint(dirname=str(tmp_path), monitor=None, f_module2="module2.pt",
                    f_optimizer2="opt2.pt")
    clf = _clf(max_epochs=2, train_split=ValidSplit(3, stratified=True), callbacks=[cp])
    clf.fit(X, y)
    assert (tmp_path / "module2.pt").exists() and (tmp_path / "opt2.pt").exists()
    acc = clf.history[-1, "valid_acc"]
    assert 0.0 <= acc <= 1.0 and np.isfinite(clf.history[-1, "valid_loss"])
    fresh = _clf(max_epochs=2, module__n_features=8, module__n_classes=3).initialize()
    fresh.load_params(f_module2=str(tmp_path / "module2.pt"))
    for a, b in zip(fresh.module2_.parameters(), clf.module2_.parameters()):
        assert torch.equal(a, b)


def test_fused_step_matches_unfused_step():
    X, y = _blobs(n=64)
    results = []
    for fused in (False, True):
        torch.manual_seed(3)
        clf = _clf(fused=fused, max_epochs=2, batch_size=32, iterator_train__shuffle=False,
                   forget_rate=0.3, num_gradual=1).fit(X, y)
        results.append([p.detach().clone() for p in
                        list(clf.module_.parameters()) + list(clf.module2_.parameters())])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_fused_requires_same_architecture():
    X, y = _blobs()
    with pytest.raises(ValueError, match="same architecture"):
        _clf(fused=True, module2__hidden_units=(5,)).fit(X, y)


def test_plus_variant_fits():
    X, y = _blobs()
    clf = _clf(variant="plus", max_epochs=6).fit(X, y)
    assert clf.score(X, y) > 0.6


@pytest.mark.slow
def test_coteaching_beats_plain_training_on_noisy_digits():
    # the quality claim of the docs, on two seeds: digits, 40% symmetric noise
    from sklearn.model_selection import train_test_split
    from skorch import NeuralNetClassifier

    from skal.datasets import load_digits_embeddings
    from skal.noise import make_noisy_labels

    X, y = load_digits_embeddings(return_X_y=True)
    gains = []
    for seed in range(2):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                                  random_state=seed)
        y_noisy, _ = make_noisy_labels(y_tr, 0.4, "symmetric", random_state=seed)
        common = dict(max_epochs=100, lr=0.001, batch_size=128, train_split=None, verbose=0,
                      device="cpu", iterator_train__shuffle=True, optimizer=torch.optim.Adam)
        torch.manual_seed(seed)
        plain = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
                                    module__n_features=64, module__n_classes=10, **common)
        plain.fit(X_tr, y_noisy)
        torch.manual_seed(seed)
        cot = CoTeachingClassifier(MLP, forget_rate=0.4, **common).fit(X_tr, y_noisy)
        gains.append(np.mean(cot.predict(X_te) == y_te) - np.mean(plain.predict(X_te) == y_te))
    assert np.mean(gains) > 0.1, gains


def test_batch_indexing_iterator_gives_skorch_batches():
    from skorch import NeuralNetClassifier

    X, y = _blobs(n=70)
    clf = _clf(batch_size=32).fit(X, y)
    ds = clf.get_dataset(X, clf._encode(y))
    fast = list(clf.get_iterator(ds, training=False))
    slow = list(NeuralNetClassifier.get_iterator(clf, ds, training=False))
    assert [len(b[0]) for b in fast] == [32, 32, 6]
    for (xf, yf), (xs, ys) in zip(fast, slow):
        torch.testing.assert_close(xf, xs)
        torch.testing.assert_close(yf, ys)
    # shuffled training batches: every row exactly once per epoch, small ones skipped
    it = clf.get_iterator(ds, training=True)
    rows = torch.cat([xb for xb, _ in it])
    assert rows.shape == (64, X.shape[1]) and it.skipped == 1
    # a custom collate_fn falls back to skorch's per-row loader
    other = _clf(batch_size=32, iterator_valid__collate_fn=torch.utils.data.default_collate)
    other.fit(X, y)
    assert other.batch_indexing_iterator(ds, training=False) is None
    assert len(list(other.get_iterator(ds, training=False))) == 3
