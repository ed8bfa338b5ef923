"""Each closed form with its two twins, at fixed points, and the one table of tolerances.

neural-tangents style (docs/design.md): the tests walk :data:`TWINS` and compare
  closed form (mpmath, 40 digits)  vs  quadrature (mpmath)       to TOLERANCES["quad_digits"];
  closed form (float64)            vs  Monte Carlo (fixed seed)  to TOLERANCES["mc_z"] standard errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import mpmath as mp
import numpy as np

from . import montecarlo as MC
from . import population as P
from . import quadrature as Q

__all__ = ["TOLERANCES", "Twin", "TWINS", "WORKING_DPS"]

#: the one table of tolerances (per comparison / dtype)
TOLERANCES = {
    "quad_digits": 25,      # |closed - quad| <= 10^-25 * max(1, |closed|)
    "mc_z": 4.5,            # |closed - MC| <= 4.5 standard errors (two-sided false alarm 7e-6)
    "float64_rel": 1e-12,   # numpy closed form vs the mpmath closed form
    "float32_rel": 1e-5,
}
WORKING_DPS = 40


@dataclass(frozen=True)
class Twin:
    """A closed form at one parameter point and its twins; values are flat lists."""

    name: str
    point: str
    closed_mp: Callable[[], list]
    quad: Callable[[], list]
    closed_np: Callable[[], np.ndarray]
    mc: Callable[[int], tuple[np.ndarray, np.ndarray]]
    slow: bool = False


def _mp_list(x):
    if isinstance(x, mp.matrix):
        return [x[i, j] for i in range(x.rows) for j in range(x.cols)]
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _scaled(est_se, rot, c):
    """Row 1 of a (mean, se) pair of matrices, rotated back, times the constant c."""
    est, se = est_se
    return c * (est @ rot)[0], abs(c) * np.sqrt((se ** 2) @ (rot ** 2))[0]


def _angle_vectors(a, d=5):
    """w = 2 e1 and a unit u at angle a from it, in R^d."""
    w = np.zeros(d)
    w[0] = 2.0
    u = np.zeros(d)
    u[0], u[1] = np.cos(a), np.sin(a)
    return w, u


#: the rows of W in the matrix twins (exact mpmath entries)
_WROWS = ((1, 2, 0, mp.mpf(1) / 3, -1), (mp.mpf(1) / 2, -1, 2, 1, 1))


def _mp_model(r: int):
    """W (2 x 5, rows _WROWS) and M = the first r coordinate axes, as mpmath matrices."""
    Wm = mp.matrix([list(row) for row in _WROWS])
    Mm = mp.matrix(5, r)
    for j in range(r):
        Mm[j, j] = 1
    return Wm, Mm


@lru_cache(maxsize=None)
def _row_quad(r: int, p: float, dps: int):
    """Q.one_step_row at eta = (1, 1) and working precision dps, shared by the update and the
    gradient twins (the quadrature is the slow part; computed once per (r, p, dps))."""
    Wm, Mm = _mp_model(r)
    return Q.one_step_row(Wm[0, :].T, Mm, 1, 1, p)


def _angle_twins() -> list[Twin]:
    """Closed forms of one angle alpha: E[y relu], E[y 1{} x], K, the arc-cosine kernels."""
    twins: list[Twin] = []
    for a, p in ((0.3, 0.0), (1.1, 0.1), (2.5, 0.0)):
        am = mp.mpf(a)
        w, u = _angle_vectors(a)
        twins.append(Twin(
            "E[y relu(w.x)]", f"alpha={a}, |w|=2, p={p}",
            lambda am=am, p=p: [P.ey_relu_mp(2, am, p)],
            lambda am=am, p=p: [Q.ey_relu(2, am, p)],
            lambda w=w, u=u, p=p: np.array([P.ey_relu(w, u, p)]),
            lambda s, w=w, u=u, p=p: MC.ey_relu(w, u, p, seed=s)))
        twins.append(Twin(
            "E[y 1{w.x>0} x]", f"alpha={a}, p={p}",
            lambda am=am, p=p: P.ey_indicator_x_mp(am, p),
            lambda am=am, p=p: Q.ey_indicator_x(am, p),
            lambda w=w, u=u, p=p: P.ey_indicator_x(w, u, p)[:2],
            lambda s, w=w, u=u, p=p: tuple(x[:2] for x in MC.ey_indicator_x(w, u, p, seed=s))))
        z = np.array([1.0, 0.0, 0.0])
        zp = np.array([np.cos(a), np.sin(a), 0.0]) * 1.7
        twins.append(Twin(
            "K(x,x') halfspace", f"alpha={a}, r=3, p={p}",
            lambda am=am, p=p: [P.halfspace_kernel_mp(am, p)],
            lambda am=am, p=p: [Q.halfspace_kernel(am, p)],
            lambda z=z, zp=zp, p=p: P.halfspace_kernel(z, zp, p).ravel(),
            lambda s, z=z, zp=zp, p=p: MC.halfspace_kernel(z, zp, p, seed=s)))
        w2 = np.zeros(5)
        w2[0], w2[1] = 3 * np.cos(a), 3 * np.sin(a)
        twins.append(Twin(
            "arc-cosine kernel degree 1", f"alpha={a}, |w|=2, |w'|=3",
            lambda am=am: [P.arccos_kernel1_mp(2, 3, am)],
            lambda am=am: [Q.arccos_kernel1(2, 3, am)],
            lambda w=w, w2=w2: P.arccos_kernel(w[None], w2[None], 1).ravel(),
            lambda s, w=w, w2=w2: MC.arccos_kernel1(w, w2, seed=s)))
        twins.append(Twin(
            "arc-cosine kernel degree 0", f"alpha={a}",
            lambda am=am: [P.arccos_kernel0_mp(am)],
            lambda am=am: [Q.arccos_kernel0(am)],
            lambda w=w, w2=w2: P.arccos_kernel(w[None], w2[None], 0).ravel(),
            lambda s, w=w, w2=w2: MC.arccos_kernel0(w, w2, seed=s)))
    return twins


def _moment_twins() -> list[Twin]:
    """The sphere's second moment and the ReLU moments."""
    twins: list[Twin] = []
    for r in (2, 3, 7):
        twins.append(Twin(
            "E[v_1^2] on the sphere", f"r={r}",
            lambda r=r: [P.sphere_moment_mp(r)],
            lambda r=r: [Q.sphere_moment(r)],
            lambda r=r: np.array([float(P.sphere_moment_mp(r))]),
            lambda s, r=r: MC.sphere_moment(r, seed=s)))
    w = np.array([1.5, 0.0, 0.0, 0.0])
    twins.append(Twin(
        "relu moments", "|w|=1.5",
        lambda: P.relu_moments_mp(mp.mpf("1.5")),
        lambda: Q.relu_moments(mp.mpf("1.5")),
        lambda: np.array([P.relu_mean(1.5), P.relu_second_moment(1.5)]),
        lambda s, w=w: MC.relu_moments(w, seed=s)))
    return twins


