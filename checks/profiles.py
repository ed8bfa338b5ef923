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
                   T_for_n=64, seeds=24, control_seeds=8, weak_n1=1, iso_tau=0.5,
                   slope_max=-0.1, pred_d=16, pred_r=3, pred_n=64, pred_T_grid=[16, 64, 256],
                   pred_seeds=192, pred_tol=0.05, power_datasets=1000),
        "C2": dict(r=2, d_grid=[8, 16, 32, 64, 128, 256], m=64, m_pre=128, T=64, E_target=1e-3,
                   control_E=1.4e-3, seeds=10,
                   probes={"pretrained": dict(reps=24, n_grid=geometric(4, 512)),
                           "raw-linear": dict(reps=3, n_grid=geometric(4, 8192)),
                           "fixed-budget": dict(reps=24, n_grid=geometric(4, 4096))},
                   n_test=1000, eps=0.40, lam=0.1, slope_max=0.25, power_datasets=1000),
        "C3": dict(r=2, d_grid=[8, 16, 32, 64, 128, 256], m_pre=128, T=64, E_target=1e-3,
                   control_E=4e-3, seeds=10,
                   widths=[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128],
                   rf_widths=geometric(4, 2048), eps=0.5, slope_max=0.25, power_datasets=1000),
        "C4": dict(d=64, r=3, n1=256, n2=4096, m=128, K=30, tau=0.3, multi_T=64, few_T=4,
                   n_ds=1024, n_test=2000, lam=0.1, p_min=0.8, err_fail=0.2, err_ok=0.1),
        "C5": dict(r=2, seeds=6,
                   levels=[dict(target="halfspace", eps=0.5, width_factor=3.0, min_width=64,
                                d_grid=[16, 32, 64, 128, 256, 512, 1024]),
                           dict(target="xor", eps=0.7, width_factor=1.5, min_width=128,
                                d_grid=[8, 12, 16, 24, 32, 48, 64])],
                   exponent_min=1.5, exponent_tol=0.1, pre_slope_max=0.25, power_datasets=1000,
                   monte_carlo=dict(target="xor", d=8, m=48, widths=[4, 12, 24, 48], n=200000)),
        "C6": dict(split=dict(d=12, r=2, T=5, n1=20, n2=17, m=7), tol=1e-10,
                   pop=dict(d=24, r=2, T=512, n=1024, m=16), seeds=16, pop_tol_factor=2.0,
                   scale_tol=0.02, power_datasets=1000),
    },
    "full": {
        "C1": dict(d=256, r=4, n=1024, m=512, T_grid=[4, 16, 64, 256, 1024],
                   n_grid=[128, 512, 2048, 8192], T_for_n=256, seeds=48, control_seeds=12,
                   weak_n1=1, iso_tau=0.5, slope_max=-0.1, pred_d=32, pred_r=4, pred_n=128,
                   pred_T_grid=[16, 64, 256, 1024], pred_seeds=192, pred_tol=0.03,
                   power_datasets=4000),
        "C2": dict(r=2, d_grid=[64, 256, 1024, 4096], m=64, m_pre=128, T=64, T_per_d=1.0,
                   E_target=1e-3, control_E=1.4e-3, seeds=8,
                   probes={"pretrained": dict(reps=96, n_grid=geometric(4, 1024)),
                           "raw-linear": dict(reps=12, n_grid=geometric(4, 65536)),
                           "fixed-budget": dict(reps=96, n_grid=geometric(4, 16384))},
                   n_test=2000, eps=0.40, lam=0.1, slope_max=0.25, power_datasets=4000),
        "C3": dict(r=2, d_grid=[64, 256, 1024, 4096], m_pre=128, T=64, T_per_d=1.0,
                   E_target=1e-3, control_E=4e-3, seeds=8,
                   widths=[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128],
                   rf_widths=geometric(4, 16384, 2.0), eps=0.5, slope_max=0.25,
                   power_datasets=4000),
        "C4": dict(d=256, r=4, n1=1024, n2=16384, m=256, K=100, tau=0.3, multi_T=256, few_T=10,
                   n_ds=4096, n_test=4000, lam=0.1, p_min=0.8, err_fail=0.2, err_ok=0.1),
        "C5": dict(r=2, seeds=8,
                   levels=[dict(target="halfspace", eps=0.5, width_factor=3.0, min_width=64,
                                d_grid=[64, 128, 256, 512, 1024, 2048, 4096]),
                           dict(target="xor", eps=0.7, width_factor=1.5, min_width=128,
                                d_grid=[16, 24, 32, 48, 64, 96, 128])],
                   exponent_min=1.5, exponent_tol=0.1, pre_slope_max=0.25, power_datasets=4000,
                   monte_carlo=dict(target="xor", d=12, m=96, widths=[8, 24, 48, 96], n=1000000)),
        "C6": dict(split=dict(d=40, r=3, T=9, n1=50, n2=60, m=13), tol=1e-10,
                   pop=dict(d=64, r=3, T=2048, n=4096, m=32), seeds=32, pop_tol_factor=2.0,
                   scale_tol=0.01, power_datasets=4000),
    },
}


def profile(name: str, cid: str) -> dict:
    return PROFILES[name][cid]
