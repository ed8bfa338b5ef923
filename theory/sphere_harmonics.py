"""The O(d) harmonic pieces of each Hermite degree (derived here): the dimension N_j(d) of the
degree-j spherical harmonics, the eigenvalues of the contraction, the exact split of a degree's
energy into its harmonic pieces and the closed-form bound on the top piece (docs/derivations.md
section 8.4), and the energy of a target along the single copy of each harmonic type H_j that the
random-feature span holds (section 8.5). Targets come as DegreeEnergies
(theory/degree_energies.py).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .degree_energies import DegreeEnergies
from .hermite import _coeffs, _int, _tails
from .params import ParameterError, validate

__all__ = ["harmonic_dim", "contraction_eigenvalue", "harmonic_split", "top_energy_lower_bound",
           "type_energies"]


# --- O(d) harmonic pieces of each degree (section 8.4) -----------------------------------------

def harmonic_dim(d: int, j: int) -> int:
    """N_j(d) = dim of degree-j spherical harmonics in d variables
    = C(d+j-1, j) - C(d+j-3, j-2); N_0 = 1, N_1 = d, N_2 = (d+2)(d-1)/2."""
    d = validate("harmonic_dim", d=d)["d"]
    j = _int("j", j, "harmonic_dim", 0)
    return math.comb(d + j - 1, j) - (math.comb(d + j - 3, j - 2) if j >= 2 else 0)


def _fdim(d: int, j: int) -> float:
    """N_j(d) as a float, capped at 1e300 (beyond any width)."""
    N = harmonic_dim(d, j)
    return float(N) if N < 10 ** 300 else 1e300


def contraction_eigenvalue(d: int, n: int, j: int) -> float:
    """mu_{n,j}(d): the eigenvalue of C o S on the H_j piece of Sym^n(R^d), with S(A) =
    sym(I (x) A) and C its adjoint (the trace over one pair):
    mu_{n,j} = (n - j + 2)(d + n + j) / ((n + 1)(n + 2)), the solution of
    mu_{n,j} = [(d + 2n) + C(n,2) mu_{n-2,j}] / C(n+2,2), mu_{j-2,j} = 0 (section 8.4)."""
    if not (0 <= j <= n and (n - j) % 2 == 0):
        raise ParameterError("j", "contraction_eigenvalue", f"an int in [0, n={n}] with n - j even",
                             j)
    return (n - j + 2) * (d + n + j) / ((n + 1) * (n + 2))


@lru_cache(maxsize=None)
def _pchain(d: int, k: int, j: int) -> float:
    """P_{k,j} = prod_{q=j}^{k-2} mu_{q,j}(d): |C^{(k-j)/2} v|^2 = P_{k,j} |v|^2 on the H_j piece
    of Sym^k."""
    return math.prod(contraction_eigenvalue(d, q, j) for q in range(j, k, 2))   # inf if huge


def _top_solve(t, n: int, d: int) -> dict:
    """Given t[a] = <C^a X, C^a Y> (a = 0..n//2) for X, Y in Sym^n(R^d), return
    e[i] = <top C^{(n-i)/2} X, top C^{(n-i)/2} Y> for i = n, n-2, ...: the H_i piece of
    C^a X pairs to e_i / P_{n-2a,i}, so t[a] = sum_{i <= n-2a} e_i / P_{n-2a,i} (triangular)."""
    e = {}
    for a in range(n // 2, -1, -1):
        lev = n - 2 * a
        e[lev] = float(t[a]) - sum(e[i] / _pchain(d, lev, i) for i in e)
    return e


def harmonic_split(E: DegreeEnergies, d: int) -> tuple:
    """||Pi_{k,j} P_k f||^2 for j = k, k-2, ..., k mod 2 (one array per degree k), exact:
    = e_j / P_{k,j} with e from _top_solve on the traces ||C^s T_k||^2 (section 8.4)."""
    d = validate("harmonic_split", d=d)["d"]
    out = []
    for k in range(E.max_degree + 1):
        e = _top_solve(E.traces(k), k, d)
        out.append(np.array([e[j] / _pchain(d, k, j) for j in range(k, k % 2 - 1, -2)]))
    return tuple(out)


def top_energy_lower_bound(E: DegreeEnergies, d: int, r: int) -> np.ndarray:
    """tau_k >= E_k - ||C T_k||^2 / mu_{k-2,k-2}(d) >= E_k [1 - k(k+r-2)/(2(d+2k-4))] (even k;
    odd k: (k-1)(k+r-1)/(2(d+2k-4))): the closed-form bound on the top-harmonic energy
    (section 8.4), using ||C T||^2 <= mu_{k-2,k mod 2}(r) ||T||^2 for T in Sym^k(R^r)."""
    v = validate("top_energy_lower_bound", d=d, r=r)
    d, r = v["d"], v["r"]
    out = np.array(E.energies, dtype=float)
    for k in range(2, E.max_degree + 1):
        out[k] = E.energies[k] * (1 - contraction_eigenvalue(r, k - 2, k % 2)
                                  / contraction_eigenvalue(d, k - 2, k - 2))
    return out


# --- harmonic types: the single copy of H_j in the random-feature span (section 8.5) ------------

_K_BETA = 400


@lru_cache(maxsize=None)
def _beta(d: int, j: int, K: int):
    """beta_{j,k}^2 = c_k^2 / P_{k,j} for k = j, j+2, ... (the relu feature's weight on the H_j
    copy in chaos k) and bounds on |beta_j|^2 = sum over all k: (sum_{k<=K_BETA}, + tail of c_k^2),
    and on sum_{k > K} beta_k^2 (the part beyond the target's max_degree)."""
    c = [float(x) for x in _coeffs("relu", _K_BETA)]
    ks = [k for k in range(j, _K_BETA + 1, 2) if c[k] != 0]
    b2 = {k: c[k] ** 2 / _pchain(d, k, j) for k in ks}
    ctail = _tails("relu", _K_BETA) if j % 2 == 0 else 0.0     # odd c_k vanish beyond k = 1
    lo = sum(b2.values())
    beyond = sum(v for k, v in b2.items() if k > K) + ctail
    return b2, lo, lo + ctail, beyond


def type_energies(E: DegreeEnergies, d: int) -> dict:
    """Per harmonic type j <= max_degree: N_j(d), the target's energy of type j (all degrees
    <= max_degree), and bounds on alpha_j = |(I (x) beta_j^T) f_j|^2 / |beta_j|^2, the energy of f
    along the single H_j copy that relu features span (section 8.6):

        alpha_j^<= = u^T Gamma u / |beta_j|^2,  u_k = c_k / P_{k,j},
        Gamma_{kk'} = <top C^{(k-j)/2} T_k, top C^{(k'-j)/2} T_k'>  (_top_solve on cross),
    'alpha_lo' / 'alpha_hi' with the upper / lower bound on |beta_j|^2; 'alpha_bar' >= alpha_j
    adds the degrees beyond max_degree by Cauchy-Schwarz: (sqrt(alpha_hi) + sqrt(b_j tail_j))^2,
    b_j the share of |beta_j|^2 beyond max_degree, tail_j = tail unless the parity excludes type
    j, capped by energy_j + tail_j."""
    d = validate("type_energies", d=d)["d"]
    K = E.max_degree
    c = [float(x) for x in _coeffs("relu", K)]
    split = harmonic_split(E, d)
    out = {k: np.zeros(K + 1) for k in ("N", "energy", "alpha_lo", "alpha_hi", "alpha_bar")}
    tail = max(E.tail, 0.0)
    for j in range(K + 1):
        out["N"][j] = _fdim(d, j)
        out["energy"][j] = sum(split[k][(k - j) // 2] for k in range(j, K + 1, 2))
        ks = [k for k in range(j, K + 1, 2) if c[k] != 0]
        b2, lo, hi, beyond = _beta(d, j, K)
        if not ks or lo == 0:
            continue
        G = np.zeros((len(ks), len(ks)))
        for a, k in enumerate(ks):
            for b, k2 in enumerate(ks[a:], start=a):
                t = [E.cross[(k, k2, j - 2 * s)] for s in range(j // 2 + 1)]
                G[a, b] = G[b, a] = _top_solve(t, j, d)[j]
        u = np.array([c[k] / _pchain(d, k, j) for k in ks])
        num = max(float(u @ G @ u), 0.0)
        out["alpha_lo"][j], out["alpha_hi"][j] = num / hi, num / lo
        tj = 0.0 if E.parity == ("even" if j % 2 else "odd") else tail
        out["alpha_bar"][j] = min((math.sqrt(num / lo) + math.sqrt(beyond / lo * tj)) ** 2,
                                  out["energy"][j] + tj)      # alpha_j <= all energy of type j
    return out
