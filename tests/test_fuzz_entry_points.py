"""Hypothesis fuzzing of every public entry point: bad input gets a ValueError or
TypeError naming the argument, valid input gets a valid, finite answer; nothing
else (IndexError, ZeroDivisionError, KeyError, silent NaN) escapes."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.linear_model import LogisticRegression

from skal import (
    BADGE,
    AUMFilter,
    CentroidFilter,
    ConfidentLearningFilter,
    Coreset,
    CrossValidationFilter,
    EntropySampling,
    FINEFilter,
    KNNFilter,
    MarginSampling,
    MaxHerding,
    NoiseAwareActiveLearner,
    NoisyOracle,
    ProbCover,
    RandomSampling,
    TypiClust,
    make_noisy_labels,
)

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
CLEAN = (ValueError, TypeError)

# Finite values of very different magnitudes, plus the non-finite ones.
_finite = st.one_of(st.floats(-10, 10, allow_nan=False, width=32),
                    st.sampled_from([0.0, 1e-300, -1e-300, 1e30, -1e30, 1e300, 3.0e38]))
_any_float = st.one_of(_finite, st.sampled_from([np.nan, np.inf, -np.inf]))


@st.composite
def matrices(draw, min_rows=0, max_rows=14, allow_bad=True):
    """Mostly valid 2-D pools; sometimes wrong shapes, dtypes or non-finite values."""
    kind = draw(st.sampled_from(["ok"] * 6 + (["bad_value", "shape", "dtype", "dup"] if allow_bad else [])))
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, 4))
    if kind == "shape":
        shape = draw(st.sampled_from([(n,), (n, 0), (2, 2, 2), ()]))
        return np.zeros(shape)
    if kind == "dtype":
        return draw(st.sampled_from([np.full((n, d), "a"), np.full((n, d), 1 + 1j),
                                     np.array([[1.0, 2.0], [3.0]], dtype=object), None,
                                     [[1, "x"], [2, 3]]]))
    if kind == "dup":  # many identical points (ties, zero distances)
        row = draw(hnp.arrays(np.float64, (1, d), elements=st.floats(-3, 3)))
        return np.repeat(row, n, axis=0)
    elements = _any_float if kind == "bad_value" else _finite
    return draw(hnp.arrays(np.float64, (n, d), elements=elements))


def _is_clean_pool(X):
    return (isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2
            and X.shape[0] >= 1 and X.shape[1] >= 1 and np.isfinite(X).all())


index_args = st.one_of(
    st.none(), st.lists(st.integers(-3, 20), max_size=8),
    st.lists(st.one_of(st.floats(-2, 20), st.just(float("nan"))), max_size=4),
    st.sampled_from([np.array([True, False]), "abc", np.array([[0, 1]])]))
budgets = st.one_of(st.integers(-2, 20), st.sampled_from([0.5, 2.0, None, "3", np.int32(2), True]))

STRATEGIES = [
    lambda: RandomSampling(random_state=0),
    lambda: ProbCover(delta=0.5, random_state=0),
    lambda: ProbCover(n_clusters=2, random_state=0),
    lambda: MaxHerding(random_state=0),
    lambda: TypiClust(random_state=0),
    lambda: Coreset(random_state=0),
]
MODEL_STRATEGIES = [lambda: MarginSampling(random_state=0), lambda: EntropySampling(random_state=0),
                    lambda: BADGE(random_state=0)]


def _check_picks(picks, X, budget, labeled):
    picks = np.asarray(picks)
    assert picks.dtype == np.int64 and picks.shape == (int(budget),)
    assert np.unique(picks).size == picks.size
    assert picks.min() >= 0 and picks.max() < X.shape[0]
    lab = np.asarray(labeled if labeled is not None else [])
    # A boolean array is a mask over the pool, as the strategies read it.
    lab = np.flatnonzero(lab) if lab.dtype == bool else lab.astype(np.int64)
    assert not np.isin(picks, lab).any()


@pytest.mark.parametrize("make", STRATEGIES + MODEL_STRATEGIES,
                         ids=[f"{type(m()).__name__}-{i}"
                              for i, m in enumerate(STRATEGIES + MODEL_STRATEGIES)])
@FUZZ
@given(X=matrices(), budget=budgets, labeled=index_args, covering=index_args)
# A boolean ``labeled`` is a mask: point 0 is labeled, only point 1 may be picked.
@example(X=np.zeros((2, 1)), budget=1, labeled=np.array([True, False]), covering=None)
def test_strategy_select(make, X, budget, labeled, covering):
    strategy = make()
    estimator = None
    if strategy.requires_estimator and _is_clean_pool(X) and X.shape[0] >= 2:
        y = np.arange(X.shape[0]) % 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = LogisticRegression().fit(X, y) if np.ptp(X) < 1e30 else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            picks = strategy.select(X, budget, labeled=labeled, covering=covering,
                                    estimator=estimator)
    except CLEAN:
        return
    _check_picks(picks, X, budget, labeled)
    for attr in ("coverage_", "radius_", "objective_", "delta_"):
        value = getattr(strategy, attr, None)
        if value is not None:
            assert np.isfinite(value), f"{attr} is {value}"


label_vectors = st.one_of(
    st.lists(st.integers(0, 2), min_size=0, max_size=14).map(np.array),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=14).map(np.array),
    st.lists(st.one_of(st.integers(0, 2), st.none(), st.just(float("nan"))), max_size=14)
    .map(lambda v: np.array(v, dtype=object)),
    st.sampled_from([None, np.zeros((3, 2)), np.array([1 + 1j, 2j]), "abc"]))

@st.composite
def labeled_sets(draw, max_rows=14):
    """(X, y) pairs: mostly matching lengths and valid labels, sometimes broken."""
    X = draw(matrices(max_rows=max_rows))
    n = np.asarray(X).shape[0] if isinstance(X, np.ndarray) and np.asarray(X).ndim else 3
    kind = draw(st.sampled_from(["int"] * 4 + ["str"] * 2 + ["one_class", "other"]))
    if kind == "int":
        y = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    elif kind == "str":
        y = np.array(draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)),
                     dtype="<U1")
    elif kind == "one_class":
        y = np.zeros(n, dtype=np.int64)
    else:
        y = draw(label_vectors)
    return X, y


FILTERS = [
    lambda: AUMFilter(epochs=2, random_state=0),
    lambda: AUMFilter("original", epochs=2, random_state=0),
    lambda: CrossValidationFilter(n_splits=2, n_repeats=1, random_state=0),
    lambda: KNNFilter(n_neighbors=3),
    lambda: CentroidFilter(),
    lambda: FINEFilter(random_state=0),
    lambda: ConfidentLearningFilter(random_state=0),
]


@pytest.mark.parametrize("make", FILTERS, ids=lambda m: repr(m()))
@FUZZ
@given(data=labeled_sets(), X_unlabeled=st.one_of(st.none(), matrices(max_rows=6)))
def test_filter_fit_filter(make, data, X_unlabeled):
    X, y = data
    flt = make()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mask = flt.fit_filter(X, y, X_unlabeled=X_unlabeled)
    except CLEAN:
        return
    n = np.asarray(X).shape[0]
    assert mask.dtype == bool and mask.shape == (n,)
    assert flt.scores_.shape == (n,) and np.isfinite(flt.scores_).all()
    if np.unique(np.asarray(y)).size >= 2 and flt._threshold_decision:
        assert np.isfinite(flt.threshold_)
        assert mask[flt.scores_ >= flt.threshold_].all()  # above the threshold = kept


oracle_answers = st.sampled_from([
    "ok", "short", "long", "none", "nan", "strings", "outside", "dict", "2d", "raise", "float_ok",
])


def _answer(kind, y, idx):
    if kind == "ok":
        return y[idx]
    if kind == "float_ok":
        return y[idx].astype(float)
    if kind == "short":
        return y[idx][:-1]
    if kind == "long":
        return np.append(y[idx], 0)
    if kind == "none":
        return None
    if kind == "nan":
        return np.full(len(idx), np.nan)
    if kind == "strings":
        return np.array(["x"] * len(idx))
    if kind == "outside":
        return np.full(len(idx), 99)
    if kind == "dict":
        return {int(i): 0 for i in idx}
    if kind == "2d":
        return np.zeros((len(idx), 2))
    raise TimeoutError("annotator went home")


@FUZZ
@given(answers=st.lists(oracle_answers, min_size=1, max_size=6),
       budget=st.integers(1, 9), noise_aware=st.booleans(), dropout=st.sampled_from([0.0, 0.5]))
def test_learner_fit_round_with_an_erratic_oracle(blobs_small, answers, budget, noise_aware,
                                                 dropout):
    """Whatever the oracle does, bought labels stay consistent and unique."""
    X, y = blobs_small
    learner = NoiseAwareActiveLearner(RandomSampling(), KNNFilter(n_neighbors=3), budget=budget,
                                      noise_aware=noise_aware, noise_dropout=dropout,
                                      classes=[0, 1, 2], random_state=0)
    state = {"calls": 0, "paid": []}

    def oracle(idx):
        kind = answers[state["calls"] % len(answers)]
        state["calls"] += 1
        out = _answer(kind, y, idx)
        if kind in ("ok", "float_ok"):
            state["paid"].extend(idx.tolist())
        return out

    for _ in range(4):
        if learner.__dict__.get("labeled_idx_", np.empty(0)).size + budget > X.shape[0]:
            break
        try:
            learner.fit_round(X, oracle)
        except (*CLEAN, TimeoutError):
            pass
    if not hasattr(learner, "labeled_idx_"):
        return
    idx = learner.labeled_idx_
    assert np.unique(idx).size == idx.size
    assert sorted(idx.tolist()) == sorted(state["paid"])  # every good answer was kept, once
    assert np.array_equal(np.array(learner.labels_.tolist()).astype(float), y[idx].astype(float))
    assert learner.clean_mask_.shape == idx.shape == learner.label_round_.shape
    if getattr(learner, "estimator_", None) is not None:
        proba = learner.predict_proba(X)
        assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def blobs_small():
    rng = np.random.default_rng(0)
    centers = np.eye(3, 4) * 3
    X = np.vstack([c + 0.3 * rng.normal(size=(8, 4)) for c in centers])
    return X, np.repeat(np.arange(3), 8)


@FUZZ
@given(data=labeled_sets(max_rows=10), budget=budgets,
       n_rounds=st.sampled_from([1, 1, 2, 0, -1, 1.5, "2"]), X_pred=matrices(max_rows=3))
def test_learner_fit_and_predict(data, budget, n_rounds, X_pred):
    X, y = data
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), budget=budget,
                                      n_rounds=n_rounds, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learner.fit(X, y)
    except CLEAN:
        return
    try:
        pred = learner.predict(X_pred)
    except CLEAN:
        return
    assert pred.shape == (np.asarray(X_pred).shape[0],)
    assert set(pred.tolist()) <= set(np.asarray(y).tolist())


@FUZZ
@given(y=label_vectors, noise_rate=st.one_of(st.floats(-0.5, 1.5), st.sampled_from([np.nan, "0.1", None])),
       noise_type=st.sampled_from(["symmetric", "asymmetric", "transition", "bogus", 3]),
       matrix=st.sampled_from([None, np.full((3, 3), 1 / 3), np.eye(2), np.full((3, 3), np.nan),
                               {0: 1, 1: 2}, {0: 7}]),
       query=index_args)
def test_noise_models_and_oracle(y, noise_rate, noise_type, matrix, query):
    try:
        y_noisy, is_noisy = make_noisy_labels(y, noise_rate, noise_type, transition_matrix=matrix,
                                              random_state=0)
    except CLEAN:
        y_noisy = None
    if y_noisy is not None:
        y_arr = np.asarray(y)
        assert y_noisy.shape == y_arr.shape and is_noisy.dtype == bool
        assert np.array_equal(is_noisy, y_noisy != y_arr)
        assert set(y_noisy.tolist()) <= set(y_arr.tolist()) | set(np.ravel(
            list(matrix.values()) if isinstance(matrix, dict) else []).tolist())
    try:
        oracle = NoisyOracle(y, noise_rate, noise_type, random_state=0, transition_matrix=matrix)
    except CLEAN:
        return
    try:
        labels = oracle(query)
    except CLEAN:
        return
    assert labels.shape == (np.asarray(query).size,)


def test_cli_bad_flags_exit_2(capsys):
    from skal.__main__ import main

    for argv in (["demo", "--rounds", "0"], ["demo", "--noise-rate", "1.5"],
                 ["demo", "--noise-rate", "nan"], ["demo", "--budget", "-3"],
                 ["demo", "--budget", "5000", "--rounds", "1", "--seeds", "1", "--no-progress"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("skal demo: error:") and "Traceback" not in err
    for argv in (["demo", "--rounds", "abc"], ["demo", "--filter", "nope"], ["nosuch"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "error" in capsys.readouterr().err


def test_cli_bench_unknown_names_exit_2(capsys):
    from skal.__main__ import build_parser, main

    try:
        build_parser().parse_args(["bench", "--help"])
    except SystemExit:
        capsys.readouterr()
    else:
        pytest.skip("skal bench is not available")
    for flag, name in (("--strategies", "nosuchstrategy"), ("--filters", "nosuchfilter")):
        argv = ["bench", flag, name, "--samples-per-class", "1", "--seeds", "1", "--no-progress",
                "--no-plot"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert name in err and "Traceback" not in err


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=labeled_sets(max_rows=20), X_pred=matrices(max_rows=4))
def test_coteaching_fit_predict(data, X_pred):
    pytest.importorskip("skorch")
    from skal.coteaching import CoTeachingClassifier
    from skal.nets import MLP

    X, y = data
    d = np.asarray(X).shape[1] if isinstance(X, np.ndarray) and np.asarray(X).ndim == 2 else 2
    try:
        k = max(2, np.unique(np.asarray(y)).size)
    except TypeError:  # unsortable garbage labels: fit must reject them below
        k = 2
    clf = CoTeachingClassifier(MLP, module__n_features=d, module__n_classes=k,
                               module__hidden_units=(8,), max_epochs=1, batch_size=16,
                               verbose=0, device="cpu")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(np.asarray(X, dtype=np.float32) if _is_clean_pool(X) else X, y)
    except CLEAN:
        return
    if not (_is_clean_pool(X_pred) and X_pred.shape[1] == d):
        with pytest.raises(CLEAN):
            clf.predict(X_pred)
        return
    assume(np.abs(X_pred).max() < 1e6 and np.abs(X).max() < 1e6)
    proba = clf.predict_proba(X_pred.astype(np.float32))
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(clf.predict(X_pred.astype(np.float32)).tolist()) <= set(np.asarray(y).tolist())


def test_coteaching_rejects_non_finite_and_empty_inputs():
    pytest.importorskip("skorch")
    from skal.coteaching import CoTeachingClassifier
    from skal.nets import MLP

    X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    y = np.arange(32) % 2
    clf = CoTeachingClassifier(MLP, module__n_features=3, module__n_classes=2, max_epochs=1,
                               verbose=0, device="cpu", batch_size=16)
    bad = X.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        clf.fit(bad, y)
    with pytest.raises(ValueError, match="at least 1 sample"):
        clf.fit(X[:0], y[:0])
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        clf.predict(bad)
    assert np.isfinite(clf.predict_proba(X)).all()
