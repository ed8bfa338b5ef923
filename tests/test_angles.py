"""Angles and the closed forms built on them, against an independent 50-digit mpmath reference
at near-degenerate pairs: exactly parallel rows (the same direction at two norms, so that the
GEMM cosine of the normalised rows is 1 +- an ulp, depending on the BLAS kernel), antipodal rows,
and rows at angles 1e-4 .. 1e-12 from each other or from antipodal (docs/derivations.md 1.1).

Tolerances. The reference is the exact function of the float inputs. The float64 code first
normalises the rows (each coordinate rounded once, so a unit row's direction moves by at most
~sqrt(d) 2^-53 ~ 3e-16 for d <= 8) and then evaluates a closed form that is O(1)-conditioned in
the rows once the angle is taken by the half-angle form: every quantity below has derivatives of
order 1 in the angle and the rows (its entries are c0 = (pi - alpha)/(2 pi) and s c, s^2 with
s = sin(alpha), c = cos(alpha)), and goes through O(d + r) roundings of 2^-53 each. So the
expected error is ~(d + r) 1e-16 ~ 1e-15; the tests allow ABS = 1e-12 (a margin of ~1000x that no
reordering of a BLAS reduction can use up). The arccos route errs by ~1.5e-8 in the angle at a
parallel pair whose cosine rounded to 1 - 2^-53, i.e. by 2.4e-9 in c0: four orders of magnitude
beyond ABS.
"""
import math

import mpmath as mp
import numpy as np
import pytest
import torch

from mtlcheck.sim.metrics import principal_angles
from mtlcheck.sim.rf_population import arccos_gram, feature_correlation
from mtlcheck.theory import bounds as B
from mtlcheck.theory import relu_blocks as RB
from mtlcheck.theory.angles import pair_angles, vector_angle
from mtlcheck.theory.population import arccos_kernel, halfspace_kernel

DPS = 50
ABS = 1e-12          # see the module docstring: ~1000x the float64 error of a conditioned form
ANGLES = [1e-4, 1e-6, 1e-8, 1e-10, 1e-12]


