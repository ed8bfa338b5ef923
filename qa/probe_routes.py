"""Route floors for the n* bound of check C2 (docs/derivations.md 6.7).

The audit row of the n* bound compares the smallest n at which the derived risk bound of 6.1
reaches eps with the measured n*. This module asks a different question. Keep a proof route's
structural steps, and replace each quantity that the route goes on to bound by its exact or
simulated value. At which n does the result reach eps? A rigorous bound along that route is at
least that value at every n, so it cannot reach eps sooner: the n up to which the route stays
above eps, divided by n*, is a floor on the slack of every bound along the route. These are
measurements, not bounds. They are printed next to the audit row (``ceilings``) and never
compared with anything.

Routes (features phi = relu(W x) with unit rows, halfspace task y = sign(u . x), u = M v, clipped
ridge probe with penalty lam as in probe_sim_stats; e_j, r_j, h_j the leave-one-out residuals,
residuals and leverages of the (n+1)-sample pool fitted with penalty n lam):

- ``loo``, steps 1-2 of 6.1: E R(clip f_n) <= E min(4, e_j^2). Every bound that passes through
  step 2 (all of 6.1) is at least this.
- ``split``, step 3 of 6.1 in its middle form: min(4, r^2/(1-h)^2) <= alpha r^2 + 4 (1 - alpha
  (1-h)^2)_+ for every alpha >= 1, with E r^2 and the law of h simulated and alpha optimised. This
  is the best of step 3's splits. It lies below 6.1's kappa(alpha) h form and below every single
  threshold r^2/(1-h_0)^2 + 4 1{h > h_0} (alpha = (1-h_0)^-2), so every bound that separates r_j
  from h_j this way is at least this.
- ``lipschitz``: clip is 1-Lipschitz, so by Minkowski in L2 over (task, data, test point),
  sqrt(E R(clip f_n)) <= sqrt(E_v R(clip b_lam)) + sqrt(E |b_n - b_lam|_G^2). The comparator is
  the population ridge solution b_lam(v) = (G + lam)^-1 W M v / sqrt(2 pi) (derivations 2.2,
  2.7), G exact, both expectations simulated. The floor holds for this route with this comparator
  (Minkowski and the unclipped deviation term are its structural steps).
- ``exchange`` (derivations 6.8): the route of Mourtada and Rosasco (2022) bounds the square-loss
  risk of the unclipped ridge predictor through exchangeability: E R(f_n) = E e_{n+1}^2 = E mean_j
  e_j^2 exactly (the (n+1)-th point is exchangeable with the others). Every bound on E R(clip f_n)
  that goes through E R(f_n) (clip only helps) is at least this.
- ``lowertail`` (derivations 6.9): the exchangeability route completed by a lower tail of the
  sample covariance. Exactly, R(b) = R(b_lam) + 2 lam b_lam.(b_lam - b) + |b - b_lam|_G^2 for
  every b, and b_n - b_lam = A^-1 U (A = S_n + n lam, U = sum_i phi_i xi_i - n lam b_lam). On the
  event E_c = {S_n/n + lam >= c (G + lam)}, |b_n - b_lam|_G^2 <= |U|^2_{(G+lam)^-1}/(c n)^2; off it
  the clipped loss is at most 4. With the law of the whitened lambda_min simulated (no tail
  inequality: the event's probability itself), every ingredient exact and c the best of a grid,
  E[(R(b_lam) + 2 lam b_lam.(b_lam - b_n) + |U|^2_{(G+lam)^-1}/(c n)^2) 1{E_c}] + 4 P(not E_c) is
  what every bound that controls A^-1 through such an event is at least.
- ``invmoment`` (derivations 6.9): the same step without an event, |b_n - b_lam|_G^2 <= q /
  lmin^2 pointwise (lmin the smallest eigenvalue of the whitened S_n/n + lam), so E R(f_n) <=
  E[R(b_lam) + 2 lam b_lam.(b_lam - b_n) + q / lmin^2], simulated jointly: every bound through
  inverse moments of lmin (after Hoelder, the product of moments, which is larger) is at least
  this. Each repetition's value is capped at 4 (a smaller mean, so still a floor; q / lmin^2 is
  heavy-tailed at small n and the cap keeps the standard error finite).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from ..checks.complexity import crossing_status
from ..theory import bounds as B
from ..theory.probe_bound import pool_stats

__all__ = ["ROUTES", "Z_FLOOR", "LOWER_TAIL_C", "population_ridge", "split_value",
           "lower_tail_terms", "whitener", "lower_tail_value", "route_curves", "route_ceilings"]

#: route name -> what it is, for the audit note and the report
ROUTES = {
    "loo": "steps 1-2 of 6.1 exact: E min(4, e_j^2) of the leave-one-out residuals",
    "split": "best split of step 3, alpha E r^2 + 4 E(1 - alpha (1-h)^2)_+, E r^2 and the law "
             "of h simulated",
    "lipschitz": "clip 1-Lipschitz + Minkowski with comparator b_lam: (sqrt(E R(clip b_lam)) "
                 "+ sqrt(E|b_n - b_lam|_G^2))^2",
    "exchange": "Mourtada-Rosasco exchangeability (unclipped ridge risk): E R(f_n) = E e_j^2, "
                "the unclipped leave-one-out residuals of the pool (derivations 6.8)",
    "lowertail": "exchangeability completed by a lower tail of the sample covariance: on "
                 "S_n/n + lam >= c (G + lam) the deviation |b_n - b_lam|_G^2 <= "
                 "|U|^2_(G+lam)^-1/(c n)^2, loss 4 off it; the event's probability simulated, c "
                 "the best of a grid (derivations 6.9)",
    "invmoment": "exchangeability completed by inverse moments of the whitened sample "
                 "covariance: E[R(b_lam) + 2 lam b_lam.(b_lam - b_n) + |U|^2_(G+lam)^-1/(n lmin)^2] "
                 "simulated jointly (derivations 6.9)",
}
#: thresholds c of the lower-tail event tried by the ``lowertail`` route (its best is taken)
LOWER_TAIL_C = tuple(np.round(np.linspace(0.02, 1.5, 75), 4))
#: a route counts as above eps at n when its simulated value exceeds eps by Z_FLOOR standard errors
Z_FLOOR = 2.0


def population_ridge(W, M, vs, lam: float) -> np.ndarray:
    """b_lam(v) = (G + lam)^-1 E[phi y] for each row v of ``vs`` (unit rows of W, G the
    arc-cosine Gram): E[y relu(w . x)] = (w . M v)/sqrt(2 pi) for y = sign(M v . x)
    (derivations 2.2). It minimises E (y - b . phi)^2 + lam |b|^2, the population form of the
    probe's objective."""
    Wn = B.normalise_rows(np.asarray(W, dtype=float))
    G = B.arccos_kernel(Wn)
    h = Wn @ np.asarray(M, dtype=float) @ np.atleast_2d(vs).T / math.sqrt(2 * math.pi)
    return np.linalg.solve(G + lam * np.eye(len(G)), h).T


