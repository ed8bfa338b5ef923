"""High-precision quadrature twins of the closed forms (mpmath; docs/derivations.md section 3).

A different route from :mod:`.derive`: Cartesian coordinates, the inner Gaussian variable
integrated through its conditional law (Phi = normal cdf, phi = normal pdf), and the rest by
tanh-sinh quadrature at the caller's working precision (``mp.workdps(40)`` in the tests).

With g1, g2 independent standard normals and alpha in (0, pi):
  sign(cos(a) g1 + sin(a) g2) has conditional mean 2 Phi(g1 cot a) - 1 given g1,
  E[g2 sign(c + s g2)] = 2 phi(c/s),   E[relu(c + s g2)] = c Phi(c/s) + s phi(c/s).
"""
from __future__ import annotations

import mpmath as mp

__all__ = ["ey_relu", "ey_indicator_x", "halfspace_kernel", "sphere_moment", "arccos_kernel0",
           "arccos_kernel1", "relu_moments", "pc_row_terms", "pc_objective", "one_step_row"]


def _phi(g):
    return mp.exp(-g * g / 2) / mp.sqrt(2 * mp.pi)


def _Phi(g):
    return mp.ncdf(g)


def _half_line(f):
    """int_0^oo f for Gaussian-weighted f: Gauss-Legendre on [0, 16]; the tail beyond 16 is
    below exp(-128) relative, far under the 25 digits the twins are checked to."""
    return mp.quad(f, [0, 4, 8, 16], method="gauss-legendre")


def _cond_sign_mean(g, a):
    """E[sign(cos(a) g + sin(a) g2) | g] for alpha in (0, pi)."""
    return 2 * _Phi(g * mp.cot(a)) - 1


def ey_relu(wn, a, p=0):
    """E[y relu(w.x)] = (1-2p) |w| int_0^oo g phi(g) (2 Phi(g cot a) - 1) dg."""
    a = mp.mpf(a)
    return (1 - 2 * mp.mpf(p)) * mp.mpf(wn) * _half_line(lambda g: g * _phi(g) * _cond_sign_mean(g, a))


def ey_indicator_x(a, p=0):
    """E[y 1{w.x>0} x] in the basis (w/|w|, e2): components by 1-D quadrature."""
    a = mp.mpf(a)
    f = 1 - 2 * mp.mpf(p)
    c1 = _half_line(lambda g: g * _phi(g) * _cond_sign_mean(g, a))
    c2 = _half_line(lambda g: _phi(g) * 2 * _phi(g * mp.cos(a) / mp.sin(a)))
    return [f * c1, f * c2]


def halfspace_kernel(a, p=0):
    """E_v[sign(v.z) sign(v.z')] = 2 int_0^oo phi(g)(2 Phi(g cot a) - 1) dg (times (1-2p)^2)."""
    a = mp.mpf(a)
    return (1 - 2 * mp.mpf(p)) ** 2 * 2 * _half_line(lambda g: _phi(g) * _cond_sign_mean(g, a))


def sphere_moment(r):
    """E[v_1^2] on S^{r-1}: int t^2 (1-t^2)^((r-3)/2) dt / int (1-t^2)^((r-3)/2) dt, r >= 2."""
    return _sphere_t_expectation(r, lambda t: t * t)


def arccos_kernel0(a):
    """P(w.x > 0, w'.x > 0) = int_0^oo phi(g) Phi(g cot a) dg."""
    a = mp.mpf(a)
    return _half_line(lambda g: _phi(g) * _Phi(g * mp.cot(a)))


def arccos_kernel1(n1, n2, a):
    """E[relu(w.x) relu(w'.x)] = |w||w'| int_0^oo g phi(g) E[relu(g cos a + g2 sin a)] dg."""
    a = mp.mpf(a)
    c, s = mp.cos(a), mp.sin(a)
    inner = lambda g: g * c * _Phi(g * c / s) + s * _phi(g * c / s)
    return mp.mpf(n1) * mp.mpf(n2) * _half_line(lambda g: g * _phi(g) * inner(g))