def _matrix_twins() -> list[Twin]:
    """L_PC and the one-step update: rows with exact mpmath entries, M = coordinate axes in the
    mp twins, a Haar rotation of the same geometry in the float twins (the closed forms depend
    on W and M only through W M and ||W||, which the rotation preserves)."""
    twins: list[Twin] = []
    for r, p, eta in ((2, 0.0, (1.0, 1.0)), (3, 0.1, (2.0, 3.0))):
        Wm, Mm = _mp_model(r)
        Wf = np.array([[float(x) for x in row] for row in _WROWS])
        Mf = np.eye(5)[:, :r]
        rot = np.linalg.qr(np.random.default_rng(r).standard_normal((5, 5)))[0]
        Wr, Mr = Wf @ rot.T, rot @ Mf   # same W M, same row norms
        twins.append(Twin(
            "L_PC(W)", f"m=2, d=5, r={r}, p={p}",
            lambda Wm=Wm, Mm=Mm, p=p: [P.pc_objective_mp(Wm, Mm, p)],
            lambda Wm=Wm, Mm=Mm, p=p: [Q.pc_objective(Wm, Mm, p)],
            lambda Wr=Wr, Mr=Mr, p=p: np.array([P.pc_objective(Wr, Mr, noise=p)]),
            lambda s, Wr=Wr, Mr=Mr, p=p: MC.pc_objective(Wr, Mr, p, seed=s), slow=True))
        ea, ew = eta
        twins.append(Twin(
            "population one-step update (row 1)", f"d=5, r={r}, p={p}, eta=({ea}, {ew})",
            lambda Wm=Wm, Mm=Mm, p=p, ea=ea, ew=ew:
                _mp_list(P.one_step_update_mp(Wm, Mm, ea, ew, p)[0, :]),
            # eta_a and eta_W scale the integral linearly
            lambda r=r, p=p, ea=ea, ew=ew:
                _mp_list(mp.mpf(ea) * mp.mpf(ew) * _row_quad(r, p, mp.mp.dps)),
            lambda Wr=Wr, Mr=Mr, p=p, ea=ea, ew=ew, rot=rot:
                (P.one_step_update(Wr, Mr, ea, ew, noise=p) @ rot)[0],
            lambda s, Wr=Wr, Mr=Mr, p=p, ea=ea, ew=ew, rot=rot:
                _scaled(MC.one_step_update(Wr, Mr, ea, ew, p, seed=s), rot, 1.0),
            slow=True))
        twins.append(Twin(
            "grad L_PC (row 1)", f"d=5, r={r}, p={p}",
            # the gradient's integral definition: -2 E_v[E_x[y relu(w.x)] E_x[y 1{w.x>0} x]],
            # i.e. the one-step integral with eta_a = eta_W = 1, times -2
            lambda Wm=Wm, Mm=Mm, p=p: _mp_list(
                (P.pc_gradient_mp(Wm, Mm, p))[0, :]),
            lambda r=r, p=p: _mp_list(-2 * _row_quad(r, p, mp.mp.dps)),
            lambda Wr=Wr, Mr=Mr, p=p, rot=rot: (P.pc_gradient(Wr, Mr, noise=p) @ rot)[0],
            lambda s, Wr=Wr, Mr=Mr, p=p, rot=rot: _scaled(
                MC.one_step_update(Wr, Mr, 1.0, 1.0, p, seed=s), rot, -2.0),
            slow=True))
    return twins


TWINS: list[Twin] = _angle_twins() + _moment_twins() + _matrix_twins()
