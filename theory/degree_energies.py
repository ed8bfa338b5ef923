"""Energy per Hermite degree of the downstream targets (derived here; docs/derivations.md section
8.3): the DegreeEnergies record (the energies E_k and the contraction inner products of the
coefficient tensors), its exact values for sign(v.z), sign(z1 z2) and relu(v.z), its Monte Carlo
values for families of tasks, the floor (the energy that no width of bias-free ReLU features
reduces) and the degree floor K(eps). The Hermite algebra: theory/hermite.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np

from .hermite import (_alphas, _coeffs, _contraction_map, _cross_exact, _cross_keys, _int,
                      representable)
from .params import ParameterError, check_matrix, validate

__all__ = ["TARGETS", "DegreeEnergies", "target_energies", "family_energies", "energy_floor",
           "asymptotic_risk", "degree_floor"]


#: downstream targets with exact Hermite tables: sign(v.z), sign(z1 z2), relu(v.z)
TARGETS = ("halfspace", "xor", "relu")


# --- validation helper (names not in theory.params.PARAMS; same message template) ----------

def _target(value, where):
    if value not in TARGETS:
        raise ParameterError("target", where, "one of {" + ", ".join(map(repr, TARGETS)) + "}",
                             value)
    return value


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


# --- the floor and the degree floor K(eps) (section 8.3) -------------------------------------

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
