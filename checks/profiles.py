"""The two profiles of the suite. quick: all of `pytest checks/` on 2 CPU cores in a few
minutes; full: larger d grids (to 4096) and more seeds, meant for a GPU.

Every decision uses one-sided confidence bounds at false-alarm probability ALPHA each.
"""
from __future__ import annotations

ALPHA = 0.05


def geometric(lo: int, hi: int, ratio: float = 2 ** 0.5) -> list[int]:
    out, x = [], float(lo)
    while x <= hi * 1.0001:
        v = int(round(x))
        if not out or v > out[-1]:
            out.append(v)
        x *= ratio
    return out


PROFILES = {
    "quick": {
        "C1": dict(d=64, r=3, n=256, m=128, T_grid=[4, 16, 64, 256], n_grid=[64, 256, 1024],
                   T_for_n=64, seeds=24, control_seeds=6, iso_tau=0.5, pred_T_min=16,
                   pred_tol=0.10, slope_max=-0.1, B=1000),
        "C2": dict(r=2, d_grid=[8, 16, 32, 64, 128], m=64, m_pre=256, T=64, E_target=1e-3,
                   seeds=8, probes={"pretrained": dict(reps=24, n_grid=geometric(4, 512)),
                                    "raw-linear": dict(reps=3, n_grid=geometric(4, 4096))},
                   n_test=1000, eps=0.40, lam=0.1, slope_max=0.25, B=400),
        "C3": dict(r=2, d_grid=[8, 16, 32, 64, 128], m_pre=256, T=64, E_target=1e-3, seeds=8,
                   widths=[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256],
                   rf_widths=geometric(4, 1024), eps=0.5, slope_max=0.25, B=1000),
        "C4": dict(d=64, r=3, n1=256, n2=4096, m=128, K=30, tau=0.3, multi_T=64, n_ds=1024,
                   n_test=2000, lam=0.1, p_min=0.8, err_fail=0.2, err_ok=0.1),
        "C5": dict(r=2, d_grid=[4, 6, 8, 10, 12], m_max=64, T=64, E_target=1e-3, seeds=4,
                   widths=geometric(2, 64), rf_widths=geometric(4, 512), n=4096, n_test=2000,
                   reps=2, eps=0.6, lam=1e-3, pre_slope_max=0.25, B=1000),
        "C6": dict(split=dict(d=12, r=2, T=5, n1=20, n2=17, m=7), tol=1e-10,
                   pop=dict(d=24, r=2, T=512, n=1024, m=16), seeds=5, pop_tol_factor=2.0),
    },
    "full": {
        "C1": dict(d=256, r=4, n=1024, m=512, T_grid=[4, 16, 64, 256, 1024],
                   n_grid=[128, 512, 2048, 8192], T_for_n=256, seeds=48, control_seeds=12,
                   iso_tau=0.5, pred_T_min=16, pred_tol=0.05, slope_max=-0.1, B=2000),
        "C2": dict(r=2, d_grid=[64, 256, 1024, 4096], m=64, m_pre=256, T=64, T_per_d=1.0,
                   E_target=1e-3, seeds=4,
                   probes={"pretrained": dict(reps=96, n_grid=geometric(4, 1024)),
                           "raw-linear": dict(reps=12, n_grid=geometric(4, 65536))},
                   n_test=2000, eps=0.40, lam=0.1, slope_max=0.25, B=1000),
        "C3": dict(r=2, d_grid=[64, 256, 1024, 4096], m_pre=256, T=64, T_per_d=1.0,
                   E_target=1e-3, seeds=4,
                   widths=[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256],
                   rf_widths=geometric(4, 16384, 2.0), eps=0.5, slope_max=0.25, B=2000),
        "C4": dict(d=256, r=4, n1=1024, n2=16384, m=256, K=100, tau=0.3, multi_T=256,
                   n_ds=4096, n_test=4000, lam=0.1, p_min=0.8, err_fail=0.2, err_ok=0.1),
        "C5": dict(r=2, d_grid=[4, 6, 8, 10, 12, 14, 16], m_max=64, T=64, E_target=1e-3,
                   seeds=4, widths=geometric(2, 64), rf_widths=geometric(4, 4096), n=16384,
                   n_test=4000, reps=3, eps=0.6, lam=1e-3, pre_slope_max=0.25, B=2000),
        "C6": dict(split=dict(d=40, r=3, T=9, n1=50, n2=60, m=13), tol=1e-10,
                   pop=dict(d=64, r=3, T=2048, n=4096, m=32), seeds=10, pop_tol_factor=2.0),
    },
}


def profile(name: str, cid: str) -> dict:
    return PROFILES[name][cid]
