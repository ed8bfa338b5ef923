"""Route ceilings for the n* bound of check C2 (docs/derivations.md 6.7).

The audit row of the n* bound compares the smallest n at which the derived risk bound of 6.1
reaches eps with the measured n*. This module asks a different question: with every ingredient of
a proof route replaced by its exact or simulated value (so that no inequality of the route loses
anything beyond the route's first, structural step), at which n would the route reach eps? No
rigorous bound along that route can reach eps sooner, so the ratio of that n to the measured n* is
a floor on the slack of the whole family of bounds. These are measurements, not bounds: they are
printed next to the audit row (``ceilings``), never compared with anything.

Routes (features phi = relu(W x) with unit rows, halfspace task y = sign(u . x), u = M v, clipped
ridge probe with penalty lam, as in probe_sim_stats):

- ``loo``: steps 1-2 of 6.1, E R(clip f_n) <= E min(4, e_j^2), e_j the leave-one-out residual of
  the (n+1)-sample pool. Every bound of 6.1 (and any bound that starts from the leave-one-out
  residuals of the unclipped fit) is at least this.
- ``leverage``: the multiplicative form, min(4, r^2/(1-h)^2) <= r^2/(1-h_q)^2 + 4 1{h > h_q}, with
  E r_j^2 and the (1-q)-quantile h_q of the leverages simulated (an oracle tail), minimised over
  q. A bound that controls the leverages by a tail inequality is at least this.
- ``lipschitz``: clipping is 1-Lipschitz, so by Minkowski in L2 over (task, data, test point),
  sqrt(E R(clip f_n)) <= sqrt(E_v R(clip b_lam)) + sqrt(E |b_n - b_lam|_G^2), with the population
  ridge solution b_lam(v) = (G + lam)^-1 W M v / sqrt(2 pi) (derivations 2.2, 2.7), G exact, and
  the two expectations simulated. This route keeps the benefit of clipping in its floor.
"""
from __future__ import annotations

import math

import numpy as np

from ..checks.complexity import crossing_status
from ..theory import bounds as B

__all__ = ["ROUTES", "route_curves", "route_ceilings"]

#: route name -> what it is, for the audit note and the report
ROUTES = {
    "loo": "steps 1-2 of 6.1 exact: E min(4, e_j^2) of the leave-one-out residuals",
    "leverage": "multiplicative leverage form with the simulated leverage quantile (oracle tail)",
    "lipschitz": "clip 1-Lipschitz + Minkowski: (sqrt(E R(clip b_lam)) "
                 "+ sqrt(E|b_n - b_lam|_G^2))^2",
}


def route_curves(W, M, grid, lam: float, reps: int, seed: int, n_test: int = 20000) -> dict:
    """Per n of ``grid``: the measured clipped risk (leave-one-out, unbiased for E R(clip f_n))
    and the value of each route of ROUTES with exact or simulated ingredients. Every repetition
    draws a task v (fixed across n: common random numbers) and a fresh pool of n + 1 samples."""
    if reps < 2 or not grid or min(grid) < 1:
        raise ValueError("route_curves needs reps >= 2 and a grid of positive sample sizes")
    rng = np.random.default_rng(seed)
    Wn = B.normalise_rows(np.asarray(W, dtype=float))
    M = np.asarray(M, dtype=float)
    m, (d, r) = Wn.shape[0], M.shape
    G = B.arccos_kernel(Wn)
    vs = rng.standard_normal((reps, r))
    vs /= np.linalg.norm(vs, axis=1, keepdims=True)
    # b_lam(v) = (G + lam)^-1 E[phi y], E[phi y] = W M v / sqrt(2 pi) (halfspace; section 2.2)
    b_lam = np.linalg.solve(G + lam * np.eye(m), (Wn @ M @ vs.T) / math.sqrt(2 * math.pi)).T
    rc_floor = []
    for v, b in zip(vs, b_lam):
        X = rng.standard_normal((n_test, d))
        y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
        rc_floor.append(float(np.mean((y - np.clip(np.maximum(X @ Wn.T, 0.0) @ b, -1, 1)) ** 2)))
    rc_floor = float(np.mean(rc_floor))
    out = {"n": list(grid), "clipped": [], "loo": [], "leverage": [], "lipschitz": [],
           "clip_floor": rc_floor}
    for n in grid:
        clipped, min4, r2, hs, dev = [], [], [], [], []
        for v, b in zip(vs, b_lam):
            X = rng.standard_normal((n + 1, d))
            y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
            F = np.maximum(X @ Wn.T, 0.0)
            A = F.T @ F + n * lam * np.eye(m)
            beta = np.linalg.solve(A, F.T @ y)
            res = y - F @ beta
            h = np.einsum("ij,ji->i", F, np.linalg.solve(A, F.T))
            e = res / (1 - h)
            clipped.append(float(np.mean((y - np.clip(y - e, -1, 1)) ** 2)))
            min4.append(float(np.mean(np.minimum(4.0, e ** 2))))
            r2.append(float(np.mean(res ** 2)))
            hs.append(h)
            # the n-sample probe (first n of the pool) against the population solution
            bn = np.linalg.solve(F[:n].T @ F[:n] + n * lam * np.eye(m), F[:n].T @ y[:n])
            dev.append(float((bn - b) @ G @ (bn - b)))
        hs = np.concatenate(hs)
        er2 = float(np.mean(r2))
        lev = min(er2 / (1 - float(np.quantile(hs, 1 - q))) ** 2 + 4 * q
                  for q in np.geomspace(1e-4, 0.5, 80))
        out["clipped"].append(float(np.mean(clipped)))
        out["loo"].append(float(np.mean(min4)))
        out["leverage"].append(float(lev))
        out["lipschitz"].append((math.sqrt(rc_floor) + math.sqrt(float(np.mean(dev)))) ** 2)
    return out


def route_ceilings(W, M, grid, lam: float, eps: float, n_star: float, reps: int,
                   seed: int) -> list[dict]:
    """[{route, n, slack, what}]: the n at which each route of ROUTES (exact or simulated
    ingredients) reaches eps (log-interpolated on ``grid``; None beyond its end) and its ratio to
    the measured n* (a floor on the slack of every rigorous bound along that route)."""
    curves = route_curves(W, M, grid, lam, reps, seed)
    ok = math.isfinite(n_star) and n_star > 0
    out = []
    for name, what in ROUTES.items():
        x = crossing_status(grid, curves[name], eps)[0]
        fin = math.isfinite(x)
        out.append({"route": name, "n": x if fin else None,
                    "slack": x / n_star if fin and ok else None,
                    "beyond": None if fin else max(grid), "what": what})
    return out

