"""`mtlcheck bench`: the engine against the naive reference on the same work.

The work is one one-step pretraining update (head step + representation step) on pre-sampled
fp32 data, so that both implementations do exactly the same arithmetic; the time to sample that
data is reported separately. Three regimes:
  few large tasks  d=512,  T=512,  n=1024, m=512
  many small tasks d=256,  T=4096, n=64,   m=256
  wide             d=256,  T=256,  n=256,  m=4096
Runs alternate engine / naive / bare GEMMs (the engine's three GEMMs on the same shapes, chunks
and neuron blocks with no elementwise work: the ceiling of this BLAS on these shapes); medians
are reported, with the ratio, the achieved GFLOP/s (GEMM flops 2 T d m (n1 + 2 n2)) and the
fraction of this machine's fp32 GEMM peak, measured in the same run: before every timed run the
best of three 2048^3 matmuls (8192^3 on a GPU); a fraction of peak is the median over runs of
the run's rate over the peak measured just before it (a shared machine's speed drifts by +-20%,
and pairing each run with its own peak cancels most of that drift). `--memory` measures the
peak resident memory of a pretraining run with d=2048, T=2048, n1=n2=1024, m=512 in a child
process.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

from ..theory.params import validate

REGIMES = (
    {"name": "few large tasks", "d": 512, "T": 512, "n": 1024, "m": 512},
    {"name": "many small tasks", "d": 256, "T": 4096, "n": 64, "m": 256},
    {"name": "wide", "d": 256, "T": 256, "n": 256, "m": 4096},
)
MEMORY_CONFIG = {"d": 2048, "r": 4, "T": 2048, "n1": 1024, "n2": 1024, "m": 512}


def _sync(device):
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class GemmPeak:
    """fp32 GEMM peak of this machine: the best of a few size^3 matmuls, measured again before
    every timed run (interleaved), since a shared machine's speed drifts; the reported peak is
    the median of those measurements."""

    def __init__(self, device, size: int | None = None):
        import torch
        self.device = device
        self.size = size or (8192 if device.type == "cuda" else 2048)
        g = torch.Generator(device=device).manual_seed(0)
        self.a = torch.randn(self.size, self.size, generator=g, device=device)
        self.b = torch.randn(self.size, self.size, generator=g, device=device)
        torch.mm(self.a, self.b)
        self.samples: list[float] = []

    def measure(self, calls: int = 3) -> float:
        import torch
        best = float("inf")
        for _ in range(calls):
            _sync(self.device)
            t = time.perf_counter()
            torch.mm(self.a, self.b)
            _sync(self.device)
            best = min(best, time.perf_counter() - t)
        rate = 2 * self.size ** 3 / best / 1e9
        self.samples.append(rate)
        return rate

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def bare_gemms(W0, X1, X2, chunk: int, block: int):
    """Only the engine's three GEMMs per chunk of tasks (forward S1, forward S2, the
    representation gradient), on the same shapes and chunks, with no elementwise work: the
    ceiling the engine could reach with this BLAS on these shapes (small-K GEMMs, K = d, run
    below the size^3 peak)."""
    import torch
    T, n1, d = X1.shape
    m = W0.shape[0]
    Wt = W0.t().contiguous()
    G = torch.zeros_like(W0)
    for c0 in range(0, T, chunk):
        X1f = X1[c0:c0 + chunk].reshape(-1, d)
        X2f = X2[c0:c0 + chunk].reshape(-1, d)
        for j0 in range(0, m, block):
            H = X1f @ Wt[:, j0:j0 + block]
            Z = X2f @ Wt[:, j0:j0 + block]
            G[j0:j0 + block].addmm_(Z.t(), X2f)
            del H, Z
    return G


def run_regime(reg: dict, device, repeats: int, seed: int, progress, peak: "GemmPeak") -> dict:
    import torch

    from ..sim.pretrain import default_block, default_chunk, one_step_from_data
    from ..theory.model import Algorithm
    from .naive import one_step_naive

    d, T, n, m = reg["d"], reg["T"], reg["n"], reg["m"]
    g = torch.Generator(device=device).manual_seed(seed)
    _sync(device)
    t = time.perf_counter()
    X1 = torch.randn(T, n, d, generator=g, device=device)
    X2 = torch.randn(T, n, d, generator=g, device=device)
    u = torch.randn(T, d, generator=g, device=device)
    y1 = torch.sign(torch.einsum("tnd,td->tn", X1, u))
    y2 = torch.sign(torch.einsum("tnd,td->tn", X2, u))
    _sync(device)
    sampling = time.perf_counter() - t
    W0 = torch.randn(m, d, generator=g, device=device)
    W0 /= W0.norm(dim=1, keepdim=True)
    flop = 2.0 * T * d * m * (n + 2 * n)
    algo = Algorithm(T, n, n, m)
    chunk = default_chunk(algo, d, device, X1.dtype)
    block = default_block(algo, chunk, device, X1.dtype)
    times = {"engine": [], "naive": [], "gemms": []}
    outs = {}
    fns = {"engine": lambda: one_step_from_data(W0, X1, y1, X2, y2, chunk=chunk),
           "naive": lambda: one_step_naive(W0, X1, y1, X2, y2),
           "gemms": lambda: bare_gemms(W0, X1, X2, chunk, block)}
    peaks = []
    frac = {name: [] for name in fns}     # each run's rate over the peak measured just before it
    for k in range(repeats):
        order = ("engine", "naive", "gemms") if k % 2 == 0 else ("gemms", "naive", "engine")
        for name in order:
            peaks.append(peak.measure())
            _sync(device)
            t = time.perf_counter()
            outs[name] = fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - t)
            frac[name].append(flop / times[name][-1] / 1e9 / peaks[-1])
        progress(f"  {reg['name']}: run {k + 1}/{repeats} engine {times['engine'][-1]:.3f}s "
                 f"naive {times['naive'][-1]:.3f}s GEMMs alone {times['gemms'][-1]:.3f}s")
    # agreement in float64 on the first tasks: in float32 the two GEMM shapes round a
    # pre-activation near 0 differently, and one flipped 1{z > 0} moves W1 by ~1e-2 of its
    # scale (a discontinuity no float32 tolerance covers); the float32 outputs serve the timings
    k = min(X1.shape[0], 8)
    d64 = [t[:k].double() for t in (X1, y1, X2, y2)]
    a64 = one_step_from_data(W0.double(), *d64, chunk=min(chunk, k))
    n64 = one_step_naive(W0.double(), *d64)
    diff = float((a64 - n64).abs().max() / n64.abs().max())
    e, nv = statistics.median(times["engine"]), statistics.median(times["naive"])
    gm = statistics.median(times["gemms"])
    p = statistics.median(peaks)
    return {**reg, "chunk": chunk, "block": block, "gflop": flop / 1e9, "sampling_s": sampling,
            "engine_median_s": e, "naive_median_s": nv, "gemms_median_s": gm,
            "engine_vs_own_gemms": gm / e,
            "gemms_peak_fraction": statistics.median(frac["gemms"]),
            "ratio": nv / e, "engine_gflops": flop / e / 1e9,
            "naive_gflops": flop / nv / 1e9, "peak_gflops": p,
            "engine_peak_fraction": statistics.median(frac["engine"]),
            "naive_peak_fraction": statistics.median(frac["naive"]),
            "max_rel_diff": diff, "engine_times_s": times["engine"],
            "naive_times_s": times["naive"], "gemms_times_s": times["gemms"],
            "peak_samples_gflops": peaks}


def measure_memory(device: str = "cpu") -> dict:
    """Peak RSS (and CUDA peak allocation) of `mtlcheck sim pretrain` on MEMORY_CONFIG."""
    c = MEMORY_CONFIG
    code = (
        "import json, resource, sys, torch\n"
        "from mtlcheck.theory.model import ReferenceModel, Algorithm\n"
        "from mtlcheck.sim.pretrain import PretrainConfig, pretrain\n"
        f"res = pretrain(PretrainConfig(ReferenceModel({c['d']}, {c['r']}), Algorithm({c['T']}, "
        f"{c['n1']}, {c['n2']}, {c['m']}), seed=0, device={device!r}))\n"
        "cuda = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0\n"
        "print(json.dumps({'E_out': res.metrics()['E_out'], 'wall_s': res.wall_s, "
        "'cuda_peak_bytes': cuda}))\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return {**c, "peak_rss_gib": max(after, before) / 2 ** 20, **info}


def main_bench(args) -> int:
    import torch

    from ..sim.device import describe, resolve_device

    v = validate("bench", seed=args.seed, repeats=args.repeats, scale=args.scale,
                 device=args.device)
    scale = v["scale"]
    device = resolve_device(v["device"], "bench")
    progress = lambda msg: print(msg, file=sys.stderr, flush=True)   # stderr: JSON stays clean
    peak = GemmPeak(device)
    progress(f"fp32 GEMM peak on {describe(device)}: {peak.measure():.1f} GFLOP/s "
             f"({peak.size}^3; measured again before every timed run)")
    rows = []
    for reg in REGIMES:
        reg = dict(reg, T=max(1, int(round(reg["T"] * scale))))
        progress(f"{reg['name']}: d={reg['d']} T={reg['T']} n={reg['n']} m={reg['m']}")
        rows.append(run_regime(reg, device, v["repeats"], v["seed"], progress, peak))
    out = {"device": describe(device), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "gemm_peak_gflops": peak.median,
           "gemm_peak_size": peak.size, "repeats": v["repeats"], "scale": scale, "regimes": rows}
    if getattr(args, "probes", False):
        from .probe_bench import run_probe_bench
        out["probe_curves"] = run_probe_bench(device, v["repeats"], v["seed"], progress)
    if getattr(args, "memory", False):
        progress("measuring peak memory of the d=2048, T=2048, n=1024, m=512 run ...")
        out["memory"] = measure_memory(device.type)
    if args.json:
        print(json.dumps(out))
    else:
        from tabulate import tabulate
        print(f"device {out['device']}, torch {out['torch']}, fp32 GEMM peak "
              f"{peak.median:.1f} GFLOP/s (median of {len(peak.samples)} measurements of "
              f"{peak.size}^3 matmuls interleaved with the runs; 'of peak' is the median over "
              f"runs of each run's rate over the peak measured just before it)")
        print(tabulate([[r["name"], r["d"], r["T"], r["n"], r["m"], f"{r['engine_median_s']:.3f}",
                         f"{r['naive_median_s']:.3f}", f"{r['ratio']:.2f}x",
                         f"{r['engine_gflops']:.1f}",
                         f"{100 * r['engine_peak_fraction']:.0f}% (peak {r['peak_gflops']:.0f})",
                         f"{100 * r['gemms_peak_fraction']:.0f}%",
                         f"{100 * r['engine_vs_own_gemms']:.0f}%",
                         f"{r['sampling_s']:.2f}", f"{r['max_rel_diff']:.1e}"] for r in rows],
                       headers=["regime", "d", "T", "n", "m", "engine s", "naive s", "ratio",
                                "GFLOP/s", "of peak", "GEMMs alone of peak",
                                "engine vs its GEMMs", "sampling s", "max rel diff"]))
        if "probe_curves" in out:
            print("probe curves (C2's near control, quick: m=64, 24 repetitions, n to 4096, "
                  "1000 test rows; medians; ratio: per-repetition time over this one)")
            print(tabulate([[r["d"], k, f"{1e3 * t:.0f}",
                             f"{r['ratio_to_per_repetition'][k]:.2f}x"]
                            for r in out["probe_curves"] for k, t in r["median_s"].items()],
                           headers=["d", "variant", "ms", "ratio"]))
        if "memory" in out:
            mm = out["memory"]
            print(f"peak memory (d={mm['d']}, T={mm['T']}, n1=n2={mm['n1']}, m={mm['m']}): "
                  f"{mm['peak_rss_gib']:.2f} GiB RSS, wall {mm['wall_s']:.1f}s")
    return 0
