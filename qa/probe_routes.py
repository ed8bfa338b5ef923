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
- ``holder`` (derivations 6.10): ``invmoment`` with q and lmin separated by Hoelder's inequality,
  E[q lmin^-2] <= (E q^p)^(1/p) (E lmin^(-2p/(p-1)))^((p-1)/p), the moments simulated and p the
  best of HOLDER_P; min(4, E base + that). Every bound that finishes step 3 by Hoelder with p in
  HOLDER_P and moments of q and of lmin (the form inverse-moment inequalities have) is at least
  this. (The least that any bound using only the two marginal laws can give is the comonotone
  value, mean(sort(q) sort(lmin^-2)), a little lower; derivations 6.10 measures the gap.)
- ``projection`` (derivations 6.10): clipping is the projection onto [-1, 1], which holds y, so
  (y - clip f)^2 <= (y - f)^2 - dist(f, [-1, 1])^2 pointwise; dist is 1-Lipschitz, so by Minkowski
  in L2 over the test point E_x dist(f_n, [-1,1])^2 >= (sqrt(D) - sqrt(dev))_+^2 with D =
  E_x dist(f_lam, [-1,1])^2 and dev = |b_n - b_lam|_G^2. With R(f_n) = base + dev (6.9, step 1):
  E R(clip f_n) <= E[base + dev - (sqrt(D) - sqrt(dev))_+^2], D and dev simulated (dev exact
  given the draw). The route keeps most of the benefit of clipping (R(b_lam) - D is the clipped
  floor) without a triangle inequality on the risk; every bound along it is at least this.
- ``projinv`` (derivations 6.10): ``projection`` finished by step 3 of 6.9, dev <= q / lmin^2
  (the value is increasing in dev), jointly simulated; every bound that finishes the projection
  route through step 3 is at least this.
- ``projholder`` (derivations 6.10): ``projinv`` in the form a bound takes. The value per
  repetition, base + Gamma_D(q / lmin^2) with Gamma_D(x) = x - (sqrt(D) - sqrt(x))_+^2 concave, is
  at most its tangent at t, base + Gamma_D(t) + Gamma_D'(t) (q / lmin^2 - t), surely; the mean of
  Gamma_D'(t) q / lmin^2 is then separated by Hoelder as in ``holder``. t is one point of PROJ_T
  for every task or t_v = s D_v with s in PROJ_S, p one of HOLDER_P, the best taken. Every bound
  that finishes the projection route through such a tangent and Hoelder is at least this.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from ..checks.complexity import crossing_status
from ..theory import bounds as B
from ..theory.probe_bound import pool_stats

__all__ = ["ROUTES", "Z_FLOOR", "LOWER_TAIL_C", "HOLDER_P", "PROJ_T", "PROJ_S",
           "population_ridge", "split_value", "lower_tail_terms", "whitener", "lower_tail_value",
           "holder_value", "projection_value", "projholder_value", "route_curves",
           "route_ceilings"]

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
                 "covariance: E[R(b_lam) + 2 lam b_lam.(b_lam - b_n) + "
                 "|U|^2_(G+lam)^-1/(n lmin)^2] simulated jointly (derivations 6.9)",
    "holder": "invmoment with q and lmin separated by Hoelder at the best p: E base + "
              "(E q^p)^(1/p) (E lmin^(-2p/(p-1)))^((p-1)/p), moments simulated (derivations "
              "6.10)",
    "projection": "clip as the projection onto [-1, 1] + Minkowski on the distance: E[base + dev "
                  "- (sqrt(D) - sqrt(dev))_+^2], D = E dist(f_lam, [-1,1])^2, dev = |b_n - "
                  "b_lam|_G^2 simulated (derivations 6.10)",
    "projinv": "projection finished by step 3 of 6.9 (dev <= |U|^2_(G+lam)^-1/(n lmin)^2), "
               "simulated jointly (derivations 6.10)",
    "projholder": "projinv through a tangent of its concave Gamma_D at the best t (common, or "
                  "proportional to D) and Hoelder at the best p, moments simulated (derivations "
                  "6.10)",
}
#: thresholds c of the lower-tail event tried by the ``lowertail`` route (its best is taken)
LOWER_TAIL_C = tuple(np.round(np.linspace(0.02, 1.5, 75), 4))
#: exponents p tried by the ``holder`` route (its best is taken)
HOLDER_P = (1.1, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0)
#: tangent points t of the ``projholder`` route (its best is taken)
PROJ_T = tuple(float(x) for x in np.geomspace(1e-3, 0.3, 31))
#: tangent points t_v = s D_v, proportional to each task's D, of the ``projholder`` route
PROJ_S = tuple(float(x) for x in np.geomspace(0.02, 5.0, 25))
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


def holder_value(lmin, base, q, ps=HOLDER_P) -> tuple[float, float, float]:
    """The ``holder`` route at one n from per-repetition (lmin, base, q): the smallest over the
    exponents ``ps`` of min(4, mean(base) + mean(q^p)^(1/p) mean(lmin^(-2p'))^(1/p')), p' =
    p/(p-1); returns (value, its standard error by the delta method over the repetitions, p).
    Hoelder holds on the empirical law, so the value is at least mean(min(4, base + q/lmin^2)),
    the ``invmoment`` value; the minimum over p of noisy values is biased low, which only lowers
    the floor."""
    lmin, base, q = (np.asarray(a, dtype=float) for a in (lmin, base, q))
    k = len(base)
    best = None
    for p in ps:
        pp = p / (p - 1)
        a, b = q ** p, lmin ** (-2 * pp)
        Ea, Eb = float(np.mean(a)), float(np.mean(b))
        prod = Ea ** (1 / p) * Eb ** (1 / pp)
        v = float(np.mean(base)) + prod
        # influence of each repetition on mean(base) + Ea^(1/p) Eb^(1/p')
        infl = (base - np.mean(base)) + prod * ((a - Ea) / (p * Ea) + (b - Eb) / (pp * Eb))
        se = float(np.std(infl, ddof=1) / math.sqrt(k))
        if v >= 4.0:
            v, se = 4.0, 0.0
        if best is None or v < best[0]:
            best = (v, se, float(p))
    return best


