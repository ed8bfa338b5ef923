"""Closed forms of the reference model, derived with sympy from their integral definitions.

Nothing here is typed in: each function states an expectation as an integral, reduces it with
the steps written in docs/derivations.md section 2 (rotational invariance -> a 2-D Gaussian
integral -> polar coordinates), and lets sympy do the radial and the angular integrals. The
angular integrand carries sign/indicator factors sign(cos(theta - phi)) and
1{cos(theta - phi) > 0}; :func:`angular_integral` splits the range at their zeros and proves
that the split is valid for every angle in the stated open range (no two breakpoints cross).

All results are cached; importing this module does no work.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from . import symbols as S

__all__ = [
    "R", "theta", "alpha", "wnorm", "wnorm2", "radial_moment", "Factor", "angular_integral",
    "e_sign_relu", "e_sign_indicator_x", "halfspace_kernel", "sphere_second_moment",
    "indicator_second_moment",
    "flip_mean", "arccos_kernel0", "arccos_kernel1", "relu_moments", "pc_objective_matrix",
    "one_step_population", "coefficients", "pc_gradient_coefficient",
]

R = sp.Symbol("R", positive=True)            # polar radius
theta = sp.Symbol("theta", real=True)        # polar angle (integration variable)
alpha = sp.Symbol("alpha", positive=True)    # angle between two directions, in (0, pi)
wnorm = sp.Symbol("|w|", positive=True)
wnorm2 = sp.Symbol("|w'|", positive=True)
_ALPHA_RANGE = sp.Interval.open(0, sp.pi)
_REPRESENTATIVES = (sp.Rational(1), sp.Rational(2))  # two points of (0, pi)
# one full period of a 2pi-periodic angular integrand, placed so that no zero of cos(theta) or
# cos(theta - alpha) crosses its ends while alpha runs over (0, pi)
_PERIOD = (-sp.pi / 2, 3 * sp.pi / 2)


@lru_cache(maxsize=None)
def radial_moment(k: int) -> sp.Expr:
    """int_0^oo R^k * R exp(-R^2/2) / (2 pi) dR: the radial part of a 2-D standard normal.

    The 2-D standard normal density in polar coordinates is exp(-R^2/2)/(2 pi) R dR dtheta
    (docs/derivations.md section 2.1).
    """
    return sp.simplify(sp.integrate(R ** k * R * sp.exp(-R ** 2 / 2) / (2 * sp.pi), (R, 0, sp.oo)))


@dataclass(frozen=True)
class Factor:
    """sign(cos(theta - phase)) (kind 'sign') or 1{cos(theta - phase) > 0} (kind 'ind')."""

    kind: str
    phase: sp.Expr

    def value(self, th: sp.Expr) -> sp.Expr:
        c = sp.cos(th - self.phase)
        if self.kind == "sign":
            return sp.sign(c)
        return sp.Piecewise((1, c > 0), (0, True))


def _crosses(expr: sp.Expr) -> bool:
    """True when the affine-in-alpha expression has a zero strictly inside (0, pi)."""
    expr = sp.simplify(expr)
    if expr.free_symbols <= set():
        return False  # a constant: either identically zero (handled by caller) or never zero
    return not sp.solveset(sp.Eq(expr, 0), alpha, _ALPHA_RANGE).is_empty


def angular_integral(smooth: sp.Expr, factors: tuple[Factor, ...], lo: sp.Expr, hi: sp.Expr
                     ) -> sp.Expr:
    """int_lo^hi smooth(theta) * prod(factors) dtheta, exactly, for every alpha in (0, pi).

    The factors are constant between consecutive zeros of cos(theta - phase). Those zeros
    (phase + pi/2 + k pi) are affine in alpha; the function checks that none of them crosses
    lo, hi or another zero for alpha in (0, pi), so that one ordering, one set of pieces and one
    sign per piece hold on the whole range. Signs are read off at the midpoint of each piece at
    two representative alphas, which must agree.
    """
    cands: list[sp.Expr] = []
    for f in factors:
        for k in range(-4, 5):
            cands.append(sp.simplify(f.phase + sp.pi / 2 + k * sp.pi))
    a0 = _REPRESENTATIVES[0]
    inside = []
    for c in cands:
        if sp.simplify(c - lo) == 0 or sp.simplify(c - hi) == 0:
            continue
        if _crosses(c - lo) or _crosses(c - hi):
            raise ValueError(f"breakpoint {c} crosses the integration limits for alpha in (0, pi)")
        if lo.subs(alpha, a0) < c.subs(alpha, a0) < hi.subs(alpha, a0):
            if not any(sp.simplify(c - e) == 0 for e in inside):
                inside.append(c)
    for i, a in enumerate(inside):
        for b in inside[i + 1:]:
            if _crosses(a - b):
                raise ValueError(f"breakpoints {a} and {b} cross for alpha in (0, pi)")
    points = [lo] + sorted(inside, key=lambda e: float(e.subs(alpha, a0))) + [hi]
    total = sp.Integer(0)
    for a, b in zip(points[:-1], points[1:]):
        signs = set()
        for rep in _REPRESENTATIVES:
            mid = ((a + b) / 2).subs(alpha, rep)
            signs.add(sp.Mul(*[f.value(mid).subs(alpha, rep) for f in factors]).evalf(30))
        if len(signs) != 1:
            raise ValueError("sign pattern of the factors is not constant on a piece")
        const = sp.nsimplify(signs.pop())
        if const != 0:
            total += const * sp.integrate(smooth, (theta, a, b))
    return sp.simplify(total)


@lru_cache(maxsize=None)
def e_sign_relu() -> sp.Expr:
    """E_x[sign(u.x) relu(w.x)], x ~ N(0, I_d), |u| = 1, angle alpha between w and u.

    docs/derivations.md section 2.2: rotate so that w = |w| e1, u = cos(alpha) e1 + sin(alpha) e2;
    in polar coordinates of (x1, x2): relu(w.x) = |w| R max(cos theta, 0), sign(u.x) =
    sign(cos(theta - alpha)). Result: |w| cos(alpha) / sqrt(2 pi) = (w.u)/sqrt(2 pi).
    """
    ang = angular_integral(sp.cos(theta), (Factor("sign", alpha),), -sp.pi / 2, sp.pi / 2)
    return sp.simplify(wnorm * radial_moment(1) * ang)


@lru_cache(maxsize=None)
def e_sign_indicator_x() -> tuple[sp.Expr, sp.Expr]:
    """E_x[sign(u.x) 1{w.x > 0} x] in the basis (w/|w|, e2) of span(w, u) (section 2.3).

    Components orthogonal to span(w, u) vanish (they are independent of the rest and have mean
    0). Result: (cos alpha, sin alpha)/sqrt(2 pi), i.e. u/sqrt(2 pi), whatever w != 0.
    """
    f = (Factor("sign", alpha),)
    c1 = angular_integral(sp.cos(theta), f, -sp.pi / 2, sp.pi / 2)
    c2 = angular_integral(sp.sin(theta), f, -sp.pi / 2, sp.pi / 2)
    return sp.simplify(radial_moment(1) * c1), sp.simplify(radial_moment(1) * c2)


@lru_cache(maxsize=None)
def halfspace_kernel() -> sp.Expr:
    """K = E_v[sign(v.z) sign(v.z')], v ~ Unif(S^{r-1}), angle alpha between z and z' (2.4).

    sign(v.z) = sign(g.z) for g ~ N(0, I_r), v = g/|g|; only the projection of g on span(z, z'),
    a 2-D standard normal, matters. Result: 1 - 2 alpha/pi = (2/pi) arcsin(cos alpha).
    """
    f = (Factor("sign", sp.Integer(0)), Factor("sign", alpha))
    return sp.simplify(radial_moment(0) * angular_integral(sp.Integer(1), f, *_PERIOD))


@lru_cache(maxsize=None)
def sphere_second_moment() -> sp.Expr:
    """E[v_1^2] for v ~ Unif(S^{r-1}), r >= 2 (section 2.5).

    v_1^2 = g_1^2/(g_1^2 + chi^2_{r-1}) ~ Beta(1/2, (r-1)/2); the integral of b against that
    density is 1/r. (For r = 1, v = +-1 and v_1^2 = 1 = 1/r too.)
    """
    b = sp.Symbol("b", positive=True)
    dens = b ** sp.Rational(-1, 2) * (1 - b) ** ((S.r - 3) / 2)
    num = sp.integrate(b * dens, (b, 0, 1), conds="none")
    den = sp.integrate(dens, (b, 0, 1), conds="none")
    return sp.simplify(sp.gammasimp(num / den))


@lru_cache(maxsize=None)
def flip_mean() -> sp.Expr:
    """E[xi] for the label-flip variable xi = -1 w.p. p, +1 w.p. 1 - p (section 2.6)."""
    return sp.simplify(sp.Sum(sp.Piecewise((1 - S.p, sp.Eq(sp.Symbol("k"), 1)), (S.p, True))
                              * (2 * sp.Symbol("k") - 1), (sp.Symbol("k"), 0, 1)).doit())


@lru_cache(maxsize=None)
def arccos_kernel0() -> sp.Expr:
    """E[1{w.x > 0} 1{w'.x > 0}] = (pi - alpha)/(2 pi) (Cho and Saul 2009, degree 0; 2.7)."""
    f = (Factor("ind", sp.Integer(0)), Factor("ind", alpha))
    return sp.simplify(radial_moment(0) * angular_integral(sp.Integer(1), f, *_PERIOD))


@lru_cache(maxsize=None)
def arccos_kernel1() -> sp.Expr:
    """E[relu(w.x) relu(w'.x)] = |w||w'| (sin a + (pi - a) cos a)/(2 pi) (Cho-Saul degree 1; 2.7)."""
    f = (Factor("ind", sp.Integer(0)), Factor("ind", alpha))
    ang = angular_integral(sp.cos(theta) * sp.cos(theta - alpha), f, *_PERIOD)
    return sp.simplify(wnorm * wnorm2 * radial_moment(2) * ang)


@lru_cache(maxsize=None)
def indicator_second_moment() -> sp.Expr:
    """E[1{w.x > 0} (e.x)^2] for unit e at angle alpha to w (section 4.3): in polar coordinates
    radial_moment(2) * int_{-pi/2}^{pi/2} cos(theta - alpha)^2 dtheta = 1/2, whatever alpha."""
    ang = angular_integral(sp.cos(theta - alpha) ** 2, (Factor("ind", sp.Integer(0)),),
                           -sp.pi / 2, sp.pi / 2)
    val = sp.simplify(radial_moment(2) * ang)
    if val.has(alpha):
        raise AssertionError(f"E[1{{w.x>0}} (e.x)^2] depends on the angle: {val}")
    return val


@lru_cache(maxsize=None)
def relu_moments() -> tuple[sp.Expr, sp.Expr]:
    """(E[relu(s)], E[relu(s)^2]) for s ~ N(0, |w|^2): |w|/sqrt(2 pi) and |w|^2/2 (2.7)."""
    s = sp.Symbol("s", real=True)
    phi = sp.exp(-s ** 2 / 2) / sp.sqrt(2 * sp.pi)
    m1 = sp.integrate(wnorm * s * phi, (s, 0, sp.oo))
    m2 = sp.integrate(wnorm ** 2 * s ** 2 * phi, (s, 0, sp.oo))
    return sp.simplify(m1), sp.simplify(m2)


@lru_cache(maxsize=None)
def coefficients() -> dict[str, sp.Expr]:
    """The scalar constants read off the derived closed forms.

    - ``k_relu``: E[sign(u.x) relu(w.x)] = k_relu * (w.u)
    - ``k_ind``:  E[sign(u.x) 1{w.x>0} x] = k_ind * u
    - ``sphere``: E[v v^T] = sphere * I_r
    - ``flip``:   E[xi] with flips
    """
    ey = e_sign_relu()
    k_relu = sp.simplify(ey / (wnorm * sp.cos(alpha)))
    c1, c2 = e_sign_indicator_x()
    k_ind = sp.simplify(c1 / sp.cos(alpha))
    if sp.simplify(c2 - k_ind * sp.sin(alpha)) != 0:
        raise AssertionError("E[y 1{w.x>0} x] is not parallel to u")
    for name, c in (("k_relu", k_relu), ("k_ind", k_ind)):
        if c.has(alpha) or c.has(wnorm):
            raise AssertionError(f"{name} depends on the angle or the norm: {c}")
    return {"k_relu": k_relu, "k_ind": k_ind, "sphere": sphere_second_moment(),
            "flip": flip_mean()}


@lru_cache(maxsize=None)
def pc_objective_matrix():
    """L_PC(W) and its gradient as sympy matrix expressions (section 2.8).

    L_PC(W) = -E_{x,x'}[K(x,x') <relu(Wx), relu(Wx')>] with K = E_t[y_t(x) y_t(x')]. Writing K
    as that expectation and using the independence of x and x' (Fubini):
      L_PC(W) = -sum_i E_v[(E_x[y_v(x) relu(w_i.x)])^2] = -sum_i flip^2 k_relu^2 E_v[(w_i.Mv)^2]
              = -flip^2 k_relu^2 sphere * ||W M||_F^2.
    Returns (L, grad, c) with L = -c tr(M^T W^T W M), grad = dL/dW.
    """
    mm, dd, rr = S.m, S.d, S.r
    W = sp.MatrixSymbol("W", mm, dd)
    M = sp.MatrixSymbol("M", dd, rr)
    k = coefficients()
    c = sp.simplify(k["flip"] ** 2 * k["k_relu"] ** 2 * k["sphere"])
    L = -c * sp.Trace(M.T * W.T * W * M)
    grad = L.diff(W)
    return L, grad, c


@lru_cache(maxsize=None)
def pc_gradient_coefficient() -> sp.Expr:
    """The scalar g with grad L_PC(W) = g * W M M^T, read off the sympy matrix derivative."""
    _, grad, _ = pc_objective_matrix()
    W = sp.MatrixSymbol("W", S.m, S.d)
    M = sp.MatrixSymbol("M", S.d, S.r)
    if not (grad.is_MatMul and grad.args[1:] == (W, M, M.T)):
        raise AssertionError(f"unexpected form of grad L_PC: {grad}")
    return sp.simplify(grad.args[0])


@lru_cache(maxsize=None)
def one_step_population():
    """Population one-step update W1 = c1 * W0 M M^T and its link to grad L_PC (section 2.9).

    Head: a_{t,i} = eta_a E_x[y relu(w_i.x)] = eta_a flip k_relu (w_i.M v_t).
    Representation (weight decay 1/eta_W): w1_i = eta_W E_t[a_{t,i} E_x[y 1{w_i.x>0} x]]
      = eta_a eta_W flip^2 k_relu k_ind M E[v v^T] M^T w_i.
    Returns (c1, ratio) where ratio = c1 / (eta_a eta_W c_PC) is the factor in
    W1 = -ratio * eta_a eta_W grad L_PC(W0) / (2 c_PC) ... i.e. W1 = -(eta_a eta_W / 2) grad L_PC.
    """
    k = coefficients()
    c1 = sp.simplify(S.eta_a * S.eta_w * k["flip"] ** 2 * k["k_relu"] * k["k_ind"] * k["sphere"])
    _, _, c_pc = pc_objective_matrix()
    # grad L_PC = -2 c_pc W M M^T, so W1 = c1 W0 M M^T = -(c1 / (2 c_pc)) grad L_PC(W0)
    factor = sp.simplify(c1 / (2 * c_pc))
    return c1, factor