def _rows(seed=0, d=6):
    """Rows of R^d with every near-degenerate relation: base rows, each exactly parallel copy
    at another norm (2x and 0.5x are exact in binary), an antipodal copy, and copies rotated by
    each angle of ANGLES (and by pi - angle) in a random plane."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((3, d))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    rows = [base[0], 2.0 * base[0], 0.5 * base[1], base[1], -base[2], 4.0 * base[2], base[2]]
    e = rng.standard_normal(d)
    e -= (e @ base[0]) * base[0]
    e /= np.linalg.norm(e)
    for t in ANGLES:
        rows.append(math.cos(t) * base[0] + math.sin(t) * e)
        rows.append(-(math.cos(t) * base[0] + math.sin(t) * e))
    return np.array(rows)


def _mp_unit(w):
    v = mp.matrix([mp.mpf(float(x)) for x in w])
    return v / mp.norm(v)


def _mp_angle(u, v):
    """The angle between the exact float vectors u, v, at DPS digits."""
    return 2 * mp.atan2(mp.norm(u - v), mp.norm(u + v))


def _mp_Q(w, w2):
    """Q = E[1{w.x>0} 1{w2.x>0} x x^T] = c0 I + U Kt U^T (derivations 9, T6), at DPS digits."""
    u, v = _mp_unit(w), _mp_unit(w2)
    d = len(w)
    a = _mp_angle(u, v)
    Q = (mp.pi - a) / (2 * mp.pi) * mp.eye(d)
    s, c = mp.sin(a), mp.cos(a)
    if s == 0:
        return Q
    e2 = (v - c * u) / s
    for (x, y, k) in ((u, u, s * c), (u, e2, s * s), (e2, u, s * s), (e2, e2, -s * c)):
        Q += (k / (2 * mp.pi)) * (x * y.T)
    return Q


def _mp_frob2(Q, Bm):
    """||Bm^T Q Bm||_F^2 with Bm a float matrix taken exactly."""
    Bmp = mp.matrix(Bm.tolist())
    X = Bmp.T * Q * Bmp
    return mp.fsum(X[i, j] ** 2 for i in range(X.rows) for j in range(X.cols))


def _mp_k1(w, w2):
    """E[relu(w.x) relu(w2.x)] = |w||w2| (sin a + (pi - a) cos a)/(2 pi) (derivations 2.7)."""
    a = _mp_angle(_mp_unit(w), _mp_unit(w2))
    nw = mp.norm(mp.matrix([mp.mpf(float(x)) for x in w]))
    nw2 = mp.norm(mp.matrix([mp.mpf(float(x)) for x in w2]))
    return nw * nw2 * (mp.sin(a) + (mp.pi - a) * mp.cos(a)) / (2 * mp.pi)


def test_pair_angles_match_50_digit_reference():
    W = _rows()
    Wn = B.normalise_rows(W)
    alpha, c, s = pair_angles(Wn)
    with mp.workdps(DPS):
        for i in range(len(W)):
            for j in range(len(W)):
                a = _mp_angle(_mp_unit(W[i]), _mp_unit(W[j]))
                assert abs(alpha[i, j] - float(a)) <= ABS, (i, j, alpha[i, j], a)
                assert abs(s[i, j] - float(mp.sin(a))) <= ABS
                assert abs(c[i, j] - float(mp.cos(a))) <= ABS
    # the parallel and antipodal pairs are exact, whatever the BLAS kernel rounds u.u to
    assert alpha[0, 1] == 0.0 and s[0, 1] == 0.0 and c[0, 1] == 1.0
    assert alpha[4, 5] == math.pi and c[4, 5] == -1.0
    assert np.all(np.diag(alpha) == 0.0)
    a1 = vector_angle(Wn[0], Wn[1])
    assert a1 == (0.0, 1.0, 0.0)


def test_block_frobenius_and_quadratic_match_50_digit_reference():
    W = _rows(seed=3, d=6)
    rng = np.random.default_rng(4)
    d, r, m = W.shape[1], 2, len(W)
    M = np.linalg.qr(rng.standard_normal((d, r)))[0]
    P = np.eye(d) - M @ M.T
    u = M @ np.array([0.6, 0.8])
    got = {(f, part): f(W, M, part) for f in (RB.q_blocks_frob2, RB.s_blocks_frob2)
           for part in ("in", "out")}
    quad = RB._q_quadratic(W, u)
    with mp.workdps(DPS):
        umps = mp.matrix(u.tolist())
        for i in range(m):
            for j in range(m):
                Q = _mp_Q(W[i], W[j])
                S_ = 4 * Q - mp.eye(d)
                for part, Bm in (("in", M), ("out", P)):
                    # scale of these sums: at most kdim (c0, |S| <= 1), ABS relative to it
                    tol = ABS * max(1.0, float(d))
                    ref_q, ref_s = _mp_frob2(Q, Bm), _mp_frob2(S_, Bm)
                    assert abs(got[(RB.q_blocks_frob2, part)][i, j] - float(ref_q)) <= tol, \
                        ("Q", part, i, j)
                    assert abs(got[(RB.s_blocks_frob2, part)][i, j] - float(ref_s)) <= tol, \
                        ("S", part, i, j)
                ref = (umps.T * Q * umps)[0, 0]
                assert abs(quad[i, j] - float(ref)) <= ABS, ("u^T Q u", i, j)
                # the single-pair matrix too
                Qf = RB.q_block(W[i] / np.linalg.norm(W[i]), W[j] / np.linalg.norm(W[j]))
                assert np.abs(Qf - np.array(Q.tolist(), dtype=float)).max() <= ABS


def test_arccos_and_halfspace_kernels_match_50_digit_reference():
    W = _rows(seed=5, d=5)
    K1 = arccos_kernel(W)
    K0 = arccos_kernel(W, degree=0)
    H = halfspace_kernel(W, W)
    G = arccos_gram(torch.as_tensor(W)).numpy()
    with mp.workdps(DPS):
        for i in range(len(W)):
            for j in range(len(W)):
                a = _mp_angle(_mp_unit(W[i]), _mp_unit(W[j]))
                k1 = float(_mp_k1(W[i], W[j]))
                scale = max(1.0, float(np.linalg.norm(W[i]) * np.linalg.norm(W[j])))
                assert abs(K1[i, j] - k1) <= ABS * scale, (i, j)
                assert abs(G[i, j] - k1) <= ABS * scale, (i, j)
                assert abs(K0[i, j] - float((mp.pi - a) / (2 * mp.pi))) <= ABS, (i, j)
                # (2/pi) arcsin(cos a) = 1 - 2 a / pi
                assert abs(H[i, j] - float(1 - 2 * a / mp.pi)) <= ABS, (i, j)


def test_feature_correlation_relu_target_at_parallel_and_near_parallel_rows():
    rng = np.random.default_rng(6)
    d, r = 6, 2
    M = np.linalg.qr(rng.standard_normal((d, r)))[0]
    u = M[:, 0]
    rows = [3.0 * u, -u] + [math.cos(t) * u + math.sin(t) * M[:, 1] for t in ANGLES]
    W = np.array(rows)
    b, err = feature_correlation(torch.as_tensor(W), torch.as_tensor(M), "relu")
    with mp.workdps(DPS):
        for i, w in enumerate(W):
            ref = float(_mp_k1(w, u))
            assert abs(float(b[i]) - ref) <= ABS * max(1.0, float(np.linalg.norm(w))), i


@pytest.mark.parametrize("t", [0.0] + ANGLES + [0.3, 1.2])
def test_principal_angles_small_angles_are_accurate(t):
    """W's rows span a plane rotated by t out of span(M) in one direction: the largest principal
    angle is t (acos of the cosine 1 - t^2/2 rounds to 0 for t < 1e-8; the sines keep it)."""
    rng = np.random.default_rng(7)
    d = 8
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    M = Q[:, :2]
    w1 = Q[:, 0]
    w2 = math.cos(t) * Q[:, 1] + math.sin(t) * Q[:, 2]
    W = np.array([w1, w2, w1 + w2, 2 * w1 - w2])
    ang = principal_angles(torch.as_tensor(W), torch.as_tensor(M))
    # SVD + svdvals: error ~ d 2^-53 sigma_1/sigma_r ~ 3e-15 (measured 1.5e-15); 1e-13 leaves
    # 30x and is still 10x below the t = 1e-12 case that acos of the cosine gets wrong by t
    assert ang[0] == pytest.approx(0.0, abs=1e-13)
    assert ang[1] == pytest.approx(t, abs=1e-13)


def test_exactly_parallel_and_antipodal_rows_give_the_exact_blocks():
    """32 directions, each at three norms and negated: whatever the BLAS kernel rounds the
    cosine of two copies to (1, or 1 - 2^-53 for some directions), the angle is exactly 0 or pi,
    so Q = I/2 (alpha = 0) or 0 (alpha = pi), S = +-I, and the Frobenius sums are r/4, r, d - r."""
    rng = np.random.default_rng(8)
    d, r, k = 6, 2, 32
    base = rng.standard_normal((k, d))
    W = np.concatenate([base, 2.0 * base, 0.5 * base, -base])
    M = np.linalg.qr(rng.standard_normal((d, r)))[0]
    same = np.equal.outer(np.arange(4 * k) % k, np.arange(4 * k) % k)
    anti = same & np.not_equal.outer(np.arange(4 * k) < 3 * k, np.arange(4 * k) < 3 * k)
    par = same & ~anti
    q_in = RB.q_blocks_frob2(W, M, "in")
    s_in = RB.s_blocks_frob2(W, M, "in")
    s_out = RB.s_blocks_frob2(W, M, "out")
    K0 = arccos_kernel(W, degree=0)
    H = halfspace_kernel(W, W)
    # exact values at alpha = 0 and alpha = pi; ABS as in the module docstring
    assert np.abs(q_in[par] - r / 4).max() <= ABS
    assert np.abs(q_in[anti]).max() <= ABS
    assert np.abs(s_in[same] - r).max() <= ABS
    assert np.abs(s_out[same] - (d - r)).max() <= ABS
    assert np.abs(K0[par] - 0.5).max() <= ABS and np.abs(K0[anti]).max() <= ABS
    assert np.abs(H[par] - 1.0).max() <= ABS and np.abs(H[anti] + 1.0).max() <= ABS
