"""Population quantities of the reference model, evaluated from the closed forms of
:mod:`.derive` (sympy -> numpy / mpmath). docs/derivations.md section 2.

Public functions take numpy arrays and validate them; ``*_mp`` twins evaluate the same closed
forms in mpmath at the working precision, for the comparison with quadrature.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

import mpmath as mp
import numpy as np
import sympy as sp

from . import derive as D
from . import symbols as S
from .angles import pair_angles
from .params import Described, ParameterError, check_matrix, check_orthonormal, validate

__all__ = ["constants", "ey_relu", "ey_indicator_x", "halfspace_kernel", "arccos_kernel",
           "relu_mean", "relu_second_moment", "pc_objective", "pc_gradient",
           "one_step_update", "pc_objective_mp", "halfspace_kernel_mp", "ey_relu_mp",
           "arccos_kernel1_mp", "arccos_kernel0_mp", "ey_indicator_x_mp", "sphere_moment_mp",
           "one_step_update_mp", "pc_gradient_mp", "relu_moments_mp"]


_COS, _SIN = sp.symbols("cos_alpha sin_alpha", real=True)


@lru_cache(maxsize=None)
def _np_fns():
    """The same closed forms lambdified for numpy arrays (float64)."""
    a = D.alpha
    return {
        "K": sp.lambdify(a, D.halfspace_kernel(), "numpy"),
        "k0": sp.lambdify(a, D.arccos_kernel0(), "numpy"),
        "k1": sp.lambdify((D.wnorm, D.wnorm2, a), D.arccos_kernel1(), "numpy"),
        # k1 with cos(alpha), sin(alpha) as arguments: pair_angles returns them with the angle,
        # so a Gram does not evaluate them again (the same expression, cos and sin substituted)
        "k1cs": sp.lambdify((D.wnorm, D.wnorm2, a, _COS, _SIN), D.arccos_kernel1().subs(
            {sp.cos(a): _COS, sp.sin(a): _SIN}), "numpy"),
    }


@lru_cache(maxsize=None)
def _fns():
    """Lambdified closed forms (built once, on first use)."""
    a = D.alpha
    return {
        "K": sp.lambdify(a, D.halfspace_kernel(), "mpmath"),
        "k0": sp.lambdify(a, D.arccos_kernel0(), "mpmath"),
        "k1": sp.lambdify((D.wnorm, D.wnorm2, a), D.arccos_kernel1(), "mpmath"),
        "ey": sp.lambdify((D.wnorm, a), D.e_sign_relu(), "mpmath"),
        "eyx": sp.lambdify(a, sp.Matrix(D.e_sign_indicator_x()), "mpmath"),
        "sphere": sp.lambdify(S.r, D.sphere_second_moment(), "mpmath"),
        "flip": sp.lambdify(S.p, D.flip_mean(), "mpmath"),
        "relu": sp.lambdify(D.wnorm, sp.Matrix(D.relu_moments()), "mpmath"),
    }


@lru_cache(maxsize=None)
def constants() -> dict[str, float]:
    """k_relu, k_ind (both 1/sqrt(2 pi)) and the population factors, as floats."""
    k = D.coefficients()
    _, _, c_pc = D.pc_objective_matrix()
    c1, factor = D.one_step_population()
    return {"k_relu": float(k["k_relu"]), "k_ind": float(k["k_ind"]),
            "c_pc": sp.lambdify((S.r, S.p), c_pc),
            "g_pc": sp.lambdify((S.r, S.p), D.pc_gradient_coefficient()),
            "c_one_step": sp.lambdify(
                (S.eta_a, S.eta_w, S.r, S.p), c1), "one_step_factor": sp.lambdify(
                (S.eta_a, S.eta_w), factor)}


def _noise(p, where):
    return validate(where, noise=p)["noise"]


# --- scalar closed forms (mpmath, any precision) ------------------------------------------

def _mpf(*xs):
    return [mp.mpf(x) for x in xs]


def ey_relu_mp(wn, alpha, p=0):
    """E[y relu(w.x)] with |w| = wn, angle alpha to u = Mv, flips p: (1-2p)|w| cos(alpha)/sqrt(2pi)."""
    wn, alpha, p = _mpf(wn, alpha, p)
    return _fns()["flip"](p) * _fns()["ey"](wn, alpha)


def ey_indicator_x_mp(alpha, p=0):
    """E[y 1{w.x>0} x] in the basis (w/|w|, e2): (1-2p)(cos a, sin a)/sqrt(2 pi)."""
    alpha, p = _mpf(alpha, p)
    v = _fns()["eyx"](alpha)
    return [_fns()["flip"](p) * v[0], _fns()["flip"](p) * v[1]]


def halfspace_kernel_mp(alpha, p=0):
    """K(x, x') for z, z' at angle alpha: (1-2p)^2 (1 - 2 alpha/pi)."""
    alpha, p = _mpf(alpha, p)
    return _fns()["flip"](p) ** 2 * _fns()["K"](alpha)


def arccos_kernel1_mp(n1_, n2_, alpha):
    """E[relu(w.x) relu(w'.x)] (Cho and Saul 2009, degree 1)."""
    return _fns()["k1"](*_mpf(n1_, n2_, alpha))


def arccos_kernel0_mp(alpha):
    """E[1{w.x>0} 1{w'.x>0}] (Cho and Saul 2009, degree 0)."""
    return _fns()["k0"](mp.mpf(alpha))


def sphere_moment_mp(r):
    """E[v_1^2] for v uniform on S^{r-1}: 1/r."""
    return _fns()["sphere"](mp.mpf(r))


def pc_objective_mp(W, M, p=0):
    """L_PC(W) in mpmath for mpmath matrices W (m x d), M (d x r): -(1-2p)^2 ||WM||_F^2/(2 pi r)."""
    WM = W * M
    s = mp.fsum(WM[i, j] ** 2 for i in range(WM.rows) for j in range(WM.cols))
    return -_c_pc_mp(M.cols, p) * s


def _c_pc_mp(r, p):
    """(1-2p)^2 k_relu^2 / r in mpmath: the factor of -||WM||_F^2 in L_PC."""
    f = _fns()
    return f["flip"](mp.mpf(p)) ** 2 * f["ey"](mp.mpf(1), mp.mpf(0)) ** 2 * f["sphere"](mp.mpf(r))


def pc_gradient_mp(W, M, p=0):
    """grad L_PC(W) in mpmath: the sympy matrix derivative -2 c_PC W M M^T."""
    g = sp.lambdify((S.r, S.p), D.pc_gradient_coefficient(), "mpmath")(*_mpf(M.cols, p))
    return g * (W * M * M.T)


def relu_moments_mp(wn):
    """(E relu(s), E relu(s)^2) for s ~ N(0, |w|^2), from the derived closed forms."""
    v = _fns()["relu"](mp.mpf(wn))
    return [v[0], v[1]]


def one_step_update_mp(W0, M, eta_a=1, eta_w=1, p=0):
    """Population one-step update in mpmath: (eta_a eta_W / 2) * 2 c_PC * W0 M M^T."""
    c1, factor = D.one_step_population()
    c = sp.lambdify((S.eta_a, S.eta_w, S.r, S.p), c1, "mpmath")(*_mpf(eta_a, eta_w, M.cols, p))
    return c * (W0 * M * M.T)


# --- numpy API -----------------------------------------------------------------------------

def ey_relu(w, u, noise: float = 0.0) -> float:
    """E_x[y relu(w.x)] for the halfspace task y = sign(u.x) (|u| = 1), flips with prob. noise."""
    w = check_matrix("w", w, "ey_relu", "(d,)", ndim=1)
    u = check_matrix("u", u, "ey_relu", f"({w.shape[0]},)", ndim=1, cols=w.shape[0])
    _unit("u", u, "ey_relu")
    return float((1 - 2 * _noise(noise, "ey_relu")) * constants()["k_relu"] * (w @ u))


def ey_indicator_x(w, u, noise: float = 0.0) -> np.ndarray:
    """E_x[y 1{w.x > 0} x] = (1-2p) u / sqrt(2 pi) for every w != 0 (|u| = 1)."""
    w = check_matrix("w", w, "ey_indicator_x", "(d,)", ndim=1)
    u = check_matrix("u", u, "ey_indicator_x", f"({w.shape[0]},)", ndim=1, cols=w.shape[0])
    _unit("u", u, "ey_indicator_x")
    if not np.any(w):
        raise ParameterError("w", "ey_indicator_x", "a nonzero vector", Described("the zero vector"))
    return (1 - 2 * _noise(noise, "ey_indicator_x")) * constants()["k_ind"] * u


def _unit(name, u, where):
    if abs(float(np.linalg.norm(u)) - 1.0) > 1e-8:
        raise ParameterError(name, where, "a unit vector",
                             Described(f"a vector of norm {np.linalg.norm(u):.6g}"))


def halfspace_kernel(z, zp, noise: float = 0.0) -> np.ndarray:
    """K(x, x') = E_t[y_t(x) y_t(x')] = (1-2p)^2 (2/pi) arcsin(<z, z'>/(|z||z'|)) (rows of z, zp).

    For x != x' (independent flips); the diagonal x = x' has K = 1.
    """
    z = np.atleast_2d(check_matrix("z", z, "halfspace_kernel", "(k, r) or (r,)",
                                   ndim=np.ndim(z) if np.ndim(z) in (1, 2) else 2))
    zp = np.atleast_2d(check_matrix("zp", zp, "halfspace_kernel", f"(k, {z.shape[1]})",
                                    ndim=np.ndim(zp) if np.ndim(zp) in (1, 2) else 2,
                                    cols=z.shape[1]))
    f = 1 - 2 * _noise(noise, "halfspace_kernel")
    ang = pair_angles(z / np.linalg.norm(z, axis=1, keepdims=True),
                      zp / np.linalg.norm(zp, axis=1, keepdims=True))[0]   # theory/angles.py
    return f ** 2 * _np_fns()["K"](ang)


class ContentMemo:
    """Results of a function of one small float array, remembered by the array's content
    (shape, dtype and a BLAKE2b digest of its bytes: an equal array gives the remembered result,
    a changed one is a new key) for the most recent arrays, within ``max_bytes`` of stored
    results; each call returns a fresh copy, so a caller may change it. For the Grams of one W
    that the bound subchecks ask for at every n of a grid and again in every round (C2's risk
    bound computed the same 64 x 64 Gram ~2000 times a run). Arrays of more than
    ``max_elements`` entries are not hashed, and results of more than ``max_result_bytes`` bytes
    (when given) are returned without being kept: a wide random-feature Gram is computed once."""

    def __init__(self, max_bytes: int = 64 << 20, max_elements: int = 1 << 16,
                 max_result_bytes: int | None = None):
        self._items: OrderedDict = OrderedDict()
        self._bytes, self._max_bytes, self._max = 0, max_bytes, max_elements
        self._max_result = max_result_bytes
        self._lock = threading.Lock()

    def __call__(self, fn, W: np.ndarray, *key) -> np.ndarray:
        if W.size > self._max:
            return fn()
        k = (W.shape, W.dtype.str, hashlib.blake2b(np.ascontiguousarray(W).data).digest(), *key)
        with self._lock:
            hit = self._items.get(k)
            if hit is not None:
                self._items.move_to_end(k)
                return hit.copy()
        out = fn()
        if self._max_result is not None and out.nbytes > self._max_result:
            return out
        with self._lock:
            if k not in self._items:
                self._items[k] = out.copy()
                self._bytes += out.nbytes
            while self._bytes > self._max_bytes and self._items:
                self._bytes -= self._items.popitem(last=False)[1].nbytes
        return out


_GRAMS = ContentMemo(max_result_bytes=512 * 512 * 8)   # Grams of at most 512 rows (float64)


def arccos_kernel(W1, W2=None, degree: int = 1) -> np.ndarray:
    """Gram of E[s(w_i.x) s(w'_j.x)] for s = relu (degree 1) or 1{. > 0} (degree 0), rows of W.
    A Gram of W with itself (``W2`` omitted) is remembered by W's content (:class:`ContentMemo`)
    up to 512 rows (2 MiB); a wider one (a random-feature Gram, computed once) is not."""
    W1 = check_matrix("W1", W1, "arccos_kernel", "(m, d)")
    if W2 is None:
        return _GRAMS(lambda: _arccos_kernel(W1, None, degree), W1, degree)
    return _arccos_kernel(W1, W2, degree)


def _arccos_kernel(W1, W2, degree):
    W2 = W1 if W2 is None else check_matrix("W2", W2, "arccos_kernel", f"(k, {W1.shape[1]})",
                                            cols=W1.shape[1])
    if degree not in (0, 1):
        raise ParameterError("degree", "arccos_kernel", "one of {0, 1}", degree)
    n1_ = np.linalg.norm(W1, axis=1)
    n2_ = np.linalg.norm(W2, axis=1)
    if np.any(n1_ == 0) or np.any(n2_ == 0):
        raise ParameterError("W1", "arccos_kernel", "an array with nonzero rows",
                             Described("an array with a zero row"))
    a, c, s = pair_angles(W1 / n1_[:, None], W2 / n2_[:, None])   # well conditioned: angles.py
    if degree == 0:
        return _np_fns()["k0"](a) * np.ones_like(a)
    return _np_fns()["k1cs"](n1_[:, None], n2_[None, :], a, c, s)


def relu_mean(wn) -> np.ndarray:
    """E[relu(w.x)] = |w|/sqrt(2 pi)."""
    return np.asarray(wn, dtype=float) / np.sqrt(2 * np.pi)


def relu_second_moment(wn) -> np.ndarray:
    """E[relu(w.x)^2] = |w|^2/2."""
    return np.asarray(wn, dtype=float) ** 2 / 2


def _check_WM(W, M, where, family):
    if family != "halfspace":
        raise ParameterError("family", where, "one of {'halfspace'} (the family with a closed "
                             "form)", family)
    W = check_matrix("W", W, where, "(m, d)")
    M = check_orthonormal("M", M, where, d=W.shape[1])
    return W, M


def pc_objective(W, M, family: str = "halfspace", noise: float = 0.0) -> float:
    """Population pseudo-contrastive objective (docs/model.md section 3), x and x' independent:

        L_PC(W) = -E_{x,x'}[K(x,x') <relu(Wx), relu(Wx')>] = -(1-2p)^2 ||W M||_F^2 / (2 pi r).

    W is m x d, M is d x r with orthonormal columns. docs/derivations.md section 2.8.
    """
    W, M = _check_WM(W, M, "pc_objective", family)
    p = _noise(noise, "pc_objective")
    return float(-constants()["c_pc"](M.shape[1], p) * np.sum((W @ M) ** 2))


def pc_gradient(W, M, family: str = "halfspace", noise: float = 0.0) -> np.ndarray:
    """grad L_PC(W) = -(1-2p)^2 W M M^T / (pi r) (sympy matrix derivative, section 2.8)."""
    W, M = _check_WM(W, M, "pc_gradient", family)
    p = _noise(noise, "pc_gradient")
    return constants()["g_pc"](M.shape[1], p) * (W @ M) @ M.T


def one_step_update(W0, M, eta_a: float = 1.0, eta_w: float = 1.0, family: str = "halfspace",
                    noise: float = 0.0) -> np.ndarray:
    """Population one-step update W1 = eta_a eta_W (1-2p)^2/(2 pi r) W0 M M^T (section 2.9).

    Equals -(eta_a eta_W / 2) grad L_PC(W0): the pseudo-contrastive step with the factor 1/2
    from differentiating one side of the pair (claim C6, population form).
    """
    W0, M = _check_WM(W0, M, "one_step_update", family)
    v = validate("one_step_update", eta_a=eta_a, eta_w=eta_w, noise=noise)
    c = constants()["c_one_step"](v["eta_a"], v["eta_w"], M.shape[1], v["noise"])
    return c * (W0 @ M) @ M.T