def projection_value(base, D, dev) -> np.ndarray:
    """The ``projection`` route per repetition: base + dev - (sqrt(D) - sqrt(dev))_+^2, capped
    at 4 (derivations 6.10). It is increasing in dev (derivative 1 beyond D, sqrt(D/dev) >= 1
    below), so an upper bound on dev gives an upper bound on the value."""
    base, D, dev = (np.asarray(a, dtype=float) for a in (base, D, dev))
    return np.minimum(base + dev - np.maximum(np.sqrt(D) - np.sqrt(dev), 0.0) ** 2, 4.0)


def projholder_value(lmin, base, q, D, ts=PROJ_T, ss=PROJ_S,
                     ps=HOLDER_P) -> tuple[float, float, str]:
    """The ``projholder`` route at one n from per-repetition (lmin, base, q, D): the smallest over
    the tangent points of ``holder_value`` applied to base + Gamma_D(t_v) - Gamma_D'(t_v) t_v and
    Gamma_D'(t_v) q, Gamma_D(x) = x - (sqrt(D) - sqrt(x))_+^2 (derivative max(1, sqrt(D/x))).
    The tangent points are one t of ``ts`` common to every task, or t_v = s D_v with s of ``ss``
    (Gamma_D(x) = D Gamma_1(x/D), so this is the same tangent of every task up to scale, with one
    slope max(1, 1/sqrt(s)) for all). Returns (value, standard error, 't=...' or 't=... D').
    Each tangent is above the concave Gamma_D, so every candidate is at least
    mean(min(4, base + Gamma_D(q/lmin^2))), the ``projinv`` value."""
    lmin, base, q, D = (np.asarray(a, dtype=float) for a in (lmin, base, q, D))
    cands = [(np.full_like(D, t), f"t={t:.4g}") for t in ts]
    cands += [(s * D + 1e-300, f"t={s:.4g} D") for s in ss]
    best = None
    for tv, label in cands:
        slope = np.maximum(1.0, np.sqrt(D / tv))
        gam = tv - np.maximum(np.sqrt(D) - np.sqrt(tv), 0.0) ** 2
        v, se, _ = holder_value(lmin, base + gam - slope * tv, slope * q, ps)
        if best is None or v < best[0]:
            best = (v, se, label)
    return best


def route_curves(W, M, grid, lam: float, reps: int, seed: int, n_test: int = 20000) -> dict:
    """Per n of ``grid``: the clipped risk of the probe (leave-one-out on the pool, unbiased for
    E R(clip f_n)) and the value of each route of ROUTES, each with its standard error over the
    ``reps`` independent repetitions (key + '_se'); 'dev' is E |b_n - b_lam|_G^2, 'clip_floor'
    E_v R(clip b_lam), 'dist_floor' E_v E_x dist(b_lam.phi, [-1, 1])^2 (the D of ``projection``),
    'lowertail_c', 'holder_p' and 'projholder_t' the best threshold, exponent and tangent point
    of those routes per n. Draws, in this order from one generator: the reps tasks v; per task,
    n_test test points for the floors; then per n and per task a pool of n + 1 samples (the same
    v at every n: common random numbers; the n-sample probe of the routes of 6.9-6.10 is the
    pool's first n)."""
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
    floor, dist = [], []
    for v, b in zip(vs, b_lam):
        X = rng.standard_normal((n_test, d))
        y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
        f = np.maximum(X @ Wn.T, 0.0) @ b
        floor.append(float(np.mean((y - np.clip(f, -1, 1)) ** 2)))
        dist.append(float(np.mean(np.maximum(np.abs(f) - 1.0, 0.0) ** 2)))
    Fl, Fl_se = float(np.mean(floor)), float(np.std(floor, ddof=1) / math.sqrt(reps))
    dist = np.array(dist)
    hv = Wn @ M @ vs.T / math.sqrt(2 * math.pi)          # E[y phi] per task (columns)
    R_lam = 1 - 2 * np.einsum("ij,ji->i", b_lam, hv) + np.einsum("ij,jk,ik->i", b_lam, G, b_lam)
    Wh = whitener(G, lam)
    keys = ("clipped", "loo", "split", "lipschitz", "exchange", "lowertail", "invmoment", "holder",
            "projection", "projinv", "projholder")
    out = {"n": list(grid), "clip_floor": Fl, "dist_floor": float(np.mean(dist)), "dev": [],
           "lowertail_c": [], "holder_p": [], "projholder_t": [], **{k: [] for k in keys},
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
        # dev is |b_n - b_lam|_G^2 of the same n-sample probe (pool_stats' b_n: the pool's first n)
        add("projection", projection_value(base, dist, np.array(dev)))
        add("projinv", projection_value(base, dist, q / lmin ** 2))
        for key, arg, (val, se, c) in (
                ("lowertail", "c", lower_tail_value(lmin, base, q)),
                ("holder", "p", holder_value(lmin, base, q)),
                ("projholder", "t", projholder_value(lmin, base, q, dist))):
            out[key].append(val)
            out[key + "_se"].append(se)
            out[key + "_" + arg].append(c)
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
