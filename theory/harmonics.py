"""Hermite degrees, harmonic pieces and the random-feature lower bound (derived here).

docs/derivations-c5.md (to become docs/derivations.md section 8) holds every step. Notation:
h_k = He_k / sqrt(k!) (normalised probabilists' Hermite), P_k the projection of L2(N(0, I_d)) on
the degree-k chaos, E_k = ||P_k f||^2 (so E f^2 = sum_k E_k), relu = sum_k c_k h_k,
sign = sum_k a_k h_k. Bias-free ReLU features represent the degrees with c_k != 0: 0, 1 and the
even degrees (relu(t) = t/2 + |t|/2, so c_k = 0 for odd k >= 3).

Targets are functions f(z) of z = M^T x in R^r, stored through their r-dimensional Hermite
coefficients: the O(d) harmonic split of each degree, and the energy along the single copy of each
harmonic type H_j that the relu features span, need only the contraction inner products
<C^a T_k, C^b T_k'> of the coefficient tensors (sections 8.4-8.5) and d. Theorem A of section 8.6
(Schur's lemma) turns them into a lower bound on E_W R*(m) at every width. No torch here
(docs/design.md). Every result is derived here, not the paper's theorem.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations_with_replacement

import mpmath as mp
import numpy as np
import sympy as sp
from scipy.linalg import LinAlgError, cholesky, solve_triangular

from .params import Described, ParameterError, check_matrix, check_orthonormal, validate
from .population import arccos_kernel

__all__ = ["relu_hermite_exact", "sign_hermite_exact", "relu_hermite", "sign_hermite",
           "representable", "DegreeEnergies", "target_energies", "family_energies",
           "energy_floor", "asymptotic_risk", "degree_floor", "harmonic_dim",
           "contraction_eigenvalue", "harmonic_split", "top_energy_lower_bound",
           "type_energies", "rf_asymptotic_risk", "rf_risk_lower_bound_curve",
           "rf_width_lower_bound_lp",
           "rf_width_lower_bound_explicit", "nu_bound", "reach_probability_bound",
           "feature_correlation", "cholesky_risk_curve", "rf_population_risk_curve",
           "gram_min_eig_lower_bound", "xor_series", "TARGETS"]

#: downstream targets with exact Hermite tables: sign(v.z), sign(z1 z2), relu(v.z)
TARGETS = ("halfspace", "xor", "relu")


# --- validation helpers (names not in theory.params.PARAMS; same message template) ---------

def _int(name, value, where, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(name, where, f"an int >= {low}", value)
    return int(value)


def _target(value, where):
    if value not in TARGETS:
        raise ParameterError("target", where, "one of {" + ", ".join(map(repr, TARGETS)) + "}",
                             value)
    return value


# --- 1-D Hermite coefficients (section 8.2) -------------------------------------------------

def relu_hermite_exact(k: int) -> sp.Expr:
    """c_k = E[relu(t) h_k(t)], exact: c_0 = 1/sqrt(2 pi), c_1 = 1/2, c_k = 0 for odd k >= 3,
    c_k = (-1)^(k/2 - 1) (k-3)!! / sqrt(2 pi k!) for even k >= 2.

    From He_k phi = (-1)^k phi^(k) and two integrations by parts on (0, oo):
    E[relu He_k] = He_{k-2}(0) phi(0), He_{2n}(0) = (-1)^n (2n-1)!! (section 8.2)."""
    k = _int("max_degree", k, "relu_hermite_exact", 0)
    if k == 0:
        return 1 / sp.sqrt(2 * sp.pi)
    if k == 1:
        return sp.Rational(1, 2)
    if k % 2:
        return sp.Integer(0)
    return (-1) ** (k // 2 - 1) * sp.factorial2(k - 3) / sp.sqrt(2 * sp.pi * sp.factorial(k))


def sign_hermite_exact(k: int) -> sp.Expr:
    """a_k = E[sign(t) h_k(t)], exact: 0 for even k; for odd k
    a_k = sqrt(2/pi) (-1)^((k-1)/2) (k-2)!! / sqrt(k!)  ((-1)!! = 1), from
    int_0^oo He_k phi = He_{k-1}(0) phi(0) (section 8.2)."""
    k = _int("max_degree", k, "sign_hermite_exact", 0)
    if k % 2 == 0:
        return sp.Integer(0)
    return sp.sqrt(2 / sp.pi) * (-1) ** ((k - 1) // 2) * sp.factorial2(k - 2) \
        / sp.sqrt(sp.factorial(k))


@lru_cache(maxsize=None)
def _coeffs(kind: str, kmax: int) -> tuple:
    """c_k or a_k for k <= kmax in mpmath (30 digits), from the exact forms."""
    fn = relu_hermite_exact if kind == "relu" else sign_hermite_exact
    with mp.workdps(30):
        return tuple(mp.mpf(sp.N(fn(k), 30)) for k in range(kmax + 1))


def relu_hermite(max_degree: int) -> np.ndarray:
    """(c_0, ..., c_K) as float64 (relu_hermite_exact)."""
    K = _int("max_degree", max_degree, "relu_hermite", 0)
    return np.array([float(c) for c in _coeffs("relu", K)])


def sign_hermite(max_degree: int) -> np.ndarray:
    """(a_0, ..., a_K) as float64 (sign_hermite_exact)."""
    K = _int("max_degree", max_degree, "sign_hermite", 0)
    return np.array([float(c) for c in _coeffs("sign", K)])


def representable(k: int) -> bool:
    """True iff c_k != 0, i.e. k in {0, 1} or k even: the degrees whose chaos the span of
    bias-free relu(w . x) reaches (section 8.2)."""
    k = _int("k", k, "representable", 0)
    return k <= 1 or k % 2 == 0


@lru_cache(maxsize=None)
def _tails(kind: str, K: int) -> float:
    """sum_{k > K} c_k^2 = 1/2 - sum_{k<=K} c_k^2 (relu), or 1 - sum a_k^2 (sign), mpmath."""
    with mp.workdps(30):
        cs = _coeffs(kind, K)
        total = mp.mpf(1) / 2 if kind == "relu" else mp.mpf(1)
        return float(total - mp.fsum(c ** 2 for c in cs))


# --- coefficient tensors in r dimensions and their contractions (section 8.4) -----------------

@lru_cache(maxsize=None)
def _alphas(r: int, k: int) -> tuple:
    """Multi-indices alpha in N^r with |alpha| = k, in a fixed order."""
    out = []
    for combo in combinations_with_replacement(range(r), k):
        a = [0] * r
        for i in combo:
            a[i] += 1
        out.append(tuple(a))
    return tuple(out)


def _lfact(a) -> float:
    return float(sum(math.lgamma(x + 1) for x in a))


@lru_cache(maxsize=None)
def _contraction_map(r: int, k: int, n: int):
    """(L, w): L f = C^s T_k in Sym^n(R^r) coordinates (s = (k - n)/2), w the norm weights.

    T_k[alpha] = f_alpha sqrt(alpha!/k!) for f_alpha = E[f h_alpha] (so ||T_k||^2 = E_k; the
    tensor of h_k(w.x) is w^{(x)k}); (C^s T)[beta] = sum_{|gamma|=s} (s!/gamma!) T[beta + 2 gamma];
    <X, Y> = sum_beta (n!/beta!) X[beta] Y[beta] on Sym^n. Read-only (cached)."""
    s = (k - n) // 2
    al = _alphas(r, k)
    pos = {a: i for i, a in enumerate(al)}
    be = _alphas(r, n)
    L = np.zeros((len(be), len(al)))
    for ib, b in enumerate(be):
        for g in _alphas(r, s):
            a = tuple(bi + 2 * gi for bi, gi in zip(b, g))
            L[ib, pos[a]] += math.exp(math.lgamma(s + 1) - _lfact(g)
                                      + 0.5 * (_lfact(a) - math.lgamma(k + 1)))
    w = np.array([math.exp(math.lgamma(n + 1) - _lfact(b)) for b in be])
    L.setflags(write=False)
    w.setflags(write=False)
    return L, w


def _cross_keys(K: int):
    """(k, k2, n): k <= k2 <= K, k = k2 = n mod 2, n <= k."""
    return [(k, k2, n) for k2 in range(K + 1) for k in range(k2 % 2, k2 + 1, 2)
            for n in range(k % 2, k + 1, 2)]


def _cross_exact(tables: dict, r: int, K: int) -> dict:
    """<C^{(k-n)/2} T_k, C^{(k2-n)/2} T_k2> for every key, from exact coefficient tables."""
    V = {(k, n): _contraction_map(r, k, n)[0] @ tables[k] for k in range(K + 1)
         for n in range(k % 2, k + 1, 2)}
    return {(k, k2, n): float(V[k, n] @ (_contraction_map(r, k, n)[1] * V[k2, n]))
            for k, k2, n in _cross_keys(K)}


@dataclass(frozen=True)
class DegreeEnergies:
    """Energy per Hermite degree of a target and the contraction inner products of its tensors.

    energies[k] = E_k; cross[(k, k2, n)] = <C^{(k-n)/2} T_k, C^{(k2-n)/2} T_k2> (so
    cross[(k, k, k)] = E_k); total = E f^2; se, cross_se: standard errors (Monte Carlo
    families) or None (exact); parity: 'odd', 'even' or None (unknown), which fixes where the
    energy beyond max_degree sits; tail_se: standard error of the tail.
    """

    name: str
    energies: np.ndarray
    cross: dict
    total: float
    parity: str | None = None
    se: np.ndarray | None = None
    cross_se: dict | None = None
    tail_se: float = 0.0
    n_tasks: int = 0

    @property
    def max_degree(self) -> int:
        return len(self.energies) - 1

    @property
    def tail(self) -> float:
        """E f^2 - sum_{k <= max_degree} E_k: the exact energy beyond max_degree (rigorous when
        the E_k are exact; a Monte Carlo estimate otherwise, with standard error tail_se)."""
        return float(self.total - np.sum(self.energies))

    def traces(self, k: int) -> np.ndarray:
        """||C^s T_k||^2 for s = 0 .. k // 2."""
        return np.array([self.cross[(k, k, k - 2 * s)] for s in range(k // 2 + 1)])

    def nonrep_tail(self) -> tuple[float, float]:
        """Bounds (lo, hi) on the non-representable energy beyond max_degree (odd degrees >= 3):
        the whole tail for an odd target, 0 for an even one, [0, tail] otherwise."""
        t = max(self.tail, 0.0)
        if self.parity == "odd" and self.max_degree >= 1:
            return t, t
        if self.parity == "even":
            return 0.0, 0.0
        return 0.0, t


# --- energies of the downstream targets (section 8.3) ----------------------------------------

@lru_cache(maxsize=None)
def _xor_energy_mp(K: int) -> tuple:
    """E_k of sign(z1 z2) = sign(z1) sign(z2) for k <= K: sum_{i+j=k, i,j odd} a_i^2 a_j^2."""
    a = _coeffs("sign", K)
    with mp.workdps(30):
        return tuple(mp.fsum(a[i] ** 2 * a[k - i] ** 2 for i in range(1, k, 2)) if k % 2 == 0
                     else mp.mpf(0) for k in range(K + 1))


@lru_cache(maxsize=None)
def _exact_energies(target: str, K: int) -> DegreeEnergies:
    """Cached (read-only) exact energies and cross products; see target_energies."""
    E = _exact_energies_uncached(target, K)
    E.energies.setflags(write=False)
    return E


def _exact_energies_uncached(target: str, K: int) -> DegreeEnergies:
    if target == "xor":
        a = _coeffs("sign", K)
        tables = {k: np.array([float(a[i] * a[j]) for i, j in _alphas(2, k)])
                  for k in range(K + 1)}
        E = np.array([float(e) for e in _xor_energy_mp(K)])
        return DegreeEnergies("xor", E, _cross_exact(tables, 2, K), 1.0, parity="even")
    kind = "sign" if target == "halfspace" else "relu"
    co = [float(c) for c in _coeffs(kind, K)]
    cross = {(k, k2, n): co[k] * co[k2] for k, k2, n in _cross_keys(K)}
    return DegreeEnergies(target, np.array(co) ** 2, cross, 1.0 if kind == "sign" else 0.5,
                          parity="odd" if kind == "sign" else None)


def target_energies(target: str, max_degree: int = 40) -> DegreeEnergies:
    """Exact E_k and contraction inner products of a downstream target (section 8.3).

    'halfspace' sign(v.z): E_k = a_k^2 (odd k; sum 1, E_1 = 2/pi); a function of one direction,
    T_k = a_k v^{(x)k}, so every contraction inner product is a_k a_k2. 'relu' relu(v.z):
    the same with c_k (total 1/2). 'xor' sign(z1 z2): E_k = sum_{i+j=k} a_i^2 a_j^2 (even k;
    E_2 = (2/pi)^2), tensors from the coefficient table f_(i,j) = a_i a_j in r = 2."""
    where = "target_energies"
    return _exact_energies(_target(target, where), _int("max_degree", max_degree, where, 1))


def _hermite_values(z: np.ndarray, K: int) -> np.ndarray:
    """h_k(z) for k <= K (last axis), by h_{k+1} = (t h_k - sqrt(k) h_{k-1}) / sqrt(k+1)."""
    H = np.empty(z.shape + (K + 1,))
    H[..., 0] = 1.0
    if K >= 1:
        H[..., 1] = z
    for k in range(1, K):
        H[..., k + 1] = (z * H[..., k] - math.sqrt(k) * H[..., k - 1]) / math.sqrt(k + 1)
    return H


def _task_labels(family, z, rng, centers):
    """+-1 labels of one random task of the family on z (n, r); sign(0) = +1."""
    if family == "quadratic":
        g = rng.standard_normal((z.shape[1], z.shape[1]))
        q = np.einsum("ni,ij,nj->n", z, (g + g.T) / 2, z)
    elif family == "clusters":
        s = np.where(rng.standard_normal(len(centers)) >= 0, 1.0, -1.0)
        q = s[np.argmin(((z[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)]
    else:
        v = rng.standard_normal(z.shape[1])
        q = z @ (v / np.linalg.norm(v))
    return np.where(q >= 0, 1.0, -1.0)


def _task_cross(f, z, r, K):
    """Unbiased estimates of every cross[(k, k2, n)] for one task: with V_i = L (f_i h(z_i)),
    sum_{i != j} <V_i, V'_j>_w / (N(N-1)) (a U-statistic, so E_k estimates carry no m/N bias)."""
    N = len(f)
    H1 = _hermite_values(z, K)
    V = {}
    for k in range(K + 1):
        X = f[:, None] * np.stack([np.prod(H1[:, np.arange(r), a], axis=1) for a in
                                   map(np.array, _alphas(r, k))], axis=1)
        for n in range(k % 2, k + 1, 2):
            V[k, n] = X @ _contraction_map(r, k, n)[0].T
    out = {}
    for k, k2, n in _cross_keys(K):
        w = _contraction_map(r, n, n)[1]
        s1, s2 = V[k, n].sum(0), V[k2, n].sum(0)
        out[k, k2, n] = float((s1 @ (w * s2) - np.einsum("ib,b,ib->", V[k, n], w, V[k2, n]))
                              / (N * (N - 1)))
    return out


def family_energies(family: str, r: int, max_degree: int = 10, n_tasks: int = 200,
                    seed: int = 0, n_z: int = 20000, n_clusters: int = 8,
                    centers=None) -> DegreeEnergies:
    """E_t[E_k] and E_t[cross] over the tasks of a family (section 8.3), Monte Carlo.

    Each task gets its own n_z draws of z, and every quadratic quantity is a U-statistic
    (_task_cross), unbiased given the task, so the task-level standard error covers both sources
    of noise. E f^2 = 1 (+-1 labels): the tail beyond max_degree is 1 - sum E_k, with its own
    standard error. 'quadratic' sign(z^T Q z), Q = (G + G^T)/2, is even; 'clusters' (n_clusters
    centres, drawn from seed when not given, N(0, I_r) as in sim.samplers; labels +-1 fair coins)
    has no parity; 'halfspace' is the exact target's Monte Carlo twin. Degrees of the excluded
    parity are set to 0 exactly."""
    where = "family_energies"
    v = validate(where, family=family, r=r, seed=seed, n_clusters=n_clusters)
    K = _int("max_degree", max_degree, where, 1)
    T = _int("n_tasks", n_tasks, where, 2)
    N = _int("n_z", n_z, where, 2)
    rng = np.random.default_rng(v["seed"])
    if family == "clusters":
        centers = (rng.standard_normal((n_clusters, r)) if centers is None
                   else check_matrix("centers", centers, where, f"(k, {r})", cols=r))
    keys = _cross_keys(K)
    parity = {"quadratic": "even", "halfspace": "odd"}.get(family)
    zero = [i for i, key in enumerate(keys) if parity and key[0] % 2 == (parity == "even")]
    est = np.zeros((T, len(keys)))
    for t in range(T):
        z = rng.standard_normal((N, r))
        c = _task_cross(_task_labels(family, z, rng, centers), z, r, K)
        est[t] = [c[key] for key in keys]
    est[:, zero] = 0.0                  # exactly 0 by parity (f(-z) = -f(z) or f(-z) = f(z))
    mean, se = est.mean(0), est.std(0, ddof=1) / math.sqrt(T)
    diag = [keys.index((k, k, k)) for k in range(K + 1)]
    tails = 1.0 - est[:, diag].sum(1)
    return DegreeEnergies(family, mean[diag], dict(zip(keys, mean)), 1.0, parity, se=se[diag],
                          cross_se=dict(zip(keys, se)),
                          tail_se=float(tails.std(ddof=1) / math.sqrt(T)), n_tasks=T)


# --- floors and the degree staircase (section 8.5) --------------------------------------------

def energy_floor(E: DegreeEnergies) -> tuple[float, float]:
    """(lo, hi) bounds on the m-independent floor: the energy in non-representable degrees (odd
    k >= 3), which no width of bias-free ReLU features reduces. Exact (lo = hi) for odd and even
    targets; for others the tail beyond max_degree may hold some."""
    lo, hi = E.nonrep_tail()
    base = float(sum(max(E.energies[k], 0.0) for k in range(E.max_degree + 1)
                     if not representable(k)))
    return base + lo, base + hi


def asymptotic_risk(E: DegreeEnergies, K: int) -> float:
    """A(K) = sum_{k > K} E_k + sum_{k <= K, c_k = 0} E_k = E f^2 - sum_{k <= K, c_k != 0} E_k:
    the large-d risk when every representable degree <= K is learned and nothing else."""
    K = _int("K", K, "asymptotic_risk", 0)
    if K > E.max_degree:
        raise ParameterError("K", "asymptotic_risk", f"an int in [0, max_degree={E.max_degree}]",
                             K)
    return float(E.total - sum(E.energies[k] for k in range(K + 1) if representable(k)))


def degree_floor(E: DegreeEnergies, eps: float):
    """K(eps) = min{K : A(K) < eps}: an int; math.inf when eps <= floor (never reached at any
    width); None when A(K) >= eps for all K <= max_degree but the floor is below eps
    (undetermined, raise max_degree)."""
    eps = float(eps)
    if not (eps > 0 and math.isfinite(eps)):
        raise ParameterError("eps", "degree_floor", "a finite float > 0", eps)
    for K in range(E.max_degree + 1):
        if asymptotic_risk(E, K) < eps:
            return K
    lo, _ = energy_floor(E)
    return math.inf if eps <= lo else None


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


# --- harmonic types: the single copy of H_j in the random-feature span (section 8.6) ------------

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


def _tail_types(E: DegreeEnergies, d: int, m):
    """Upper bound on what types j > max_degree add to E<f, Proj f>: at most the tail, times
    min(1, m / N_j) with N_j >= N_{j0}(d), j0 the first representable type > max_degree (d >= 3);
    0 for odd targets (their tail is in odd types >= 3, which no relu feature reaches)."""
    K = E.max_degree
    if E.parity == "odd":
        return np.zeros_like(m)
    j0 = K + 1 if (K + 1) % 2 == 0 else K + 2
    N = _fdim(d, j0) if d >= 3 else 2.0
    return np.minimum(1.0, m / N) * max(E.tail, 0.0)


def rf_asymptotic_risk(E: DegreeEnergies, d: int) -> tuple[float, float]:
    """Bounds (lo, hi) on R_inf(d) = lim_m E_W R*(m) = E f^2 - sum_j alpha_j, the risk of the whole
    closed span of bias-free relu features at dimension d (section 8.6). With f_<= the target cut
    at max_degree, R_inf(f_<=) lies in [sum E_k - sum alpha_hi, sum E_k - sum alpha_lo], and the
    distance to the span moves by at most sqrt(tail) (triangle inequality):
    lo = (sqrt(R_inf(f_<=)_lo) - sqrt(tail))_+^2, hi = (sqrt(R_inf(f_<=)_hi) + sqrt(tail))^2.
    Odd targets: the tail is orthogonal to the span, R_inf = E f^2 - sum alpha (halfspace:
    1 - 2/pi at every d)."""
    d = validate("rf_asymptotic_risk", d=d)["d"]
    t = type_energies(E, d)
    e = float(np.sum(E.energies))
    if E.parity == "odd":          # the tail sits in odd types >= 3 (orthogonal to the span)
        return (float(E.total - t["alpha_hi"].sum()), float(E.total - t["alpha_lo"].sum()))
    tail = math.sqrt(max(E.tail, 0.0))
    lo = max(math.sqrt(max(e - t["alpha_hi"].sum(), 0.0)) - tail, 0.0) ** 2
    hi = (math.sqrt(max(e - t["alpha_lo"].sum(), 0.0)) + tail) ** 2
    return float(lo), float(min(hi, E.total))


# --- the random-feature lower bound (section 8.6) -----------------------------------------------

def _knapsack(values, dims):
    """Breakpoints (cumulative dims) and gains of max sum g v, sum g N <= m, 0 <= g <= 1: the
    fractional knapsack, filled greedily by v / N; the gain is linear between breakpoints."""
    v, N = np.clip(np.asarray(values, float), 0, None), np.asarray(dims, float)
    o = np.argsort(-v / N, kind="stable")
    return np.concatenate([[0.0], np.cumsum(N[o])]), np.concatenate([[0.0], np.cumsum(v[o])])


def _lb_parts(E: DegreeEnergies, d: int, method: str):
    """(constant, [(breakpoints, gains)], tail_breakpoint) with LB(m) = constant - sum gains(m)
    - tail term; see rf_risk_lower_bound_curve."""
    if method == "degrees":
        split = harmonic_split(E, d)
        groups = [_knapsack(split[k], [_fdim(d, j) for j in range(k, k % 2 - 1, -2)])
                  for k in range(E.max_degree + 1) if representable(k)]
        const = energy_floor(E)[0] + sum(float(np.clip(split[k], 0, None).sum())
                                         for k in range(E.max_degree + 1) if representable(k))
        return const, groups, False
    if method != "types":
        raise ParameterError("method", "rf_risk_lower_bound_curve", "one of {'types', 'degrees'}",
                             method)
    t = type_energies(E, d)
    return E.total, [_knapsack(t["alpha_bar"], t["N"])], True


def rf_risk_lower_bound_curve(E: DegreeEnergies, d: int, widths, method: str = "types"):
    """LB(m) <= E_W R*(m) for m i.i.d. uniform features relu(w . x), at each width (section 8.6).

    'types' (default): E_W[projection on the feature span] commutes with O(d), and the span lies
    in the closure of all relu features, which holds one copy of each H_j (direction beta_j), so
    E_W R*(m) = E f^2 - sum_j g_j alpha_j with 0 <= g_j <= 1, sum_j g_j N_j <= m; LB maximises
    the gain over g (fractional knapsack) with alpha_bar_j >= alpha_j, plus the types beyond
    max_degree (_tail_types). 'degrees': the weaker relaxation chaos by chaos,
    LB = F + sum_k min{sum_j (1 - g_j) a_{k,j} : sum_j g_j N_j <= m}, a_{k,j} = harmonic_split."""
    d = validate("rf_risk_lower_bound_curve", d=d)["d"]
    m = np.asarray(widths, dtype=float)
    if m.ndim != 1 or np.any(m < 0) or not np.all(np.isfinite(m)):
        raise ParameterError("widths", "rf_risk_lower_bound_curve",
                             "a 1-D array of finite widths >= 0", Described(f"{m!r}"))
    const, groups, tail = _lb_parts(E, d, method)
    lb = np.full(m.shape, const)
    for bp, gain in groups:
        lb -= np.interp(m, bp, gain)
    if tail:
        lb -= _tail_types(E, d, m)
    return lb


def rf_width_lower_bound_lp(E: DegreeEnergies, d: int, eps: float, method: str = "types"):
    """The smallest real m with LB(m) <= eps (rf_risk_lower_bound_curve, continuous, piecewise
    linear, non-increasing): E_W R*(m) <= eps needs m >= this. inf when LB stays above eps."""
    d = validate("rf_width_lower_bound_lp", d=d)["d"]
    eps = float(eps)
    const, groups, tail = _lb_parts(E, d, method)
    extra = [_fdim(d, E.max_degree + 1 + (E.max_degree % 2 == 0))] if tail else []
    bps = np.unique(np.concatenate([[0.0], extra] + [bp for bp, _ in groups]))
    lb = rf_risk_lower_bound_curve(E, d, bps, method)
    if lb[0] <= eps:
        return 0.0
    if lb[-1] > eps:
        return math.inf
    i = int(np.argmax(lb <= eps))
    x0, x1, y0, y1 = bps[i - 1], bps[i], lb[i - 1], lb[i]
    return float(x0 + (y0 - eps) / (y0 - y1) * (x1 - x0))


def _parity_energy(E: DegreeEnergies, j: int) -> float:
    """Energy of f in the chaos of the parity of j (all degrees, tail included when known)."""
    e = float(sum(E.energies[k] for k in range(j % 2, E.max_degree + 1, 2)))
    if E.parity == ("odd" if j % 2 else "even") or E.parity is None:
        e += max(E.tail, 0.0)
    return min(e, E.total)


def nu_bound(d: int, j: int) -> float:
    """nu_j(d) >= |beta_j beyond chaos j|^2 / |beta_j|^2 = sum_{k>j} beta_{j,k}^2 / |beta_j|^2:
    sum_{k>j, k = j mod 2} c_k^2 / (c_j^2 mu_{j,j}(d)), valid when mu_{q,j}(d) >= 1 for q > j
    (true for d >= max(1, j^2)); 0 for odd j (c_k = 0 for odd k >= 3). Section 8.6."""
    d = validate("nu_bound", d=d)["d"]
    j = _int("j", j, "nu_bound", 0)
    if j % 2 or not representable(j):
        return 0.0
    if d < max(1, j * j):
        raise ParameterError("d", "nu_bound", f"an int >= max(1, j^2) = {max(1, j * j)}", d)
    c = [float(x) for x in _coeffs("relu", j)]
    even_tail = 0.25 - sum(c[k] ** 2 for k in range(0, j + 1, 2))     # sum_{even k} c_k^2 = 1/4
    return max(even_tail, 0.0) / (c[j] ** 2 * contraction_eigenvalue(d, j, j))


def _closed_alpha(E: DegreeEnergies, d: int, j: int) -> float:
    """min(E_par(j), (sqrt(E_j) + sqrt(nu_j(d) E_par(j)))^2) >= alpha_j (E_par(j) if d < j^2)."""
    if not representable(j):
        return 0.0
    ep = _parity_energy(E, j)
    if d < max(1, j * j):
        return ep
    return min(ep, (math.sqrt(max(E.energies[j], 0.0)) + math.sqrt(nu_bound(d, j) * ep)) ** 2)


def rf_width_lower_bound_explicit(E: DegreeEnergies, d: int, eps: float,
                                  closed: bool = False) -> dict:
    """The explicit bound of section 8.6: for every representable J >= 1, with J' the next
    representable degree, A_j >= alpha_j and U_J >= sum_{j > J} alpha_j,

        E_W R*(m) >= E f^2 - sum_{j<J} A_j - (m / N_J(d)) A_J - (m / N_J'(d)) U_J   ==>
        m*_RF(eps) >= (E f^2 - eps - sum_{j<J, rep} A_j) / (A_J / N_J(d) + U_J / N_J'(d)).

    closed=False: A_j = alpha_bar_j (type_energies), U_J from them and the tail. closed=True:
    only E_k and constants: A_j = min(E_par(j), (sqrt(E_j) + sqrt(nu_j(d) E_par(j)))^2) (the top
    piece is at most E_j, the other copies carry at most a share nu_j of beta_j), U_J = E_par(J').
    Returns the best J with value, N_J, c = value / N_J and K(eps). For halfspaces and J = 1 both
    give (pi/2)(1 - eps) d."""
    d = validate("rf_width_lower_bound_explicit", d=d)["d"]
    eps = float(eps)
    K = E.max_degree
    if closed:
        A = np.array([_closed_alpha(E, d, j) for j in range(K + 1)])
    else:
        A = type_energies(E, d)["alpha_bar"]
    best = {"value": 0.0, "J": None}
    for J in (j for j in range(1, K) if representable(j)):
        Jn = J + 1 if J == 0 else (2 if J == 1 else J + 2)
        if closed:
            U = _parity_energy(E, Jn)
        else:
            U = min(_parity_energy(E, Jn), float(sum(
                A[j] for j in range(J + 1, K + 1) if representable(j))) + float(
                _tail_types(E, d, np.array(np.inf))))
        num = E.total - eps - sum(A[j] for j in range(J) if representable(j))
        den = A[J] / _fdim(d, J) + U / _fdim(d, Jn)
        if num > 0 and den > 0 and num / den > best["value"]:
            best.update(value=float(num / den), J=J, N_J=_fdim(d, J),
                        c=float(num / den / _fdim(d, J)), numerator=float(num),
                        A_J=float(A[J]), U_J=float(U))
    best["K"] = degree_floor(E, eps)
    return best


def reach_probability_bound(E: DegreeEnergies, d: int, m: int, eps: float,
                            method: str = "types") -> float:
    """P_W(R*(m) <= eps) <= (E f^2 - LB(m)) / (E f^2 - eps) (Markov's inequality on the
    non-negative E f^2 - R*(m), whose mean is at most E f^2 - LB(m); section 8.6)."""
    v = validate("reach_probability_bound", d=d, m=m)
    if not eps < E.total:
        raise ParameterError("eps", "reach_probability_bound", f"a float < E f^2 = {E.total}", eps)
    lb = float(rf_risk_lower_bound_curve(E, v["d"], [v["m"]], method)[0])
    return float(min(1.0, max(0.0, (E.total - lb) / (E.total - eps))))


# --- b(w) = E[f(z) relu(w . x)] without sampling x (section 8.7) --------------------------------

@lru_cache(maxsize=None)
def _xor_series(K: int):
    """Coefficients of b(w) = sum_{i,j odd, i+j <= K} c_{i+j} sqrt((i+j)!/(i! j!)) a_i a_j p^i q^j
    and the per-degree weights |c_k| sqrt(E_k) and tail constants of the truncation bound."""
    K2 = 4 * K
    c, a = _coeffs("relu", K2), _coeffs("sign", K2)
    odd = list(range(1, K, 2))
    with mp.workdps(30):
        C = np.array([[float(c[i + j] * mp.sqrt(mp.binomial(i + j, i)) * a[i] * a[j])
                       if i + j <= K else 0.0 for j in odd] for i in odd])
        Ex = _xor_energy_mp(K2)
        w = np.array([float(abs(c[k]) * mp.sqrt(Ex[k])) for k in range(K2 + 1)])
        rest = float(mp.sqrt(max(mp.mpf(_tails("relu", K2)), 0)
                             * max(1 - mp.fsum(Ex), 0)))
    return np.array(odd), C, w, rest


def xor_series(max_degree: int = 120) -> dict:
    """The numbers behind feature_correlation('xor'), for ports (sim.rf_population): powers
    'odd' (1, 3, ...), matrix 'C' with b = sum_{i,j} C[i,j] p^odd_i q^odd_j (i + j <= max_degree),
    'w' = |c_k| sqrt(E_k) for k <= 4 max_degree and 'rest' = sqrt(sum_{k>4K} c_k^2 sum_{k>4K} E_k)
    (the truncation bound of _xor_b). Read-only arrays."""
    K = _int("max_degree", max_degree, "xor_series", 2)
    odd, C, w, rest = _xor_series(K)
    for a in (odd, C, w):
        a.setflags(write=False)
    return {"odd": odd, "C": C, "w": w, "rest": rest}


def _xor_b(p, q, K):
    """sum_k c_k rho^k E[sign(z1 z2) h_k(u.z)] truncated at degree K, and the per-row bound
    sum_{K<k<=4K} |c_k| sqrt(E_k) rho^k + rho^(4K+2) sqrt(sum_{k>4K} c_k^2 sum_{k>4K} E_k)
    on the remainder (Cauchy-Schwarz: |E[f h_k(u.z)]| <= ||P_k f|| = sqrt(E_k)), rho^2 = p^2+q^2."""
    odd, C, w, rest = _xor_series(K)
    Pp = p[:, None] ** odd[None, :]
    Pq = q[:, None] ** odd[None, :]
    b = np.sum((Pp @ C) * Pq, axis=1)
    rho = np.sqrt(p ** 2 + q ** 2)
    ks = np.arange(K + 1, len(w))
    err = (rho[:, None] ** ks[None, :]) @ w[K + 1:] + rho ** (len(w) + 1) * rest
    return b, err


def feature_correlation(W, M, target: str, v=None, max_degree: int = 120):
    """b_i = E[f(z) relu(w_i . x)] for the rows of W (any norms), and a bound on its error.

    Mehler: with rho = |M^T w|, u = M^T w / rho, E[h_k(w.x) | z] = rho^k h_k(u.z), so
    b(w) = |w| sum_k c_k rho^k E[f(z) h_k(u.z)] (unit w in the sum). 'halfspace' sign(v.z):
    E[f h_k(u.z)] = a_k (u.v)^k, and only k = 1 survives: b = w.Mv / sqrt(2 pi) (exact, section
    2.2). 'relu' relu(v.z): the arc-cosine kernel k1(w, Mv) (exact). 'xor' sign(z1 z2):
    h_k(u1 z1 + u2 z2) = sum_{i+j=k} sqrt(k!/(i! j!)) u1^i u2^j h_i(z1) h_j(z2) gives the
    series of _xor_b, truncated at max_degree with an explicit bound. v: unit vector of R^r
    (default e_1). Returns (b, err), err[i] >= |b_i - exact|."""
    where = "feature_correlation"
    W = check_matrix("W", W, where, "(m, d)")
    M = check_orthonormal("M", M, where, d=W.shape[1])
    target = _target(target, where)
    K = _int("max_degree", max_degree, where, 2)
    nrm = np.linalg.norm(W, axis=1)
    if np.any(nrm == 0):
        raise ParameterError("W", where, "an array with nonzero rows", Described("a zero row"))
    Wn = W / nrm[:, None]
    r = M.shape[1]
    if target == "xor":
        if r < 2:
            raise ParameterError("M", where, "a (d, r) array with r >= 2 for 'xor'",
                                 Described(f"an array of shape {M.shape}"))
        P = Wn @ M[:, :2]
        b, err = _xor_b(P[:, 0], P[:, 1], K)
        return nrm * b, nrm * err
    v = np.eye(r)[0] if v is None else check_matrix("v", v, where, f"({r},)", ndim=1, cols=r)
    if abs(np.linalg.norm(v) - 1) > 1e-8:
        raise ParameterError("v", where, "a unit vector",
                             Described(f"norm {np.linalg.norm(v):.6g}"))
    u = M @ v
    if target == "halfspace":
        return nrm * (Wn @ u) / math.sqrt(2 * math.pi), np.zeros(len(W))
    return nrm * arccos_kernel(Wn, u[None, :])[:, 0], np.zeros(len(W))


# --- the population risk of the best head, every width at once (section 8.8) -------------------

def cholesky_risk_curve(G, B, total: float, jitter: float = 0.0):
    """R(m) = total - sum_{i<=m} |Y_i|^2, Y = L^{-1} B, G = L L^T, for m = 1..len(G).

    The Cholesky factor of a leading block of G is the leading block of L, and L_m y = B_m is
    the first m rows of the full solve, so b_m^T G_m^{-1} b_m = sum_{i<=m} y_i^2: one
    factorisation gives every width. B may have several columns (their contributions add: pass
    columns scaled by 1/sqrt(t) to average t targets). If the factorisation fails, a relative
    jitter 1e-12 * mean(diag G), then x10 up to 1e-6, is added and returned."""
    G = np.asarray(G, dtype=float)
    B = np.asarray(B, dtype=float).reshape(len(G), -1)
    scale = float(np.mean(np.diag(G)))
    tries = [jitter] + [scale * 10.0 ** e for e in range(-12, -5)]
    for jit in tries:
        try:
            L = cholesky(G + jit * np.eye(len(G)), lower=True, check_finite=False)
            break
        except LinAlgError:
            continue
    else:
        raise LinAlgError("cholesky_risk_curve: Gram not positive definite even with jitter 1e-6")
    Y = solve_triangular(L, B, lower=True, check_finite=False)
    return total - np.cumsum(np.sum(Y ** 2, axis=1)), jit, Y


def gram_min_eig_lower_bound(W, max_degree: int = 60) -> float:
    """A certified lower bound on lambda_min of the arc-cosine Gram of W (section 8.8):
    G = D (sum_k c_k^2 C^{o k}) D, C = cosines, D = diag|w_i|; Hadamard powers are PSD with unit
    diagonal, Gershgorin gives lambda_min(C^{o k}) >= 1 - max_i sum_{j!=i} |C_ij|^k, and Weyl
    adds the bounds: lambda_min >= min|w|^2 sum_k c_k^2 max(0, 1 - max_i sum_j |C_ij|^k)."""
    W = check_matrix("W", W, "gram_min_eig_lower_bound", "(m, d)")
    K = _int("max_degree", max_degree, "gram_min_eig_lower_bound", 1)
    nrm = np.linalg.norm(W, axis=1)
    Wn = W / nrm[:, None]
    A = np.abs(Wn @ Wn.T)
    np.fill_diagonal(A, 0.0)
    c = relu_hermite(K)
    lam, P = 0.0, np.ones_like(A)
    for k in range(1, K + 1):
        P *= A
        if c[k] != 0:
            lam += c[k] ** 2 * max(0.0, 1.0 - float(P.sum(1).max()))
    return float(lam * nrm.min() ** 2)


def rf_population_risk_curve(W, M, target: str, v=None, max_degree: int = 120,
                             average: bool = False, certify: bool = False) -> dict:
    """Population risk of the best linear head on the first m features relu(w_i . x), every m:
    R(m) = E f^2 - b_{1:m}^T G_{1:m}^{-1} b_{1:m} (section 8.8), G the arc-cosine Gram
    (population.arccos_kernel), b from feature_correlation, one Cholesky factorisation, float64.

    average=True ('halfspace' only): E_v over v ~ Unif(S^{r-1}), E_v b b^T = W M M^T W^T/(2 pi r)
    (sections 2.2, 2.5). certify=True adds risk_error_bound, a bound on |R(m) - computed| from the
    truncation of b: (e/sqrt(lam))(2 |y_{1:m}| + e/sqrt(lam)), e = |err_{1:m}|, lam from
    gram_min_eig_lower_bound (inf when that bound is 0)."""
    where = "rf_population_risk_curve"
    W = check_matrix("W", W, where, "(m, d)")
    M = check_orthonormal("M", M, where, d=W.shape[1])
    target = _target(target, where)
    total = 0.5 if target == "relu" else 1.0
    if average:
        if target != "halfspace":
            raise ParameterError("average", where, "False unless target='halfspace'", average)
        B = (W @ M) / math.sqrt(2 * math.pi * M.shape[1])
        err = np.zeros(len(W))
    else:
        B, err = feature_correlation(W, M, target, v, max_degree)
    risk, jit, Y = cholesky_risk_curve(arccos_kernel(W), B, total)
    out = {"risk": risk, "widths": np.arange(1, len(W) + 1), "jitter": jit, "total": total,
           "b_error": float(np.linalg.norm(err)), "risk_error_bound": None}
    if certify:
        lam = gram_min_eig_lower_bound(W)
        e = np.sqrt(np.cumsum(err ** 2))
        y = np.sqrt(np.cumsum(np.sum(Y ** 2, axis=1)))
        out["risk_error_bound"] = (e / math.sqrt(lam)) * (2 * y + e / math.sqrt(lam)) \
            if lam > 0 else np.full(len(W), math.inf)
        out["gram_min_eig_lower_bound"] = lam
    return out
