"""Speed of CoTeachingClassifier against a hand-written PyTorch loop.

Every configuration trains the *same two networks* on the *same data* in this
process, with the same batch size, shuffling, small-batch skipping, forget
rate and :func:`skal.coteaching.loss_coteaching`:

- ``torch_loader``: hand-written loop, ``DataLoader(TensorDataset)`` with
  shuffling -- the idiomatic plain PyTorch loop, and the reference for the
  skorch-overhead ratio;
- ``torch_sliced``: hand-written loop that indexes the tensors with a shuffled
  permutation (no DataLoader); the fastest loop one can write, shown so the
  data-loading share is visible;
- ``skal``: :class:`skal.CoTeachingClassifier` (skorch underneath);
- ``skal_fused``: the same with ``fused=True`` (both networks in one
  ``torch.func.vmap`` call over stacked weights).

Time per epoch is the median over the timed epochs (one warm-up epoch is
dropped) across interleaved repeats; for the classifier it is skorch's own
per-epoch ``dur``. Peak memory is the peak resident-set size above the value
at the start of the run (CPU; sampled every 2 ms) or
``torch.cuda.max_memory_allocated`` (CUDA). The load average of the machine
is recorded because the timings are only as quiet as the machine.

Reproduce (CPU)::

    python benchmarks/bench_coteaching.py --threads 1 --epochs 6 --repeats 3 --out bench_coteaching.csv

The defaults a user gets, first call in a fresh process: ``--first-fit`` times
``CoTeachingClassifier(random_state=0).fit(X, y)`` on the digits (default
MLP, 50 epochs, batch 128) and the hand-written DataLoader loop doing the same
work, each in its own new Python process (import and fit timed separately),
alternating between the two::

    python benchmarks/bench_coteaching.py --first-fit --repeats 5 --out first_fit_coteaching.csv

CIFAR-10-sized tensors with the 9-layer CNN (meant for a GPU)::

    python benchmarks/bench_coteaching.py --device cuda --workloads cifar-cnn --epochs 3 --repeats 2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skal.coteaching import CoTeachingClassifier, forget_rate_scheduler, loss_coteaching  # noqa: E402
from skal.datasets import load_digits_embeddings  # noqa: E402
from skal.nets import MLP, CoTeachingCNN  # noqa: E402

MIN_BATCH = 16


# ---------------------------------------------------------------- workloads

def make_workload(name: str, seed: int = 0):
    """Return ``(X, y, module_class, module_kwargs, batch_size)``."""
    rng = np.random.default_rng(seed)
    if name == "digits-mlp":
        X, y = load_digits_embeddings(return_X_y=True)
        return X, y, MLP, dict(n_features=64, n_classes=10, hidden_units=(256,)), 128
    if name == "emb-mlp":
        # embeddings of a mid-size pool: 10k x 512, 10 classes
        X = rng.normal(size=(10_000, 512)).astype(np.float32)
        y = rng.integers(0, 10, size=10_000)
        return X, y, MLP, dict(n_features=512, n_classes=10, hidden_units=(512, 512)), 256
    if name == "cifar-cnn":
        X = rng.normal(size=(50_000, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, size=50_000)
        return X, y, CoTeachingCNN, dict(in_channels=3, n_classes=10), 128
    if name == "cifar-cnn-small":
        # a CPU-sized slice of the CIFAR workload
        X = rng.normal(size=(256, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, size=256)
        return X, y, CoTeachingCNN, dict(in_channels=3, n_classes=10), 64
    raise ValueError(f"unknown workload {name!r}")


# ---------------------------------------------------------------- memory

class PeakMemory:
    """Peak memory of a block: CUDA allocator peak, or sampled RSS on CPU."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak_mb = float("nan")

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._rss())
            time.sleep(0.002)

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            self._base = self._max = self._rss()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self._base) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = (max(self._max, self._rss()) - self._base) / 2**20


# ---------------------------------------------------------------- the loops

