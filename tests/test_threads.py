"""BLAS held to one thread where a filter's work is many small products (``skal._threads``)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from skal._threads import one_blas_thread
from skal.filters import CentroidFilter, _centroid


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    # The check needs a pool of more than one thread to see the limit; on a
    # one-core runner the pools start at one.
    with threadpool_limits(limits=2, user_api="blas"):
        if not _blas_threads() or min(_blas_threads()) < 2:
            pytest.skip("no BLAS library with a pool of two threads here")
        yield


def test_one_thread_inside_and_restored_after(two_blas_threads):
    before = _blas_threads()

    @one_blas_thread
    def inside():
        return _blas_threads()

    assert inside() == [1] * len(before)
    assert _blas_threads() == before


def test_restored_when_the_call_raises(two_blas_threads):
    before = _blas_threads()

    @one_blas_thread
    def fails():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails()
    assert _blas_threads() == before


def test_wrapped_function_keeps_its_name_and_result():
    @one_blas_thread
    def gram(A):
        """Gram matrix."""
        return A @ A.T

    A = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(gram(A), A @ A.T)
    assert gram.__name__ == "gram" and gram.__doc__ == "Gram matrix."


def test_centroid_filter_fits_with_one_blas_thread(two_blas_threads, monkeypatch):
    seen = []
    calibrate = _centroid.channel_calibrated_clean_proba

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return calibrate(*args, **kwargs)

    monkeypatch.setattr(_centroid, "channel_calibrated_clean_proba", spy)
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.1, size=(40, 4)) for c in (0.0, 3.0)])
    y = np.repeat([0, 1], 40)
    idx = rng.choice(80, 12, replace=False)
    before = _blas_threads()
    CentroidFilter(random_state=0).fit_filter(X[idx], y[idx], sample_indices=idx, X_pool=X)
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert _blas_threads() == before
