import numpy as np
import pytest

from skal._validation import (
    check_budget,
    check_embeddings,
    check_indices,
    check_labels,
    check_random_state,
)
from skal.datasets import load_digits_embeddings, load_embeddings, load_noisy_labels
from skal.neighbors import unit_normalize


def test_digits_embeddings_are_unit_norm(digits):
    X, y = digits
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1, atol=1e-5)
    assert np.array_equal(np.unique(y), np.arange(10))
    bunch = load_digits_embeddings(normalize=False)
    assert bunch.data.max() == 16.0 and bunch.images.shape == (1797, 8, 8)


def test_unit_normalize_divides_by_max_norm_then_projects():
    X = np.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]])
    Xn = unit_normalize(X, dtype=np.float64)
    assert np.allclose(Xn, [[0.6, 0.8], [0.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("ext", [".npy", ".npz", ".pt", ".csv"])
def test_load_embeddings_roundtrip(tmp_path, ext):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([0, 1, 1, 0])
    path = tmp_path / f"emb{ext}"
    if ext == ".npy":
        np.save(path, X)
    elif ext == ".npz":
        np.savez(path, X=X)
    elif ext == ".pt":
        import torch

        torch.save(torch.from_numpy(X), path)
    else:
        np.savetxt(path, X, delimiter=",")
    np.save(tmp_path / "y.npy", y)
    X2, y2 = load_embeddings(path, tmp_path / "y.npy")
    assert np.allclose(X2, X) and np.array_equal(y2, y)


def test_load_embeddings_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_embeddings(tmp_path / "missing.npy")
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones(2))
    with pytest.raises(ValueError, match="several arrays"):
        load_embeddings(tmp_path / "two.npz")
    X, y = load_embeddings(tmp_path / "two.npz", tmp_path / "two.npz", key="a", labels_key="b")
    assert X.shape == (2, 2) and y.shape == (2,)
    np.save(tmp_path / "bad.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        load_embeddings(tmp_path / "bad.npy")
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        load_embeddings(tmp_path / "one.npy")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="unsupported"):
        load_embeddings(tmp_path / "x.json")
    np.save(tmp_path / "yn.npy", np.array([1, 2, 3]))
    assert load_noisy_labels(tmp_path / "yn.npy", n_samples=3).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="expected"):
        load_noisy_labels(tmp_path / "yn.npy", n_samples=4)


def test_check_embeddings_messages():
    with pytest.raises(TypeError, match="X must be"):
        check_embeddings(None)
    with pytest.raises(ValueError, match="2-D"):
        check_embeddings(np.ones(3))
    with pytest.raises(ValueError, match="NaN or infinity in 1 row"):
        check_embeddings([[1.0, np.inf], [1.0, 2.0]])
    with pytest.raises(TypeError, match="numeric"):
        check_embeddings([["a", "b"]])
    with pytest.raises(ValueError, match="at least 1 sample"):
        check_embeddings(np.ones((0, 3)))


def test_check_indices_budget_labels_rng():
    assert check_indices([3, 1, 3], 5).tolist() == [3, 1]
    assert check_indices(np.array([True, False, True]), 3).tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"outside \[0, 5\)"):
        check_indices([5], 5)
    with pytest.raises(TypeError, match="integer"):
        check_indices([0.5], 5)
    with pytest.raises(ValueError, match="larger than"):
        check_budget(6, 5)
    with pytest.raises(ValueError, match="positive"):
        check_budget(0, 5)
    with pytest.raises(TypeError, match="positive integer"):
        check_budget(2.5, 5)
    with pytest.raises(ValueError, match="expected"):
        check_labels([1, 2], 3)
    with pytest.raises(TypeError, match="random_state"):
        check_random_state("seed")
    a = check_random_state(5).integers(1000, size=3)
    b = check_random_state(5).integers(1000, size=3)
    assert np.array_equal(a, b)


def test_empty_npy_names_the_file(tmp_path):
    path = tmp_path / "empty.npy"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npy is empty"):
        load_embeddings(path)
    with pytest.raises(ValueError, match=r"empty\.npy is empty"):
        load_noisy_labels(path)


def test_truncated_npy_names_the_file(tmp_path):
    np.save(tmp_path / "full.npy", np.ones((4, 3)))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:40])
    with pytest.raises(ValueError, match=r"cut\.npy"):
        load_embeddings(tmp_path / "cut.npy")


@pytest.mark.parametrize("ext", [".npy", ".csv"])
def test_key_with_a_single_array_file_is_refused(tmp_path, ext):
    path = tmp_path / f"one{ext}"
    if ext == ".npy":
        np.save(path, np.ones((2, 2)))
    else:
        np.savetxt(path, np.ones((2, 2)), delimiter=",")
    with pytest.raises(ValueError, match=r"key='X'.*single array"):
        load_embeddings(path, key="X")
    np.save(tmp_path / "y.npy", np.array([0, 1]))
    with pytest.raises(ValueError, match=r"key='y'.*single array"):
        load_embeddings(path, tmp_path / "y.npy", labels_key="y")
    # Without a key the same files load.
    X, y = load_embeddings(path, tmp_path / "y.npy")
    assert X.shape == (2, 2) and y.tolist() == [0, 1]


def test_pt_key_errors(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"a": torch.ones(2, 2)}, tmp_path / "d.pt")
    with pytest.raises(ValueError, match="no tensor 'b'"):
        load_embeddings(tmp_path / "d.pt", key="b")
    torch.save(torch.ones(2, 2), tmp_path / "t.pt")
    with pytest.raises(ValueError, match="single tensor"):
        load_embeddings(tmp_path / "t.pt", key="a")
    assert load_embeddings(tmp_path / "d.pt", key="a")[0].shape == (2, 2)


def test_benchmark_package_still_reads_arrays_through_load_array(tmp_path):
    from skal.datasets import _load_array

    np.savez(tmp_path / "z.npz", X=np.arange(6.0).reshape(3, 2))
    assert _load_array(str(tmp_path / "z.npz"), "X", "embeddings").tolist() == [
        [0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    with pytest.raises(ValueError, match="no array 'Y'"):
        _load_array(str(tmp_path / "z.npz"), "Y", "embeddings")
