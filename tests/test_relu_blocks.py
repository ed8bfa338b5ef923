"""Tests of theory/relu_blocks.py (docs/derivations.md section 12, T6, T7, T7b): the two-halfspace
moments against Monte Carlo and explicit matrices, and the Gram bounds on random and nearly
collinear rows. Single-threaded."""
import math

import numpy as np
import pytest

from mtlcheck.theory import relu_blocks as RB
from mtlcheck.theory.lemmas import certify
from mtlcheck.theory.population import arccos_kernel


def _unit(rng, k, d):
    W = rng.standard_normal((k, d))
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def test_two_halfspace_moments_match_monte_carlo():
    rng = np.random.default_rng(1)
    d, N = 5, 400_000
    X = rng.standard_normal((N, d))
    for c in (0.9, 0.2, -0.6):
        w = np.eye(d)[0]
        w2 = c * w + math.sqrt(1 - c * c) * np.eye(d)[1]
        R = rng.standard_normal((d, d))
        Qr = np.linalg.qr(R)[0]                      # a random rotation of the pair
        w, w2 = Qr @ w, Qr @ w2
        D = ((X @ w > 0) & (X @ w2 > 0)).astype(float)
        Qmc = (X * D[:, None]).T @ X / N
        s = np.sign(X @ w) * np.sign(X @ w2)
        Smc = (X * s[:, None]).T @ X / N
        assert np.abs(Qmc - RB.q_block(w, w2)).max() < 0.01
        assert np.abs(Smc - RB.s_block(w, w2)).max() < 0.015


def test_block_frobenius_arrays_match_explicit_matrices():
    rng = np.random.default_rng(2)
    d, r, m = 7, 2, 6
    W0 = _unit(rng, m, d)
    W0[3] = W0[1]                                    # a parallel pair
    W0[4] = -W0[2]                                   # an antipodal pair
    M = np.linalg.qr(rng.standard_normal((d, r)))[0]
    P = np.eye(d) - M @ M.T
    u = M @ np.array([0.6, 0.8])
    for part, Bm in (("in", M), ("out", P)):
        q = RB.q_blocks_frob2(W0, M, part)
        s = RB.s_blocks_frob2(W0, M, part)
        for i in range(m):
            for j in range(m):
                Qij = RB.q_block(W0[i], W0[j])
                Sij = RB.s_block(W0[i], W0[j])
                # both sides are O(1)-conditioned float64 forms of the same matrix (derivations
                # 1.1); values <= d, errors ~ d^2 2^-53 from the products: 1e-12 * d is ~100x
                assert q[i, j] == pytest.approx(np.sum((Bm.T @ Qij @ Bm) ** 2), abs=1e-12 * d)
                assert s[i, j] == pytest.approx(np.sum((Bm.T @ Sij @ Bm) ** 2), abs=1e-12 * d)
    quad = RB._q_quadratic(W0, u)
    for i in range(m):
        for j in range(m):
            assert quad[i, j] == pytest.approx(u @ RB.q_block(W0[i], W0[j]) @ u, abs=1e-12)


def test_abs_gaussian_correlation_bound_certified():
    """E|g||g'| = (2/pi)(sqrt(1-rho^2) + rho asin rho) <= 2/pi + (1 - 2/pi) rho^2 (section 0.3).
    With rho = sin(t): certified by interval arithmetic on t in [0.01, pi/2 - 0.01]; near the
    ends (where both sides touch) the gap is 0.045 t^2 and 0.137 (pi/2 - t)^2 to leading order,
    checked here on a dense grid."""
    from mpmath import iv

    def neg_gap(t):
        return (2 / iv.pi) * (iv.cos(t) + t * iv.sin(t)) - 2 / iv.pi - (1 - 2 / iv.pi) * iv.sin(t) ** 2
    ok, _ = certify(neg_gap, [(0.01, math.pi / 2 - 0.01)], max_boxes=20000)
    assert ok is True
    rho = np.concatenate([np.linspace(-1, 1, 200_001), [0.0, 1.0, -1.0]])
    lhs = (2 / np.pi) * (np.sqrt(np.clip(1 - rho ** 2, 0, None)) + rho * np.arcsin(rho))
    assert np.all(lhs <= 2 / np.pi + (1 - 2 / np.pi) * rho ** 2 + 1e-15)


def test_gram_lmax_bound_holds():
    rng = np.random.default_rng(3)
    for d, m in ((8, 32), (16, 256), (32, 16)):
        W0 = _unit(rng, m, d)
        lS = np.linalg.eigvalsh(W0.T @ W0)[-1]
        assert np.linalg.eigvalsh(arccos_kernel(W0))[-1] <= RB.gram_lmax_bound(lS, m) + 1e-9


def test_gram_square_trace_bound_T7b_holds():
    """T7b: 4 Gram <= (2 - 2/pi) lambda_max(W W^T) I + (2/pi) 1 1^T in PSD order, and tr(Gram^2) <=
    gram_sq_trace_bound, for random unit rows (including a nearly collinear W)."""
    rng = np.random.default_rng(13)
    for d, m in ((8, 32), (16, 256), (32, 16), (64, 128)):
        for W0 in (_unit(rng, m, d), _unit(rng, m, d) * 0.1 + np.eye(d)[0]):
            W0 = W0 / np.linalg.norm(W0, axis=1, keepdims=True)
            G = arccos_kernel(W0)
            lS = np.linalg.eigvalsh(W0 @ W0.T)[-1]
            Bm = (2 - 2 / np.pi) * lS * np.eye(m) + (2 / np.pi) * np.ones((m, m))
            assert np.linalg.eigvalsh(Bm - 4 * G)[0] >= -1e-9
            assert float((G * G).sum()) <= RB.gram_sq_trace_bound(lS, m) + 1e-9