def split_value(r2: np.ndarray, h: np.ndarray) -> tuple[float, float]:
    """(min over alpha >= 1 of alpha mean(r2) + mean 4 (1 - alpha (1-h)^2)_+, the minimiser).
    The objective is convex in alpha (linear plus a positive part of a linear function), so a
    bounded scalar minimisation over log alpha finds its minimum; alpha = 1 is also tried."""
    er2, c = float(np.mean(r2)), (1 - np.asarray(h)) ** 2

    def f(la):
        a = math.exp(la)
        return a * er2 + 4 * float(np.mean(np.maximum(1 - a * c, 0.0)))

    res = minimize_scalar(f, bounds=(0.0, math.log(1e6)), method="bounded",
                          options={"xatol": 1e-10})
    best = min((f(0.0), 0.0), (float(res.fun), float(res.x)))
    return best[0], math.exp(best[1])


def lower_tail_terms(F, y, b_lam, R_lam, G, lam: float, Wh=None) -> tuple[float, float, float]:
    """For the n-sample probe on features F (n x m) and labels y, penalty n lam, and the population
    ridge solution b_lam of its task (risk R_lam): (lmin, base, q) with lmin the smallest
    eigenvalue of (G + lam)^-1/2 (S_n/n + lam) (G + lam)^-1/2, base = R_lam + 2 lam b_lam.(b_lam -
    b_n) and q = |U|^2_{(G+lam)^-1}/n^2, U = F^T y - (S_n + n lam) b_lam = A (b_n - b_lam). Exactly
    R(b_n) = base + |b_n - b_lam|_G^2, and on {lmin >= c} the last term is <= q / c^2
    (derivations 6.9). ``Wh``: (G + lam)^-1/2 when the caller has it (``whitener``)."""
    n, m = F.shape
    I = np.eye(m)
    S = F.T @ F
    A = S + n * lam * I
    b_n = np.linalg.solve(A, F.T @ y)
    U = F.T @ y - A @ b_lam
    if Wh is None:
        Wh = whitener(G, lam)
    lmin = float(np.linalg.eigvalsh(Wh @ (S / n + lam * I) @ Wh)[0])
    base = float(R_lam + 2 * lam * b_lam @ (b_lam - b_n))
    q = float(np.sum((Wh @ U) ** 2)) / n ** 2
    return lmin, base, q


