"""CoTeachingClassifier against scikit-learn's conventions, with default parameters."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import skal
from skal.coteaching import CoTeachingClassifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# check_estimator with default parameters runs in tests/test_sklearn_conformance.py,
# which enumerates every public estimator.


def _data(n=48, d=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centers = rng.normal(scale=3.0, size=(n_classes, d))
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def _small(**kw):
    return CoTeachingClassifier(**{"max_epochs": 2, "batch_size": 16, **kw})


def test_init_stores_parameters_only():
    clf = CoTeachingClassifier(forget_rate=0.3, module__hidden_units=(4,))
    public = {k for k in vars(clf) if not k.startswith("_")}
    assert public == set(clf.get_params(deep=False))
    assert "history_" not in vars(clf) and "initialized_" not in vars(clf)
    assert clf.get_params()["module__hidden_units"] == (4,)
    assert clf.get_params()["module"] is skal.nets.MLP


def test_default_module_infers_input_and_output_sizes():
    X, y = _data(d=7, n_classes=4)
    clf = _small().fit(X, np.array(list("abcd"))[y])
    for net in (clf.module_, clf.module2_):
        assert net.layers[0].in_features == 7
        assert net.layers[-1].out_features == 4
    assert clf.n_features_in_ == 7
    assert clf.predict(X[:3]).dtype.kind == "U"


def test_module_parameters_route_to_both_networks_and_module2_overrides():
    X, y = _data()
    clf = _small(module__hidden_units=(6,), module2__hidden_units=(9,)).fit(X, y)
    assert clf.module_.layers[0].out_features == 6
    assert clf.module2_.layers[0].out_features == 9


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_not_fitted_error_before_fit(method):
    X, y = _data()
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(CoTeachingClassifier(), method)(*args)


def test_fit_twice_same_seed_same_model_and_global_rng_untouched():
    X, y = _data()
    state = torch.get_rng_state()
    clf = _small(random_state=3).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)  # a seeded fit forks torch's RNG
    first = [p.detach().clone() for p in clf.module_.parameters()]
    proba = clf.predict_proba(X)
    clf.fit(X, y)
    for a, b in zip(first, clf.module_.parameters()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(proba, clf.predict_proba(X))
    np.testing.assert_array_equal(proba, clone(clf).fit(X, y).predict_proba(X))
    other = _small(random_state=4).fit(X, y)
    assert not np.array_equal(proba, other.predict_proba(X))


def test_parameter_constraints_fail_at_fit_in_sklearn_style():
    X, y = _data()
    clf = CoTeachingClassifier(forget_rate=1.0)  # construction never validates
    with pytest.raises(InvalidParameterError,
                       match=r"The 'forget_rate' parameter of CoTeachingClassifier must be a "
                             r"float in the range \[0.0, 1.0\)\. Got 1.0 instead"):
        clf.fit(X, y)
    for bad, name in ((dict(max_epochs=1.5), "max_epochs"), (dict(num_gradual=-1), "num_gradual"),
                      (dict(variant="x"), "variant"), (dict(min_batch_size=0), "min_batch_size"),
                      (dict(batch_size=0), "batch_size"), (dict(class_weight="x"), "class_weight"),
                      (dict(exponent=0.0), "exponent"), (dict(random_state="a"), "random_state")):
        with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
            CoTeachingClassifier(**bad).fit(X, y)
    with pytest.raises(ValueError, match="device must be 'auto'"):
        CoTeachingClassifier(device="nowhere").fit(X, y)


def test_input_messages_sparse_object_one_dimensional():
    X, y = _data()
    with pytest.raises(TypeError, match="Sparse data was passed for X"):
        _small().fit(sp.csr_matrix(X), y)
    with pytest.raises(TypeError, match="Sparse data was passed for X"):
        _small().fit(sp.dok_matrix(X), y)  # a dict subclass, still sparse
    bad = X.astype(object)
    bad[0, 0] = {"a": 1}
    with pytest.raises(TypeError, match="argument must be a string.* number"):
        _small().fit(bad, y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        _small().fit(X[:, 0], y)
    clf = _small().fit(X, y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        clf.predict(X[0])
    with pytest.raises(ValueError, match="X has 4 features, but CoTeachingClassifier is "
                                         "expecting 5 features"):
        clf.predict(X[:, :4])
    with pytest.raises(ValueError, match="Unknown label type"):
        _small().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="requires y to be passed"):
        _small().fit(X, None)


def test_pandas_input_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = pd.Series(np.array(["u", "v", "w"])[y], name="label")
    clf = _small().fit(frame, labels)
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert set(clf.predict(frame)) <= {"u", "v", "w"}
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame.rename(columns={"f0": "other"}))


def test_device_auto_resolved_at_fit_and_kept_through_clone_and_pickle(monkeypatch):
    X, y = _data()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clf = _small()
    assert clf.device == "auto" and not hasattr(clf, "device_")
    clf.fit(X, y)
    assert clf.device_ == "cpu" and clf.get_params()["device"] == "auto"
    assert clone(clf).device == "auto"
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.device == "auto" and restored.device_ == "cpu"
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X), rtol=1e-6)


def test_saved_class_paths_stay_loadable():
    # pickles and skal's state files record "skal.coteaching.<name>"
    import skal.coteaching as package

    assert skal.CoTeachingClassifier is CoTeachingClassifier
    for name in package.__all__:
        assert getattr(package, name).__module__ == "skal.coteaching"
    # names that fitted estimators pickled before the package split refer to
    assert callable(package._accuracy_on_codes) and isinstance(package._QuietPrintLog, type)
    X, y = _data()
    blob = pickle.dumps(_small().fit(X, y))
    assert b"skal.coteaching._classifier" not in blob and b"skal.coteaching._callbacks" not in blob


def test_state_pickled_before_new_parameters_loads_with_their_defaults():
    # an estimator pickled by skal before random_state existed has no such
    # attribute; unpickling fills it in, so it predicts and refits
    X, y = _data()
    clf = _small().fit(X, y)
    state = clf.__getstate__()
    del state["random_state"]
    restored = CoTeachingClassifier.__new__(CoTeachingClassifier)
    restored.__setstate__(state)
    assert restored.random_state is None
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    assert restored.fit(X, y).predict(X).shape == (len(X),)
