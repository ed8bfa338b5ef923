"""The sympy derivations produce the expected closed forms (docs/derivations.md section 2)."""
import sympy as sp

from mtlcheck.theory import derive as D
from mtlcheck.theory import symbols as S


def same(a, b):
    return sp.simplify(a - b) == 0


def test_radial_moments():
    assert same(D.radial_moment(0), 1 / (2 * sp.pi))
    assert same(D.radial_moment(1), 1 / (2 * sp.sqrt(2 * sp.pi)))
    assert same(D.radial_moment(2), 1 / sp.pi)


def test_closed_forms():
    a = D.alpha
    assert same(D.e_sign_relu(), D.wnorm * sp.cos(a) / sp.sqrt(2 * sp.pi))
    c1, c2 = D.e_sign_indicator_x()
    assert same(c1, sp.cos(a) / sp.sqrt(2 * sp.pi)) and same(c2, sp.sin(a) / sp.sqrt(2 * sp.pi))
    assert same(D.halfspace_kernel(), 1 - 2 * a / sp.pi)
    assert same(D.sphere_second_moment(), 1 / S.r)
    assert same(D.flip_mean(), 1 - 2 * S.p)
    assert same(D.arccos_kernel0(), (sp.pi - a) / (2 * sp.pi))
    assert same(D.arccos_kernel1(),
                D.wnorm * D.wnorm2 * (sp.sin(a) + (sp.pi - a) * sp.cos(a)) / (2 * sp.pi))
    m1, m2 = D.relu_moments()
    assert same(m1, D.wnorm / sp.sqrt(2 * sp.pi)) and same(m2, D.wnorm ** 2 / 2)


def test_pc_objective_gradient_and_one_step_factor():
    L, grad, c = D.pc_objective_matrix()
    assert same(c, (1 - 2 * S.p) ** 2 / (2 * sp.pi * S.r))
    assert same(D.pc_gradient_coefficient(), -2 * c)
    c1, factor = D.one_step_population()
    assert same(c1, S.eta_a * S.eta_w * (1 - 2 * S.p) ** 2 / (2 * sp.pi * S.r))
    # W1 = -(eta_a eta_W / 2) grad L_PC(W0): the 1/2 of C6 in population
    assert same(factor, S.eta_a * S.eta_w / 2)


def test_angular_integral_refuses_crossing_breakpoints():
    import pytest
    with pytest.raises(ValueError, match="crosses"):
        D.angular_integral(sp.Integer(1), (D.Factor("sign", D.alpha),), sp.Integer(0), 2 * sp.pi)
