"""T12 (docs/derivations.md 12) and its uses in section 9.9: the fourth central moment of a squared
norm of a sum of independent vectors. Every inequality is checked against exact moments (finite
distributions enumerated, Gaussian closed forms) or Monte Carlo on the summands of section 9."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mtlcheck.theory import eout_bound as E
from mtlcheck.theory.relu_blocks import gram_lmax_bound, gram_sq_trace_bound
from mtlcheck.theory.tails import fourth_moment_dev, sqnorm_fourth_moment


def _exact(sups, probs):
    """Constants of T12 and the exact moments of D, U, Z = D + 2U for independent summands with
    finite laws (support rows ``sups[k]``, probabilities ``probs[k]``, centred), by enumeration."""
    N, dim = len(sups), sups[0].shape[1]
    Cs = [np.einsum("k,ka,kb->ab", p, X, X) for X, p in zip(sups, probs)]
    ang = np.linspace(0, 2 * np.pi, 3601)[:-1]
    per = []
    for X, p, C in zip(sups, probs, Cs):
        n2 = (X ** 2).sum(1)
        t = p @ n2
        if dim == 2:      # sup_u E(u.xi)^4 on a fine circle grid, 1% over (a trig polynomial)
            U = np.stack([np.cos(ang), np.sin(ang)], 1)
            w = (p[:, None] * (X @ U.T) ** 4).sum(0).max() * 1.01
        else:             # dim 1: exact; E(u.xi)^4 <= E|xi|^4 in general
            w = p @ n2 ** 2
        per.append(dict(c=np.linalg.eigvalsh(C).max(), tau=np.trace(C), m4=p @ n2 ** 2, w=w,
                        d4=p @ (n2 - t) ** 4, s2=p @ (n2 - t) ** 2))
    L = np.linalg.eigvalsh(sum(Cs)).max()
    F2 = sum(np.trace(Cs[k] @ Cs[l]) for k in range(N) for l in range(N) if k != l)
    const = {k: max(q[k] for q in per) for k in per[0]}
    means = [p @ (X ** 2).sum(1) for X, p in zip(sups, probs)]
    mom = dict.fromkeys(["Z4", "Z2", "U4", "D4", "D3U", "D2U2", "DU3"], 0.0)
    for idx in itertools.product(*[range(len(p)) for p in probs]):
        pr = np.prod([probs[k][i] for k, i in enumerate(idx)])
        xs = [sups[k][i] for k, i in enumerate(idx)]
        D = sum(xs[k] @ xs[k] - means[k] for k in range(N))
        U = sum(xs[k] @ xs[l] for k in range(N) for l in range(k + 1, N))
        Z = D + 2 * U
        for key, val in (("Z4", Z ** 4), ("Z2", Z * Z), ("U4", U ** 4), ("D4", D ** 4),
                         ("D3U", D ** 3 * U), ("D2U2", D * D * U * U), ("DU3", D * U ** 3)):
            mom[key] += pr * val
    return const, L, F2, mom


def _check(const, L, F2, mom, N):
    b = sqnorm_fourth_moment(N, L=L, F2=F2, **const)
    P = b["parts"]
    ratios = {"Z4": mom["Z4"] / b["E4"], "U4": mom["U4"] / b["EU4"], "D4": mom["D4"] / b["ED4"],
              "D3U": abs(mom["D3U"]) / P["ED3U"], "D2U2": mom["D2U2"] / P["ED2U2"],
              "DU3": abs(mom["DU3"]) / P["EDU3"], "var": mom["Z2"] / b["var"]}
    for k, v in ratios.items():
        assert v <= 1 + 1e-9, (k, v, N)
    return ratios


def test_t12_against_exact_moments_of_finite_laws():
    """Every piece of T12 (E D^4, E U^4, the three mixed moments, E Z^4, Var Z) against the exact
    moments of sums of independent centred vectors with finite laws: i.i.d. two- and three-point
    laws (skewed, where the non-Gaussian configurations weigh most) and non-identical ones.
    Ratios reach 0.9-1.0 on some of these (the bounds are nearly attained), none exceeds 1."""
    rng = np.random.default_rng(12)
    top = {}
    for it in range(160):
        dim = int(rng.integers(1, 3))
        K = 2 if rng.random() < 0.6 else 3
        N = int(rng.integers(2, 9 if K == 2 else 6))
        sups, probs = [], []
        for k in range(N if it % 3 == 2 else 1):
            X = rng.standard_normal((K, dim)) * rng.uniform(0.2, 2, size=(1, dim))
            if rng.random() < 0.5:
                X[0] *= rng.uniform(2, 10)
            p = rng.dirichlet(np.ones(K) * rng.uniform(0.2, 2))
            sups.append(X - p @ X)
            probs.append(p)
        if len(sups) == 1:
            sups, probs = sups * N, probs * N
        for k, v in _check(*_exact(sups, probs), N).items():
            top[k] = max(top.get(k, 0.0), v)
    # the bounds are not vacuous: some instance comes within 25% of each of the main pieces
    assert top["Z4"] > 0.75 and top["U4"] > 0.75 and top["D2U2"] > 0.75, top


def test_t12_gaussian_sum_against_the_closed_form():
    """For Gaussian summands Z = |S|^2 - tr Sigma has E Z^4 = 12 (tr Sigma^2)^2 + 48 tr Sigma^4
    (cumulants 2^(j-1) (j-1)! tr Sigma^j); with many summands T12 lies within its 4-cycle term
    of it: tr Sigma^4 <= ||Sigma||^2 tr Sigma^2 costs at most 4 ||C||^2/tr C^2 of the leading
    term (0.7 for this spectrum), the other configurations a few per cent."""
    rng = np.random.default_rng(5)
    dim, N = 20, 400
    A = rng.standard_normal((dim, 4 * dim))
    C = A @ A.T / (4 * dim)
    t2, t4 = np.trace(C @ C), np.trace(np.linalg.matrix_power(C, 4))
    c, tr = np.linalg.eigvalsh(C).max(), np.trace(C)
    Sig = N * C
    exact = 12 * np.trace(Sig @ Sig) ** 2 + 48 * np.trace(np.linalg.matrix_power(Sig, 4))
    b = sqnorm_fourth_moment(N, c, tr, tr * tr + 2 * t2, 3 * c * c,
                             12 * t2 * t2 + 48 * t4, 2 * t2, N * c, N * (N - 1) * t2)
    assert exact <= b["E4"] <= (1.05 + 4 * c * c / t2) * exact
    assert b["var"] == pytest.approx(2 * np.trace(Sig @ Sig))
    assert fourth_moment_dev(b["E4"], 0.01) == pytest.approx((b["E4"] / 0.01) ** 0.25)


def test_t12_rejects_bad_input():
    with pytest.raises(ValueError):
        sqnorm_fourth_moment(4, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        sqnorm_fourth_moment(4, 1.0, float("nan"), 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def test_centred_fourth_moment_of_a_nonnegative_variable():
    """9.9: for X >= 0 with mean mu, E(X - mu)^4 <= E X^4 + 2 mu^2 E X^2 - 3 mu^4 (E X^3 >=
    mu E X^2, Chebyshev's association inequality); exact moments of three laws."""
    laws = {"exponential": [math.factorial(j) for j in range(5)],
            "chi2_3": [1, 3, 15, 105, 945],            # E X^j for X = |g|^2, g in R^3
            "bernoulli_0.1": [1, 0.1, 0.1, 0.1, 0.1]}
    for name, mo in laws.items():
        mu = mo[1]
        central = mo[4] - 4 * mu * mo[3] + 6 * mu * mu * mo[2] - 3 * mu ** 4
        assert central <= mo[4] + 2 * mu * mu * mo[2] - 3 * mu ** 4 + 1e-12, name


def _unit_rows(rng, m, d, collinear=0.0):
    W = rng.standard_normal((m, d)) + collinear * rng.standard_normal((1, d)) * 3
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def test_relu_norm_moments_by_monte_carlo():
    """9.9c: E|relu(W0 x)|^4 and E|relu(W0 x)|^8 below relu_norm_moments(m, lambda_max(W0^T W0)),
    for spread and nearly collinear unit rows (Monte Carlo, 4e5 inputs; for collinear rows the
    fourth-moment bound is attained, 3 m^2/2, so the Monte Carlo mean may exceed it by noise)."""
    rng = np.random.default_rng(7)
    for m, d, col in ((8, 6, 0.0), (8, 6, 3.0), (16, 32, 0.0), (5, 3, 10.0)):
        W0 = _unit_rows(rng, m, d, col)
        Lam_S = float(np.linalg.eigvalsh(W0.T @ W0)[-1])
        b4, b8 = E.relu_norm_moments(m, Lam_S)
        X = rng.standard_normal((400_000, d))
        n2 = (np.maximum(X @ W0.T, 0) ** 2).sum(1)
        for q, bound in ((2, b4), (4, b8)):      # collinear rows attain b4: allow 4 SE
            v = n2 ** q
            assert v.mean() - 4 * v.std() / math.sqrt(len(v)) <= bound, (m, d, col, q)


def _heads(rng, T, m, one_task):
    H = rng.standard_normal((T, m))
    if one_task:                          # all of |H|^2 on one task, one sign: the worst case
        H[1:] = 0.0
        H[0] = np.abs(H[0])
    return H


def test_out_and_in_span_fourth_by_monte_carlo():
    """9.9a/b: the relative fourth central moments of |Y P|^2 and |N|^2 (given W0, the heads and
    the tasks; the bound is uniform over them) against Monte Carlo, with spread and nearly
    collinear gates and with the heads' mass on one task; the means are the exact ones of 4.3."""
    rng = np.random.default_rng(11)
    d, r, m, T, n2, reps = 6, 2, 3, 2, 6, 120_000
    fk = 1 / math.sqrt(2 * math.pi)
    o4 = E.out_span_fourth(d, r, n2)
    i4 = E.in_span_fourth(r, n2, fk)
    for col, one in ((0.0, False), (10.0, True), (10.0, False)):
        M = np.linalg.qr(rng.standard_normal((d, r)))[0]
        Pb = np.linalg.qr(np.hstack([M, rng.standard_normal((d, d - r))]))[0][:, r:]
        W0 = _unit_rows(rng, m, d, col)
        V = rng.standard_normal((T, r))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        H = _heads(rng, T, m, one)
        YP = np.zeros((reps, m, d - r))
        YM = np.zeros((reps, m, r))
        for t in range(T):
            X = rng.standard_normal((reps, n2, d))
            y = np.sign(X @ (M @ V[t]))
            g = (X @ W0.T > 0) * H[t] * y[..., None]
            YP += np.einsum("kni,knj->kij", g, X @ Pb)
            YM += np.einsum("kni,knj->kij", g, X @ M)
        h2 = float((H * H).sum())
        mu_o = n2 * h2 * (d - r) / 2
        Zo = (YP ** 2).sum((1, 2)) / mu_o - 1
        assert abs(Zo.mean()) < 5 * Zo.std() / math.sqrt(reps)            # exact mean (4.3)
        assert np.mean(Zo ** 4) <= o4["E4"] and np.var(Zo) <= o4["var"] * 1.02
        c_r = r / 2 - fk * fk
        N = YM - n2 * fk * np.einsum("ti,tj->ij", H, V)[None]
        Zi = (N ** 2).sum((1, 2)) / (n2 * h2 * c_r) - 1
        assert abs(Zi.mean()) < 5 * Zi.std() / math.sqrt(reps)
        assert np.mean(Zi ** 4) <= i4["E4"] and np.var(Zi) <= i4["var"] * 1.02


def test_head_noise_fourth_by_monte_carlo():
    """9.9c: the fourth central moments of |E Q|^2 and |E|^2 (head noise given W0 and the tasks)
    against Monte Carlo, for spread and nearly collinear rows of W0; T12's inputs from the exact
    lambda_max(W0^T W0) through T7 and T7b, as in the bound."""
    rng = np.random.default_rng(13)
    d, r, m, T, n1, reps = 5, 2, 4, 3, 4, 100_000
    fk = 1 / math.sqrt(2 * math.pi)
    for col in (0.0, 10.0):
        M = np.linalg.qr(rng.standard_normal((d, r)))[0]
        W0 = _unit_rows(rng, m, d, col)
        V = rng.standard_normal((T, r))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        Q = np.linalg.qr(V)[0]
        Lam_S = float(np.linalg.eigvalsh(W0.T @ W0)[-1])
        h4 = E.head_noise_fourth(m, n1, T, r, fk, gram_lmax_bound(Lam_S, m),
                                 gram_sq_trace_bound(Lam_S, m), Lam_S)
        Em = np.zeros((reps, m, T))
        for t in range(T):
            u = M @ V[t]
            X = rng.standard_normal((reps, n1, d))
            xi = np.sign(X @ u)[..., None] * np.maximum(X @ W0.T, 0)
            Em[:, :, t] = xi.mean(1) - fk * (W0 @ u)
        eq = (np.einsum("kmt,tr->kmr", Em, Q) ** 2).sum((1, 2))
        ee = (Em ** 2).sum((1, 2))
        for z, E4, var in ((eq, h4["E4_Q"], h4["var_Q"]), (ee, h4["E4_E"], h4["var_E"])):
            zc = z - z.mean()
            assert np.mean(zc ** 4) <= E4 and np.var(zc) <= var


def test_fourth_moment_tails_shrink_with_n2_and_lower_the_bound():
    """9.9: the relative fourth moments of |Y P|^2 and |N|^2 decrease in n2 (so N does not
    increase and I_amp increases in n2 with the new tails too, the structural facts of 9.5), and
    the bound with the fourth-moment tails is never above the Cantelli-only one."""
    fk = 1 / math.sqrt(2 * math.pi)
    for d, r in ((32, 2), (16, 3), (64, 8)):
        o = [E.out_span_fourth(d, r, n)["E4"] for n in (16, 64, 256, 1024, 4096)]
        i = [E.in_span_fourth(r, n, fk)["E4"] for n in (16, 64, 256, 1024, 4096)]
        assert all(a > b for a, b in zip(o, o[1:])) and all(a > b for a, b in zip(i, i[1:]))
    for cfg in [(32, 2, 64, 256, 256, 64), (16, 2, 2048, 2048, 2048, 256), (24, 3, 32, 64, 64, 16)]:
        w = E.HP_TIGHT_WEIGHTS
        assert E.e_out_hp_bound_tight(*cfg, 0.05, weights=w) <= \
            E.e_out_hp_bound_tight(*cfg, 0.05, weights=w, fourth=False)


def test_t12_single_task_worst_case_bounds_spread_heads():
    """9.9: T12 with n identical summands at the per-unit constants (|a| = 1, L = n c,
    F2 = n c . n tau, as `out_span_fourth` uses it) bounds E Z^4 for summands a_t xi_tj spread
    over tasks with sum_t a_t^2 = 1 (every sum T12 needs is of powers >= 2 of |a_t|); exact
    moments of enumerated two-point laws."""
    rng = np.random.default_rng(21)
    worst = 0.0
    for _ in range(120):
        dim = int(rng.integers(1, 3))
        X = rng.standard_normal((2, dim)) * rng.uniform(0.3, 3, size=(1, dim))
        p = rng.dirichlet(np.ones(2) * rng.uniform(0.2, 2))
        X = X - p @ X
        T, n = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        a = rng.standard_normal(T)
        a /= np.linalg.norm(a)
        sups = [a[t] * X for t in range(T) for _ in range(n)]
        _, _, _, mom = _exact(sups, [p] * len(sups))
        const, _, _, _ = _exact([X], [p])          # per-unit constants of xi (|a| = 1)
        b = sqnorm_fourth_moment(n, L=n * const["c"], F2=n * const["c"] * n * const["tau"],
                                 **const)
        worst = max(worst, mom["Z4"] / b["E4"])
        assert mom["Z4"] <= b["E4"] * (1 + 1e-9) and mom["Z2"] <= b["var"] * (1 + 1e-9)
    assert worst > 0.3, worst


def test_w0_sums_and_the_gram_trace_by_monte_carlo():
    """9.9d: the T12 inputs of S1 = |sum_i w_i|^2 and S2 = |W0^T W0|_F^2 for i.i.d. uniform unit
    rows, checked by Monte Carlo (the fourth central moments lie below T12's, the (1 - delta/2)
    quantiles below S1_hi and S2_hi); tr(Gram^2) (the exact arc-cosine Gram) below
    gram_sq_trace_from_sums at the exact sums, for spread and nearly collinear rows; and
    relu_norm_moments with the exact S2 above the Monte Carlo moments."""
    from mtlcheck.theory.population import arccos_kernel
    rng = np.random.default_rng(17)
    for d, m in ((8, 12), (32, 64)):
        reps = 20000
        W = rng.standard_normal((reps, m, d))
        W /= np.linalg.norm(W, axis=2, keepdims=True)
        S1 = (W.sum(1) ** 2).sum(1)
        G = np.einsum("kid,kjd->kij", W, W)
        S2 = (G ** 2).sum((1, 2))
        delta = 0.02
        s1_hi, s2_hi = E.w0_sums_upper(d, m, delta)
        assert np.quantile(S1, 1 - delta / 2) <= s1_hi and np.quantile(S2, 1 - delta / 2) <= s2_hi
        assert abs(S1.mean() - m) < 5 * S1.std() / math.sqrt(reps)
        assert abs(S2.mean() - (m * m / d + m * (1 - 1 / d))) < 5 * S2.std() / math.sqrt(reps)
        r1 = sqnorm_fourth_moment(m, 1.0 / d, 1.0, 1.0, 3.0 / (d * (d + 2)), 0.0, 0.0, m / d,
                                  m * (m - 1) / d)
        assert np.mean((S1 - m) ** 4) <= r1["E4"]
    for col in (0.0, 0.5, 10.0):
        W0 = _unit_rows(rng, 16, 6, col)
        Gram = arccos_kernel(W0)
        s1 = float((W0.sum(0) ** 2).sum())
        s2 = float(((W0 @ W0.T) ** 2).sum())
        assert float((Gram ** 2).sum()) <= E.gram_sq_trace_from_sums(16, s1, s2) * (1 + 1e-12)
        Lam_S = float(np.linalg.eigvalsh(W0.T @ W0)[-1])
        b4, b8 = E.relu_norm_moments(16, Lam_S, s2)
        X = rng.standard_normal((400_000, 6))
        n2 = (np.maximum(X @ W0.T, 0) ** 2).sum(1)
        for q, bound in ((2, b4), (4, b8)):
            v = n2 ** q
            assert v.mean() - 4 * v.std() / math.sqrt(len(v)) <= bound, (col, q)