def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_loop(X, y, module_cls, module_kw, batch_size, epochs, device, forget_rate,
               sliced: bool, seed: int) -> list[float]:
    """Hand-written Co-Teaching loop; returns the time of every epoch."""
    torch.manual_seed(seed)
    net1 = module_cls(**module_kw).to(device)
    net2 = module_cls(**module_kw).to(device)
    opt1 = torch.optim.Adam(net1.parameters(), lr=1e-3)
    opt2 = torch.optim.Adam(net2.parameters(), lr=1e-3)
    rates = forget_rate_scheduler(epochs, forget_rate, 10, 1)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.long)
    if sliced:
        Xt, yt = Xt.to(device), yt.to(device)
        loader = None
    else:
        loader = DataLoader(TensorDataset(Xt, yt), batch_size=batch_size, shuffle=True)
    times = []
    for epoch in range(epochs):
        _sync(device)
        t0 = time.perf_counter()
        net1.train()
        net2.train()
        if sliced:
            perm = torch.randperm(len(yt), device=device)
            batches = ((Xt[idx], yt[idx]) for idx in perm.split(batch_size))
        else:
            batches = loader
        for xb, yb in batches:
            if len(yb) < MIN_BATCH:
                continue
            xb, yb = xb.to(device), yb.to(device)
            opt1.zero_grad()
            opt2.zero_grad()
            l1, l2 = loss_coteaching(net1(xb), net2(xb), yb, float(rates[epoch]))
            (l1 + l2).backward()
            opt1.step()
            opt2.step()
            # the classifier logs both losses every batch; do the same work
            _ = (l1.item(), l2.item())
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def skal_loop(X, y, module_cls, module_kw, batch_size, epochs, device, forget_rate,
              fused: bool, seed: int) -> list[float]:
    torch.manual_seed(seed)
    clf = CoTeachingClassifier(
        module_cls, **{f"module__{k}": v for k, v in module_kw.items()},
        forget_rate=forget_rate, num_gradual=10, epoch_decay_start=epochs,
        min_batch_size=MIN_BATCH, batch_size=batch_size, max_epochs=epochs, lr=1e-3,
        iterator_train__shuffle=True, device=device, fused=fused, verbose=0)
    clf.fit(X, y)
    return [float(d) for d in clf.history[:, "dur"]]


# ---------------------------------------------------------------- first fit, defaults

_FIRST_FIT = {
    # each snippet runs in a new interpreter and prints {"import_s", "fit_s"}
    "skal_defaults": """
import time; t0 = time.perf_counter()
from skal import CoTeachingClassifier
from skal.datasets import load_digits_embeddings
X, y = load_digits_embeddings(return_X_y=True); t1 = time.perf_counter()
CoTeachingClassifier(random_state=0).fit(X, y); t2 = time.perf_counter()
""",
    "torch_loader_same_work": """
import time; t0 = time.perf_counter()
import bench_coteaching as b
X, y, cls, kw, _ = b.make_workload("digits-mlp"); t1 = time.perf_counter()
b.plain_loop(X, y, cls, kw, 128, 50, "cpu", 0.2, sliced=False, seed=0); t2 = time.perf_counter()
""",
}


