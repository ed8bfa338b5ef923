"""Monte Carlo twins of the closed forms (numpy, explicit seeds; docs/derivations.md section 3).

Each function simulates the *definition* in the full d-dimensional model (x ~ N(0, I_d),
v ~ Unif(S^{r-1}), label flips) and returns (estimate, standard error) as float arrays.
Randomness always comes from the ``seed`` argument, never from global state.
"""
from __future__ import annotations

import numpy as np

__all__ = ["mean_se", "ey_relu", "ey_indicator_x", "halfspace_kernel", "sphere_moment",
           "arccos_kernel0", "arccos_kernel1", "relu_moments", "pc_objective", "one_step_update",
           "indicator_second_moment", "indicator_in_span"]


def mean_se(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error along axis 0."""
    samples = np.asarray(samples, dtype=float)
    n = samples.shape[0]
    return samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(n)


def _flips(rng, shape, p):
    return np.where(rng.random(shape) < p, -1.0, 1.0)


def _unit_rows(g):
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


def ey_relu(w, u, p=0.0, N=2_000_000, seed=0):
    """E[y relu(w.x)], y = sign(u.x) flipped w.p. p."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, len(w)))
    y = np.sign(x @ u) * _flips(rng, N, p)
    return mean_se(y * np.maximum(x @ w, 0.0))


def ey_indicator_x(w, u, p=0.0, N=2_000_000, seed=0):
    """E[y 1{w.x > 0} x] (a vector)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, len(w)))
    y = np.sign(x @ u) * _flips(rng, N, p)
    return mean_se((y * (x @ w > 0))[:, None] * x)


def halfspace_kernel(z, zp, p=0.0, N=2_000_000, seed=0):
    """E_t[y_t(x) y_t(x')] for fixed z, z' (two distinct points, independent flips)."""
    rng = np.random.default_rng(seed)
    v = _unit_rows(rng.standard_normal((N, len(z))))
    f = _flips(rng, N, p) * _flips(rng, N, p)
    return mean_se(np.sign(v @ z) * np.sign(v @ zp) * f)


def sphere_moment(r, N=2_000_000, seed=0):
    """E[v_1^2] for v ~ Unif(S^{r-1})."""
    rng = np.random.default_rng(seed)
    v = _unit_rows(rng.standard_normal((N, r)))
    return mean_se(v[:, 0] ** 2)


def arccos_kernel0(w, w2, N=2_000_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, len(w)))
    return mean_se(((x @ w > 0) & (x @ w2 > 0)).astype(float))


def arccos_kernel1(w, w2, N=2_000_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, len(w)))
    return mean_se(np.maximum(x @ w, 0) * np.maximum(x @ w2, 0))


def relu_moments(w, N=2_000_000, seed=0):
    rng = np.random.default_rng(seed)
    s = np.maximum(rng.standard_normal((N, len(w))) @ w, 0)
    return mean_se(np.stack([s, s * s], axis=1))


def _task_pairs(rng, N, d, M, p):
    """Independent x, x', a task v per pair, and flipped halfspace labels y, y'."""
    r = M.shape[1]
    v = _unit_rows(rng.standard_normal((N, r)))
    u = v @ M.T
    x = rng.standard_normal((N, d))
    xp = rng.standard_normal((N, d))
    y = np.sign(np.einsum("nd,nd->n", x, u)) * _flips(rng, N, p)
    yp = np.sign(np.einsum("nd,nd->n", xp, u)) * _flips(rng, N, p)
    return x, xp, y, yp


def pc_objective(W, M, p=0.0, N=1_000_000, seed=0):
    """-E_{x,x'}[K(x,x') <relu(Wx), relu(Wx')>], K = E_t[y_t(x) y_t(x')]: one task per pair."""
    rng = np.random.default_rng(seed)
    x, xp, y, yp = _task_pairs(rng, N, W.shape[1], M, p)
    feats = np.maximum(x @ W.T, 0) * np.maximum(xp @ W.T, 0)
    return mean_se(-y * yp * feats.sum(axis=1))


def one_step_update(W0, M, eta_a=1.0, eta_w=1.0, p=0.0, N=1_000_000, seed=0):
    """Population one-step W1 = eta_W E_t[a_t * E_x[y 1{W0 x>0} x^T]], a_t = eta_a E[y relu(W0 x)]:
    unbiased with one head sample x and one independent representation sample x' per task."""
    rng = np.random.default_rng(seed)
    x, xp, y, yp = _task_pairs(rng, N, W0.shape[1], M, p)
    a = eta_a * y[:, None] * np.maximum(x @ W0.T, 0)                  # (N, m) heads
    coef = a * yp[:, None] * (xp @ W0.T > 0)                          # (N, m)
    samples = eta_w * coef[:, :, None] * xp[:, None, :]                # (N, m, d)
    return mean_se(samples)


def indicator_second_moment(w, e, N=2_000_000, seed=0):
    """E[1{w.x > 0} (e.x)^2] for a unit vector e (section 4.3: 1/2 whatever the angle)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, len(w)))
    return mean_se((x @ w > 0) * (x @ e) ** 2)


def indicator_in_span(w, M, N=2_000_000, seed=0):
    """E[1{w.x > 0} |M^T x|^2] / r (section 4.3: 1/2)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, len(w)))
    z = x @ M
    return mean_se((x @ w > 0) * (z * z).sum(axis=1) / M.shape[1])
