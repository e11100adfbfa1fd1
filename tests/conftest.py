import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread: for tiny networks, thread start-up costs
    more than it saves on a 2-core machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def digits():
    from skal.datasets import load_digits_embeddings

    return load_digits_embeddings(return_X_y=True)


@pytest.fixture
def blobs():
    """Three well separated unit-norm blobs, 60 points."""
    rng = np.random.default_rng(0)
    centers = np.eye(3, 5) * 3
    X = np.vstack([c + 0.3 * rng.normal(size=(20, 5)) for c in centers])
    y = np.repeat(np.arange(3), 20)
    return X, y