def first_fit_rows(args) -> list[dict]:
    """Time the default fit, and the same work by hand, in fresh processes."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, os.path.dirname(here)]),
               OMP_NUM_THREADS=str(args.threads))
    times: dict[str, list[tuple[float, float]]] = {m: [] for m in _FIRST_FIT}
    loads = []
    for _ in range(args.repeats):
        for method, snippet in _FIRST_FIT.items():  # alternating: drifting load hits both
            code = (f"import torch; torch.set_num_threads({args.threads})\n{snippet}"
                    "import json; print(json.dumps({'import_s': t1 - t0, 'fit_s': t2 - t1}))")
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                 capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            times[method].append((result["import_s"], result["fit_s"]))
            loads.append(os.getloadavg()[0])
    rows = []
    for method, values in times.items():
        fits = [f for _, f in values]
        rows.append(dict(workload="digits-defaults-first-fit", method=method, device="cpu",
                         threads=args.threads, runs=len(values),
                         import_s_median=round(statistics.median(i for i, _ in values), 3),
                         fit_s_median=round(statistics.median(fits), 3),
                         fit_s_min=round(min(fits), 3),
                         loadavg_1m=round(statistics.mean(loads), 2), torch=torch.__version__))
    for r in rows:
        print(f"{r['method']:24s} import {r['import_s_median']:7.3f} s   first fit "
              f"{r['fit_s_median']:7.3f} s (min {r['fit_s_min']:.3f})   load {r['loadavg_1m']}")
    return rows


# ---------------------------------------------------------------- driver

def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", nargs="+", default=["digits-mlp", "emb-mlp"])
    parser.add_argument("--methods", nargs="+",
                        default=["torch_loader", "torch_sliced", "skal", "skal_fused"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--forget-rate", type=float, default=0.2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="bench_coteaching.csv")
    parser.add_argument("--first-fit", action="store_true",
                        help="time the default fit, first call in fresh processes, instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.first_fit:
        rows = first_fit_rows(args)
        _write(rows, args.out)
        return rows

    rows = []
    for workload in args.workloads:
        X, y, module_cls, module_kw, batch_size = make_workload(workload)
        per_method: dict[str, list[float]] = {m: [] for m in args.methods}
        peaks: dict[str, list[float]] = {m: [] for m in args.methods}
        loads = []
        # warm-up: one-off allocations, lazy imports and thread pools are paid
        # here and not by whichever method happens to run first
        for method in args.methods:
            if method.startswith("torch"):
                plain_loop(X, y, module_cls, module_kw, batch_size, 1, args.device,
                           args.forget_rate, sliced=method == "torch_sliced", seed=0)
            else:
                skal_loop(X, y, module_cls, module_kw, batch_size, 1, args.device,
                          args.forget_rate, fused=method == "skal_fused", seed=0)
        for rep in range(args.repeats):
            for method in args.methods:  # interleaved, so drifting load hits all alike
                with PeakMemory(args.device) as mem:
                    if method.startswith("torch"):
                        times = plain_loop(X, y, module_cls, module_kw, batch_size, args.epochs,
                                           args.device, args.forget_rate,
                                           sliced=method == "torch_sliced", seed=rep)
                    else:
                        times = skal_loop(X, y, module_cls, module_kw, batch_size, args.epochs,
                                          args.device, args.forget_rate,
                                          fused=method == "skal_fused", seed=rep)
                per_method[method].extend(times[1:] if len(times) > 1 else times)
                peaks[method].append(mem.peak_mb)
                loads.append(os.getloadavg()[0])
        first = next(iter(per_method.values()))
        ref = statistics.median(per_method.get("torch_loader") or first)
        ref_sliced = statistics.median(per_method.get("torch_sliced") or first)
        for method in args.methods:
            t = statistics.median(per_method[method])
            rows.append(dict(
                workload=workload, method=method, device=args.device, threads=args.threads,
                n_samples=len(y), batch_size=batch_size, epochs_timed=len(per_method[method]),
                epoch_s_median=round(t, 5),
                epoch_s_min=round(min(per_method[method]), 5),
                ratio_vs_torch_loader=round(t / ref, 3),
                ratio_vs_torch_sliced=round(t / ref_sliced, 3),
                peak_mem_mb=round(max(peaks[method]), 1),
                loadavg_1m=round(statistics.mean(loads), 2),
                torch=torch.__version__,
            ))

    header = (f"{'workload':16s} {'method':13s} {'s/epoch':>9s} {'min':>9s} "
              f"{'/loader':>8s} {'/sliced':>8s} {'peak MB':>8s} {'load':>5s}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['workload']:16s} {r['method']:13s} {r['epoch_s_median']:9.4f} "
              f"{r['epoch_s_min']:9.4f} {r['ratio_vs_torch_loader']:8.3f} "
              f"{r['ratio_vs_torch_sliced']:8.3f} "
              f"{r['peak_mem_mb']:8.1f} {r['loadavg_1m']:5.2f}")
    print("/loader, /sliced = median epoch time over that of the hand-written DataLoader "
          "loop / index-slicing loop; skorch overhead = ratio - 1")
    _write(rows, args.out)
    return rows


def _write(rows: list[dict], path: str) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
