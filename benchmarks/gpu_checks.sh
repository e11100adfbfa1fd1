#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run (about 8 minutes on one H200).
#
#   bash benchmarks/gpu_checks.sh OUTDIR [WHEELDIR]
#
# 1. exact ProbCover on the GPU against the NumPy build and the dense float64
#    definition (small pool, --check);
# 2. exact ProbCover at 10^6 x 512 with delta="auto" (target: at most 60 s);
# 3. Co-Teaching's CIFAR-size CNN workload on the GPU;
# 4. the test suite with CUDA visible (device="auto" resolves to "cuda", and the
#    CUDA-only tests run instead of skipping). On one H200 with 12 xdist workers
#    the whole suite needs more than 200 s (57 % ran in 200 s); the test files
#    that touch a device (test_aum, test_coteaching*, test_graph_build,
#    test_max_herding, test_neighbors, test_nets, test_prob_cover,
#    test_strategy_gpu_script, test_strategy_screen, test_strategy_purity)
#    ran in 88 s.
# WHEELDIR: wheels installed first into a private site folder (a machine that
# cannot reach a package index, e.g. scikit-learn and skorch of the versions
# the CPU runs used).
set -o pipefail
out=${1:?usage: gpu_checks.sh OUTDIR [WHEELDIR]}
mkdir -p "$out"
if [ -n "$2" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/skal_site "$2"/*.whl || exit 1
    export PYTHONPATH=/tmp/skal_site:$PWD
else
    export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    nproc
    python3 -c "import torch, sklearn, numpy, scipy, skorch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'sklearn', sklearn.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'skorch', skorch.__version__)"
} 2>&1 | tee "$out/machine.txt"

echo "== 1. ProbCover graph on CUDA vs NumPy and dense float64"
timeout 60 python3 benchmarks/bench_probcover_gpu.py --n 4000 --d 32 --clusters 20 \
    --device cuda --check --out "$out/probcover_check.json" 2>&1 | tail -25

echo "== 2. ProbCover 10^6 x 512 on CUDA"
timeout 150 python3 benchmarks/bench_probcover_gpu.py --n 1000000 --d 512 \
    --out "$out/probcover_1m.json" 2>&1 | tail -30

echo "== 3. Co-Teaching CNN on CUDA"
timeout 90 python3 benchmarks/bench_coteaching.py --device cuda --workloads cifar-cnn \
    --epochs 3 --repeats 2 --out "$out/coteaching_cuda.csv" 2>&1 | tail -15

echo "== 4. tests with CUDA visible"
timeout 360 python3 -m pytest -q -n 12 -p no:cacheprovider -rs tests 2>&1 \
    | tee "$out/pytest.log" | tail -40