def whitener(G, lam: float) -> np.ndarray:
    """(G + lam)^-1/2 (symmetric), from the eigendecomposition of G + lam."""
    ev, V = np.linalg.eigh(G + lam * np.eye(len(G)))
    return (V / np.sqrt(ev)) @ V.T


def lower_tail_value(lmin, base, q, cs=LOWER_TAIL_C) -> tuple[float, float, float]:
    """The ``lowertail`` route at one n from per-repetition (lmin, base, q): the smallest over the
    thresholds ``cs`` of mean(1{lmin >= c} (base + q/c^2) + 4 1{lmin < c}); returns (value, its
    standard error over the repetitions, c). The minimum of noisy means is biased low, which only
    lowers the floor."""
    lmin, base, q = (np.asarray(a, dtype=float) for a in (lmin, base, q))
    best = None
    for c in cs:
        per = np.where(lmin >= c, base + q / c ** 2, 4.0)
        v = float(np.mean(per))
        if best is None or v < best[0]:
            best = (v, float(np.std(per, ddof=1) / math.sqrt(len(per))), float(c))
    return best


def route_curves(W, M, grid, lam: float, reps: int, seed: int, n_test: int = 20000) -> dict:
    """Per n of ``grid``: the clipped risk of the probe (leave-one-out on the pool, unbiased for
    E R(clip f_n)) and the value of each route of ROUTES, each with its standard error over the
    ``reps`` independent repetitions (key + '_se'); 'dev' is E |b_n - b_lam|_G^2, 'clip_floor'
    E_v R(clip b_lam) and 'lowertail_c' the best threshold of the lower-tail route per n. Draws,
    in this order from one generator: the reps tasks v; per task, n_test test points for the
    floor; then per n and per task a pool of n + 1 samples (the same v at every n: common random
    numbers; the n-sample probe of the lowertail and invmoment routes is the pool's first n)."""
    if reps < 2 or not grid or min(grid) < 1:
        raise ValueError("route_curves needs reps >= 2 and a grid of positive sample sizes")
    rng = np.random.default_rng(seed)
    Wn = B.normalise_rows(np.asarray(W, dtype=float))
    M = np.asarray(M, dtype=float)
    d = M.shape[0]
    G = B.arccos_kernel(Wn)
    vs = rng.standard_normal((reps, M.shape[1]))
    vs /= np.linalg.norm(vs, axis=1, keepdims=True)
    b_lam = population_ridge(Wn, M, vs, lam)
    floor = []
    for v, b in zip(vs, b_lam):
        X = rng.standard_normal((n_test, d))
        y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
        floor.append(float(np.mean((y - np.clip(np.maximum(X @ Wn.T, 0.0) @ b, -1, 1)) ** 2)))
    Fl, Fl_se = float(np.mean(floor)), float(np.std(floor, ddof=1) / math.sqrt(reps))
    hv = Wn @ M @ vs.T / math.sqrt(2 * math.pi)          # E[y phi] per task (columns)
    R_lam = 1 - 2 * np.einsum("ij,ji->i", b_lam, hv) + np.einsum("ij,jk,ik->i", b_lam, G, b_lam)
    Wh = whitener(G, lam)
    keys = ("clipped", "loo", "split", "lipschitz", "exchange", "lowertail", "invmoment")
    out = {"n": list(grid), "clip_floor": Fl, "dev": [], **{k: [] for k in keys},
           **{k + "_se": [] for k in keys}}

    def add(key, per_rep):
        out[key].append(float(np.mean(per_rep)))
        out[key + "_se"].append(float(np.std(per_rep, ddof=1) / math.sqrt(len(per_rep))))

    for n in grid:
        clipped, min4, r2, hs, dev, e2, lt = [], [], [], [], [], [], []
        for v, b, Rl in zip(vs, b_lam, R_lam):
            X = rng.standard_normal((n + 1, d))
            y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
            F = np.maximum(X @ Wn.T, 0.0)
            st = pool_stats(F, y, lam)
            e = st["e"]
            clipped.append(float(np.mean((y - np.clip(y - e, -1, 1)) ** 2)))
            min4.append(float(np.mean(np.minimum(4.0, e ** 2))))
            e2.append(float(np.mean(e ** 2)))
            r2.append(st["r"] ** 2)
            hs.append(st["h"])
            dv = st["b_n"] - b
            dev.append(float(dv @ G @ dv))
            lt.append(lower_tail_terms(F[:n], y[:n], b, Rl, G, lam, Wh))
        add("clipped", clipped)
        add("loo", min4)
        add("exchange", e2)
        _, alpha = split_value(np.concatenate(r2), np.concatenate(hs))
        add("split", [alpha * float(np.mean(a)) + 4 * float(np.mean(np.maximum(
            1 - alpha * (1 - h) ** 2, 0.0))) for a, h in zip(r2, hs)])
        lmin, base, q = (np.array(a) for a in zip(*lt))
        # capped at 4 per repetition: a smaller mean, so still a floor, with a finite spread
        # (q / lmin^2 is heavy-tailed at small n)
        add("invmoment", np.minimum(base + q / lmin ** 2, 4.0))
        val, se, c = lower_tail_value(lmin, base, q)
        out["lowertail"].append(val)
        out["lowertail_se"].append(se)
        out.setdefault("lowertail_c", []).append(c)
        D, D_se = float(np.mean(dev)), float(np.std(dev, ddof=1) / math.sqrt(reps))
        val = (math.sqrt(Fl) + math.sqrt(D)) ** 2
        out["dev"].append(D)
        out["lipschitz"].append(val)
        # delta method: d val/dF = (sqrt F + sqrt D)/sqrt F, and likewise for D
        out["lipschitz_se"].append((math.sqrt(Fl) + math.sqrt(D)) * math.sqrt(
            Fl_se ** 2 / Fl + (D_se ** 2 / D if D > 0 else 0.0)))
    return out


