"""`mtlcheck bench --probes`: the probe curves of the C2 near-boundary control (quick profile:
m = 64 learned rows, r = 2, 24 repetitions, n up to 4096, 1000 test rows), timed three ways on
the same feature map: one repetition at a time with full d-dimensional draws (the code before
2026-12-06), repetitions fitted in batches (sim/probes.py REP_BATCH_BYTES; the same numbers), and
batched with the projected draws (docs/derivations.md section 13.4; the same law, other
numbers). Runs alternate; medians and ratios of one run are reported."""
from __future__ import annotations

import statistics
import time

from ..checks.profiles import profile

__all__ = ["run_probe_bench", "PROBE_DIMS"]

#: the dimensions timed: the smallest and largest of the quick C2 grid
PROBE_DIMS = (8, 256)


def run_probe_bench(device, repeats: int, seed: int, progress) -> list[dict]:
    import torch

    from ..sim import probes
    from ..sim.samplers import generator, haar, make_target, sphere

    P = profile("quick", "C2")                        # the control's design, as C2 runs it
    pp = P["probes"]["fixed-budget"]
    grid, reps, n_test, lam, m, r = pp["n_grid"], pp["reps"], P["n_test"], P["lam"], P["m"], P["r"]
    target = lambda g: make_target("halfspace", r, g)
    rows = []
    for d in PROBE_DIMS:
        g = generator(seed, device)
        M, W = haar(d, r, g), sphere(m, d, g)
        fmap = probes.FeatureMap.network("bench", W)

        def one(batched: bool, projected: bool):
            saved = probes.REP_BATCH_BYTES
            if not batched:
                probes.REP_BATCH_BYTES = 1
            try:
                t = time.perf_counter()
                out = probes.probe_curve(fmap, M, target, grid, reps, n_test, lam,
                                         generator(seed + 1, device), projected=projected)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                return time.perf_counter() - t, out["mse"]
            finally:
                probes.REP_BATCH_BYTES = saved

        variants = {"per repetition, full draws": (False, False),
                    "batched, full draws": (True, False),
                    "batched, projected draws": (True, True)}
        one(True, True)                                           # warm-up
        times = {k: [] for k in variants}
        curves = {}
        for _ in range(repeats):
            for k, (b, p) in variants.items():
                s, curves[k] = one(b, p)
                times[k].append(s)
        med = {k: statistics.median(v) for k, v in times.items()}
        base = med["per repetition, full draws"]
        diff = float((curves["batched, full draws"]
                      - curves["per repetition, full draws"]).abs().max())
        row = {"d": d, "m": m, "reps": reps, "n_max": max(grid), "n_test": n_test,
               "projected_applies": m + r < d,
               "median_s": med, "ratio_to_per_repetition": {k: base / v for k, v in med.items()},
               "batched_max_abs_diff": diff}
        progress(f"probe curves d={d}: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in
                                                     med.items()))
        rows.append(row)
    return rows
