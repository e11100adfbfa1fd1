"""The GPU benchmark script runs end to end on the CPU with a small pool and builds the exact graph."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))


@pytest.mark.parametrize("screen", ["bfloat16", "float32"])
def test_gpu_script_on_cpu(screen, tmp_path):
    import bench_probcover_gpu as gpu

    out = tmp_path / "row.json"
    row = gpu.main(["--n", "1500", "--d", "24", "--clusters", "15", "--budget", "20",
                    "--device", "cpu", "--screen", screen, "--tile-gib", "0.001",
                    "--check", "--out", str(out)])
    assert out.exists()
    assert row["same_graph_as_float32_numpy"] is True
    assert row["same_graph_as_dense_float64"] is True
    assert row["edges"] >= 1500 and 0 < row["delta"] <= 2
    assert gpu.tile_rows(1500, 0.001) == int(0.001 * 2**30 // (4 * 1500))