def relu_moments(wn):
    """(E relu(s), E relu(s)^2) for s ~ N(0, |w|^2), by quadrature."""
    wn = mp.mpf(wn)
    return [wn * _half_line(lambda g: g * _phi(g)), wn ** 2 * _half_line(lambda g: g * g * _phi(g))]


def _sphere_t_expectation(r, f):
    """E[f(t)] for t = <v, e> with v ~ Unif(S^{r-1}): density prop. to (1-t^2)^((r-3)/2)."""
    if r == 1:
        return (f(mp.mpf(1)) + f(mp.mpf(-1))) / 2
    # t = sin(s): (1-t^2)^((r-3)/2) dt = cos(s)^(r-2) ds, a smooth integrand on [-pi/2, pi/2]
    k = r - 2
    h = mp.pi / 2
    num = mp.quad(lambda s: f(mp.sin(s)) * mp.cos(s) ** k, [-h, h], method="gauss-legendre")
    den = mp.quad(lambda s: mp.cos(s) ** k, [-h, h], method="gauss-legendre")
    return num / den


def _row_geometry(w, M):
    """|w|, |M^T w| and the unit vectors w/|w|, M(M^T w)/|M^T w| (mpmath matrices)."""
    wn = mp.norm(w)
    a = M.T * w
    an = mp.norm(a)
    return wn, an, w / wn, (M * a) / an if an != 0 else None


def _J(c):
    """J(alpha) = E[sign(u.x) relu(w.x)] / |w| as a function of c = cos(alpha), by quadrature."""
    if c >= 1:
        return _half_line(lambda g: g * _phi(g))
    if c <= -1:
        return -_half_line(lambda g: g * _phi(g))
    return ey_relu(1, mp.acos(c))


def pc_row_terms(w, M, p=0):
    """-E_v[(E_x[y_v relu(w.x)])^2] for one row w: the row's share of L_PC (nested quadrature).

    v ~ Unif(S^{r-1}) enters only through t = <v, M^T w/|M^T w|>; cos(alpha) = t |M^T w| / |w|.
    """
    wn, an, _, _ = _row_geometry(w, M)
    if an == 0:
        return mp.mpf(0)
    f = 1 - 2 * mp.mpf(p)
    return -_sphere_t_expectation(M.cols, lambda t: (f * wn * _J(t * an / wn)) ** 2)


def pc_objective(W, M, p=0):
    """L_PC(W) = sum over rows of :func:`pc_row_terms` (Fubini over x, x' independent)."""
    return mp.fsum(pc_row_terms(W[i, :].T, M, p) for i in range(W.rows))


def one_step_row(w, M, eta_a=1, eta_w=1, p=0):
    """Population one-step update of one row: eta_W E_v[a(v) E_x[y 1{w.x>0} x]], a(v) = eta_a E[y relu].

    E_x[y 1{w.x>0} x] = c1(a) w_hat + c2(a) e2 with e2 = (u - cos(a) w_hat)/sin(a); averaging
    over v with t fixed replaces u by t M a_hat (the rest of v has mean 0). Returns an mp matrix.
    """
    wn, an, what, ahat = _row_geometry(w, M)
    if an == 0:
        return mp.matrix(w.rows, 1)
    f = 1 - 2 * mp.mpf(p)
    memo: dict = {}

    def parts(t):
        if t in memo:
            return memo[t]
        memo[t] = _parts(t)
        return memo[t]

    def _parts(t):
        c = t * an / wn
        head = mp.mpf(eta_a) * f * wn * _J(c)
        if abs(c) >= 1:  # u = +-w_hat: E[y 1{w.x>0} x] = (1-2p) J(c) w_hat, J(-1) = -J(1)
            return head * f * _J(c), mp.mpf(0)
        a = mp.acos(c)
        c1, c2 = ey_indicator_x(a, p)
        s = mp.sin(a)
        # coefficient of w_hat and of M a_hat
        return head * (c1 - c2 * c / s), head * c2 * t / s

    cw = _sphere_t_expectation(M.cols, lambda t: parts(t)[0])
    ca = _sphere_t_expectation(M.cols, lambda t: parts(t)[1])
    return mp.mpf(eta_w) * (cw * what + ca * ahat)
