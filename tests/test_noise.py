import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skal.noise import NoisyOracle, make_noisy_labels, symmetric_transition_matrix


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), n_classes=st.integers(2, 12), rate=st.floats(0, 1),
       seed=st.integers(0, 2**31 - 1))
def test_symmetric_flips_exactly_floor_rate_n_and_never_keep_class(n, n_classes, rate, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    if np.unique(y).size < 2:
        y[0], y[-1] = 0, 1
        if n == 1:
            return
    y_noisy, is_noisy = make_noisy_labels(y, rate, random_state=seed)
    assert is_noisy.sum() == int(np.floor(rate * n + 1e-9))
    assert np.array_equal(is_noisy, y_noisy != y)
    assert np.all(np.isin(y_noisy, np.unique(y)))


def test_symmetric_new_label_uniform_over_other_classes():
    y = np.zeros(30000, dtype=int)
    y[::2] = 1
    y[::3] = 2
    y_noisy, is_noisy = make_noisy_labels(y, 1.0, random_state=0)
    # from class 0 the flips go to 1 and 2 with equal chance
    dst = y_noisy[(y == 0) & is_noisy]
    frac1 = np.mean(dst == 1)
    assert 0.47 < frac1 < 0.53
    assert not np.any(dst == 0)


def test_string_labels_keep_dtype_and_values():
    y = np.array(["cat", "dog", "emu"] * 10)
    y_noisy, is_noisy = make_noisy_labels(y, 0.5, random_state=1)
    assert y_noisy.dtype == y.dtype
    assert is_noisy.sum() == 15
    assert set(y_noisy) <= {"cat", "dog", "emu"}


def test_asymmetric_dict_map():
    y = np.repeat([0, 1, 2], 10)
    y_noisy, is_noisy = make_noisy_labels(y, 0.2, "asymmetric",
                                          transition_matrix={0: 2, 1: 1}, random_state=0)
    assert is_noisy.sum() == 6
    # only class 0 may flip (1 -> 1 is the identity, 2 is not mapped), always to 2
    assert np.all(y[is_noisy] == 0) and np.all(y_noisy[is_noisy] == 2)


def test_asymmetric_default_pair_map():
    y = np.repeat([3, 5, 7], 20)
    y_noisy, is_noisy = make_noisy_labels(y, 0.3, "asymmetric", random_state=0)
    assert is_noisy.sum() == 18
    nxt = {3: 5, 5: 7, 7: 3}
    assert all(nxt[a] == b for a, b in zip(y[is_noisy], y_noisy[is_noisy]))


def test_asymmetric_matrix_draws_off_diagonal():
    T = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.2, 0.3, 0.5]])
    y = np.repeat([0, 1, 2], 100)
    y_noisy, is_noisy = make_noisy_labels(y, 0.5, "asymmetric", transition_matrix=T, random_state=0)
    assert is_noisy.sum() == 150
    pairs = set(zip(y[is_noisy].tolist(), y_noisy[is_noisy].tolist()))
    assert pairs <= {(0, 1), (1, 2), (2, 0), (2, 1)}


def test_transition_matrix_rate_matches_in_expectation():
    T = symmetric_transition_matrix(4, 0.3)
    assert np.allclose(T.sum(1), 1) and np.isclose(T[0, 0], 0.7) and np.isclose(T[0, 1], 0.1)
    y = np.repeat(np.arange(4), 5000)
    _, is_noisy = make_noisy_labels(y, 0.0, "transition", transition_matrix=T, random_state=0)
    assert abs(is_noisy.mean() - 0.3) < 0.02


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"noise_rate": 1.5}, ValueError, "noise_rate"),
    ({"noise_rate": -0.1}, ValueError, "noise_rate"),
    ({"noise_rate": 0.1, "noise_type": "weird"}, ValueError, "noise_type"),
    ({"noise_rate": 0.1, "noise_type": "transition"}, ValueError, "transition_matrix"),
    ({"noise_rate": 0.1, "noise_type": "transition", "transition_matrix": np.ones((2, 2))},
     ValueError, "sum to 1"),
    ({"noise_rate": 0.1, "noise_type": "transition", "transition_matrix": np.eye(3)},
     ValueError, "shape"),
    ({"noise_rate": 0.9, "noise_type": "asymmetric", "transition_matrix": {0: 1}},
     ValueError, "asks for"),
])
def test_bad_input(kwargs, exc, match):
    y = np.array([0, 1] * 5)
    rate = kwargs.pop("noise_rate")
    with pytest.raises(exc, match=match):
        make_noisy_labels(y, rate, **kwargs)


def test_nan_and_none_labels_rejected():
    with pytest.raises(ValueError, match="NaN"):
        make_noisy_labels(np.array([0.0, np.nan, 1.0]), 0.1)
    with pytest.raises(ValueError, match="None"):
        make_noisy_labels(np.array([0, None, 1], dtype=object), 0.1)


def test_oracle_is_consistent_and_counts():
    y = np.repeat(np.arange(4), 25)
    oracle = NoisyOracle(y, noise_rate=0.4, random_state=3)
    a = oracle([1, 50, 99])
    b = oracle(np.array([1, 50, 99]))
    assert np.array_equal(a, b)
    assert oracle.n_queries_ == 6
    assert oracle.queried_.tolist() == [1, 50, 99, 1, 50, 99]
    assert oracle.is_noisy_.sum() == 40 and oracle.noise_rate_ == 0.4
    assert np.array_equal(oracle.classes_, np.arange(4))
    assert np.array_equal(a, oracle.y_noisy_[[1, 50, 99]])
    with pytest.raises(ValueError, match="indices"):
        oracle([100])
    with pytest.raises(TypeError, match="boolean"):
        oracle(np.ones(100, dtype=bool))


def test_oracle_with_fixed_real_noisy_labels():
    y = np.array([0, 1, 2, 0])
    oracle = NoisyOracle(y, y_noisy=np.array([0, 2, 2, 1]))
    assert oracle.is_noisy_.tolist() == [False, True, False, True]
    assert oracle([1, 3]).tolist() == [2, 1]
    with pytest.raises(ValueError, match="y_noisy"):
        NoisyOracle(y, y_noisy=[0, 1])


def test_oracle_refuses_non_integer_indices():
    oracle = NoisyOracle(np.arange(10) % 3)
    with pytest.raises(TypeError, match="integer pool indices"):
        oracle([1.5])
    assert oracle([1.0, 2]).tolist() == [1, 2]       # integral floats are fine
    assert oracle.n_queries_ == 2