def route_ceilings(W, M, grid, lam: float, eps: float, reps: int, seed: int) -> list[dict]:
    """For each route of ROUTES: ``n``, the largest grid n up to which the route stays above eps
    by Z_FLOOR standard errors at every grid point (every bound along the route needs more than n
    samples); ``n_star``, the probe's n* on the same draws (log-interpolated crossing of the
    clipped curve); ``slack`` = n / n_star; ``crossing``, the route's own interpolated crossing
    (a point estimate, None beyond the grid); ``censored``: 'left' when the route is not above
    eps even at grid[0] (no floor: n and slack None), 'right' when it stays above eps on the
    whole grid (n = grid[-1], the floor is at least that)."""
    grid = sorted(grid)
    c = route_curves(W, M, grid, lam, reps, seed)
    n_star, cens_star = crossing_status(grid, c["clipped"], eps)
    star_ok = cens_star is None
    out = []
    for name, what in ROUTES.items():
        above = [v - Z_FLOOR * s > eps for v, s in zip(c[name], c[name + "_se"])]
        k = above.index(False) if False in above else len(grid)
        n = grid[k - 1] if k > 0 else None
        cross = crossing_status(grid, c[name], eps)[0]
        out.append({"route": name, "n": n,
                    "slack": n / n_star if n is not None and star_ok else None,
                    "n_star": n_star if star_ok else None,
                    "crossing": cross if math.isfinite(cross) else None,
                    "censored": "left" if k == 0 else "right" if k == len(grid) else None,
                    "what": what})
    return out
