"""Population risk of random features at large width (torch, float64, CPU or CUDA).

The torch twin of theory/rf_risk.py, which computes the same in numpy
(rf_population_risk_curve; docs/derivations.md section 8.8): the arc-cosine Gram by its closed
form, b(w) = E[f(z) relu(w . x)] by the formulas of section 8.7, one Cholesky factorisation
(torch.linalg.cholesky_ex), and R(m) = E f^2 - sum_{i<=m} y_i^2 (L y = b) for every width m at
once. Plus m*_RF read off the curve and a sampled cross-check (ridge on n samples).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..theory import degree_energies as DE
from ..theory import rf_risk as RR
from ..theory.angles import NEAR_COS
from ..theory.params import Described, ParameterError, validate
from .probes import features, ridge_fit
from .samplers import gaussian

__all__ = ["arccos_gram", "feature_correlation", "risk_curve", "crossing_width",
           "target_values", "sampled_risk_curve", "optimal_head_risk_mc"]

_F64 = torch.float64


def _rows(W: torch.Tensor, where: str):
    W = torch.as_tensor(W).to(_F64)
    if W.ndim != 2 or W.shape[0] == 0 or not bool(torch.isfinite(W).all()):
        raise ParameterError("W", where, "a finite real tensor of shape (m, d)",
                             Described(f"a tensor of shape {tuple(W.shape)}"))
    nrm = W.norm(dim=1)
    if bool((nrm == 0).any()):
        raise ParameterError("W", where, "a tensor with nonzero rows", Described("a zero row"))
    return W, nrm


def _angles(A: torch.Tensor, Bt: torch.Tensor):
    """(alpha, cos, sin) between the unit rows of A and of Bt, well conditioned: the GEMM cosine
    where |cos| <= 1/sqrt(2), else alpha = 2 atan2(|a - b|, |a + b|), exact at parallel and
    antipodal pairs (the torch twin of theory/angles.pair_angles; derivations section 1.1)."""
    c = (A @ Bt.T).clamp_(-1.0, 1.0)
    alpha = torch.arccos(c)
    s = torch.sqrt(1 - c * c)
    i, j = torch.nonzero(c.abs() > NEAR_COS, as_tuple=True)
    step = max(1, (1 << 21) // max(1, A.shape[1]))
    for k0 in range(0, len(i), step):
        ii, jj = i[k0:k0 + step], j[k0:k0 + step]
        al = 2 * torch.atan2((A[ii] - Bt[jj]).norm(dim=1), (A[ii] + Bt[jj]).norm(dim=1))
        alpha[ii, jj], c[ii, jj], s[ii, jj] = al, torch.cos(al), torch.sin(al)
    return alpha, c, s


def arccos_gram(W: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """G_ij = E[relu(w_i . x) relu(w_j . x)] = |w_i||w_j| (sqrt(1 - c^2) + (pi - acos c) c)/(2 pi),
    c the cosine (Cho and Saul 2009; docs/derivations.md section 2.7), float64 on W's device,
    built in blocks of ``chunk`` rows to bound the temporaries."""
    W, nrm = _rows(W, "arccos_gram")
    validate("arccos_gram", chunk=chunk)
    Wn = W / nrm[:, None]
    m = W.shape[0]
    G = torch.empty((m, m), dtype=_F64, device=W.device)
    for i0 in range(0, m, chunk):
        a, c, s = _angles(Wn[i0:i0 + chunk], Wn)
        g = (s + (math.pi - a) * c) / (2 * math.pi)
        G[i0:i0 + chunk] = g * nrm[i0:i0 + chunk, None] * nrm[None, :]
    return G


def _unit_v(v, r, device, where):
    v = torch.eye(r, dtype=_F64, device=device)[0] if v is None else torch.as_tensor(v).to(
        device=device, dtype=_F64)
    if v.shape != (r,) or abs(float(v.norm()) - 1) > 1e-8:
        raise ParameterError("v", where, f"a unit vector of shape ({r},)",
                             Described(f"a tensor of shape {tuple(v.shape)}, "
                                       f"norm {float(v.norm()):.6g}"))
    return v


def feature_correlation(W, M, target: str, v=None, max_degree: int = 120, chunk: int = 8192):
    """(b, err): b_i = E[f(z) relu(w_i . x)] and a bound err_i >= |b_i - exact| (section 8.7):
    'halfspace' w.Mv / sqrt(2 pi) and 'relu' k1(w, Mv) exactly; 'xor' by the Mehler series of
    theory.rf_risk.xor_series, truncated at max_degree."""
    where = "rf_population.feature_correlation"
    W, nrm = _rows(W, where)
    M = torch.as_tensor(M).to(device=W.device, dtype=_F64)
    if target not in DE.TARGETS:
        raise ParameterError("target", where, "one of {" + ", ".join(map(repr, DE.TARGETS)) + "}",
                             target)
    Wn = W / nrm[:, None]
    if target == "xor":
        s = RR.xor_series(max_degree)
        odd = torch.tensor(np.array(s["odd"]), dtype=_F64, device=W.device)
        C = torch.tensor(np.array(s["C"]), dtype=_F64, device=W.device)
        w = torch.tensor(np.array(s["w"]), dtype=_F64, device=W.device)
        ks = torch.arange(max_degree + 1, len(s["w"]), dtype=_F64, device=W.device)
        b, err = torch.empty_like(nrm), torch.empty_like(nrm)
        for i0 in range(0, len(nrm), chunk):
            P = Wn[i0:i0 + chunk] @ M[:, :2]
            p, q = P[:, 0:1], P[:, 1:2]
            b[i0:i0 + chunk] = (((p ** odd) @ C) * (q ** odd)).sum(1)
            rho = P.norm(dim=1, keepdim=True)
            err[i0:i0 + chunk] = ((rho ** ks) @ w[max_degree + 1:]
                                  + rho[:, 0] ** (len(s["w"]) + 1) * s["rest"])
        return nrm * b, nrm * err
    u = M @ _unit_v(v, M.shape[1], W.device, where)
    if target == "halfspace":
        return nrm * (Wn @ u).clamp(-1.0, 1.0) / math.sqrt(2 * math.pi), torch.zeros_like(nrm)
    a, c, s = (t[:, 0] for t in _angles(Wn, u[None, :]))
    return nrm * (s + (math.pi - a) * c) / (2 * math.pi), torch.zeros_like(nrm)


def _cholesky(G: torch.Tensor):
    """torch.linalg.cholesky_ex, retried with a relative jitter 1e-12 .. 1e-6 * mean(diag G) if
    it fails; returns (L, jitter, info of the first attempt)."""
    L, info = torch.linalg.cholesky_ex(G)
    first = int(info)
    if first == 0:
        return L, 0.0, 0
    scale = float(G.diagonal().mean())
    for e in range(-12, -5):
        jit = scale * 10.0 ** e
        L, info = torch.linalg.cholesky_ex(G + jit * torch.eye(len(G), dtype=_F64, device=G.device))
        if int(info) == 0:
            return L, jit, first
    raise torch.linalg.LinAlgError(f"rf_population: Cholesky failed at minor {first}, even with "
                                   "jitter 1e-6 * mean(diag G)")


def risk_curve(W, M, target: str, v=None, max_degree: int = 120, average: bool = False,
               chunk: int = 4096) -> dict:
    """R(m) = E f^2 - b_{1:m}^T G_{1:m}^{-1} b_{1:m} for m = 1..len(W) (section 8.8), float64 on W's
    device: the leading block of the Cholesky factor is the factor of the leading block, so with
    L y = b, R(m) = E f^2 - sum_{i<=m} y_i^2. average=True ('halfspace'): E_v over v uniform on
    S^{r-1}, E_v b b^T = W M M^T W^T / (2 pi r) (sections 2.2, 2.5). Returns risk (CPU numpy),
    widths, cholesky_info (0: factorised as is; else the failing minor, and jitter was added),
    jitter, b_error = |err|_2 and total = E f^2."""
    where = "rf_population.risk_curve"
    W, _ = _rows(W, where)
    M = torch.as_tensor(M).to(device=W.device, dtype=_F64)
    if average:
        if target != "halfspace":
            raise ParameterError("average", where, "False unless target='halfspace'", average)
        B, err = W @ M / math.sqrt(2 * math.pi * M.shape[1]), torch.zeros(len(W), dtype=_F64)
    else:
        B, err = feature_correlation(W, M, target, v, max_degree)
        B = B[:, None]
    G = arccos_gram(W, chunk)
    L, jit, info = _cholesky(G)
    del G
    Y = torch.linalg.solve_triangular(L, B, upper=False)
    total = 0.5 if target == "relu" else 1.0
    risk = total - torch.cumsum((Y * Y).sum(1), 0)
    return {"risk": risk.cpu().numpy(), "widths": np.arange(1, len(W) + 1),
            "cholesky_info": info, "jitter": jit, "b_error": float(err.norm()), "total": total}


def crossing_width(risk, eps: float, widths=None) -> dict:
    """m*(eps): the width where the (non-increasing) risk curve first reaches eps, by linear
    interpolation in log m between the last width above eps and the first at or below it.
    censored: None, 'right' (never reached within the widths: m_star = inf) or 'left' (reached at
    the first width: m_star = that width, an upper bound)."""
    eps = validate("crossing_width", eps=eps)["eps"]
    risk = np.asarray(risk, dtype=float)
    widths = np.arange(1, len(risk) + 1) if widths is None else np.asarray(widths, dtype=float)
    if widths.shape != risk.shape or np.any(np.diff(widths) <= 0):
        raise ParameterError("widths", "crossing_width", "increasing widths, one per risk value",
                             Described(f"an array of shape {widths.shape}"))
    hit = np.nonzero(risk <= eps)[0]
    if len(hit) == 0:
        return {"m_star": math.inf, "censored": "right"}
    i = int(hit[0])
    if i == 0:
        return {"m_star": float(widths[0]), "censored": "left"}
    lo, hi = math.log(widths[i - 1]), math.log(widths[i])
    t = (risk[i - 1] - eps) / (risk[i - 1] - risk[i])
    return {"m_star": float(math.exp(lo + t * (hi - lo))), "censored": None}


def target_values(z: torch.Tensor, target: str, v=None) -> torch.Tensor:
    """f(z): 'halfspace' sign(v.z), 'xor' sign(z1 z2) (sign(0) = +1, as sim.samplers), 'relu'
    relu(v.z); v defaults to e_1."""
    if target == "xor":
        return torch.where(z[:, 0] * z[:, 1] >= 0, 1.0, -1.0).to(z.dtype)
    v = _unit_v(v, z.shape[1], z.device, "rf_population.target_values").to(z.dtype)
    s = z @ v
    return torch.where(s >= 0, 1.0, -1.0).to(z.dtype) if target == "halfspace" else torch.relu(s)


def _draw(W, M, target, v, n, gen):
    X = gaussian((n, W.shape[1]), gen, _F64)
    return features(W, X), target_values(X @ M, target, v)


def sampled_risk_curve(W, M, target: str, widths, n: int, n_test: int, ridge: float,
                       gen: torch.Generator, v=None) -> dict:
    """The sampled twin of risk_curve: ridge (docs/derivations.md section 6.1, not clipped) on n
    samples for the first k features, k in widths, test squared error on n_test fresh samples
    with its standard error. Its mean exceeds R(k) by the estimation error (about R(k) k / n)."""
    v_ = validate("sampled_risk_curve", n=n, n_test=n_test, ridge=ridge)
    W = torch.as_tensor(W).to(device=gen.device, dtype=_F64)
    M = torch.as_tensor(M).to(device=gen.device, dtype=_F64)
    F, y = _draw(W, M, target, v, v_["n"], gen)
    Ft, yt = _draw(W, M, target, v, v_["n_test"], gen)
    mse, se = [], []
    for k in widths:
        beta = ridge_fit(F[:, :k], y, v_["ridge"])
        res = (yt - Ft[:, :k] @ beta) ** 2
        mse.append(float(res.mean()))
        se.append(float(res.std() / math.sqrt(len(res))))
    return {"widths": list(widths), "mse": mse, "se": se}


def optimal_head_risk_mc(W, M, target: str, widths, n_test: int, gen: torch.Generator, v=None,
                         max_degree: int = 120, chunk: int = 65536) -> dict:
    """Monte Carlo of E(f - a*.phi)^2 for the population-optimal head a* = G_m^{-1} b_m on the
    first m features (m in widths): an unbiased estimate of R(m) (up to b's truncation), with
    standard error, next to the formula's R(m)."""
    validate("optimal_head_risk_mc", n_test=n_test)
    W = torch.as_tensor(W).to(device=gen.device, dtype=_F64)
    M = torch.as_tensor(M).to(device=gen.device, dtype=_F64)
    b, _ = feature_correlation(W, M, target, v, max_degree)
    G = arccos_gram(W)
    heads = [torch.linalg.solve(G[:k, :k], b[:k]) for k in widths]
    s1 = torch.zeros(len(widths), dtype=_F64, device=W.device)
    s2 = torch.zeros_like(s1)
    for i0 in range(0, n_test, chunk):
        F, y = _draw(W, M, target, v, min(chunk, n_test - i0), gen)
        for j, (k, a) in enumerate(zip(widths, heads)):
            r2 = (y - F[:, :k] @ a) ** 2
            s1[j] += r2.sum()
            s2[j] += (r2 * r2).sum()
    mean = s1 / n_test
    se = torch.sqrt((s2 / n_test - mean ** 2) / (n_test - 1))
    full = risk_curve(W, M, target, v, max_degree)["risk"]
    return {"widths": list(widths), "mc": mean.cpu().numpy(), "se": se.cpu().numpy(),
            "formula": np.array([full[k - 1] for k in widths])}
