"""The numpy API of theory.population: values, identities and input validation."""
import numpy as np
import pytest

from mtlcheck.theory import population as P
from mtlcheck.theory.params import ParameterError


def _M(d, r, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((d, r)))[0]


def test_pc_objective_closed_form_and_gradient_by_finite_differences():
    rng = np.random.default_rng(1)
    W, M = rng.standard_normal((4, 7)), _M(7, 3)
    val = P.pc_objective(W, M)
    assert np.isclose(val, -np.sum((W @ M) ** 2) / (2 * np.pi * 3))
    g = P.pc_gradient(W, M, noise=0.2)
    h = 1e-6
    num = np.zeros_like(W)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            E = np.zeros_like(W)
            E[i, j] = h
            num[i, j] = (P.pc_objective(W + E, M, noise=0.2) - P.pc_objective(W - E, M, noise=0.2)) / (2 * h)
    assert np.allclose(g, num, atol=1e-8)


def test_one_step_update_is_half_eta_pc_gradient_step():
    rng = np.random.default_rng(2)
    W0, M = rng.standard_normal((5, 6)), _M(6, 2)
    W1 = P.one_step_update(W0, M, eta_a=0.7, eta_w=3.0, noise=0.1)
    assert np.allclose(W1, -(0.7 * 3.0 / 2) * P.pc_gradient(W0, M, noise=0.1))
    # population E_out of the update is exactly 0
    # a cancellation of two r-term products: error ~ (r + 2) 2^-53 max|W1|; 1e-13 relative
    assert np.abs(W1 - W1 @ M @ M.T).max() <= 1e-13 * np.abs(W1).max()


def test_kernels_basic_values():
    z = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    K = P.halfspace_kernel(z, z)
    assert np.allclose(np.diag(K), 1) and np.isclose(K[0, 1], 0) and np.isclose(K[0, 2], -1)
    W = np.eye(3)
    assert np.allclose(np.diag(P.arccos_kernel(W)), 0.5)
    assert np.allclose(P.arccos_kernel(W, degree=0)[0, 1], 0.25)


@pytest.mark.parametrize("call, match", [
    (lambda: P.pc_objective(np.ones((2, 3)), _M(4, 2)), r"'M' parameter of pc_objective must be a finite real array of shape \(3, r\)"),
    (lambda: P.pc_objective(np.ones(3), _M(3, 2)), r"'W' parameter of pc_objective .* Got an array of shape \(3,\)"),
    (lambda: P.pc_objective(np.ones((2, 3)), np.ones((3, 2))), r"orthonormal columns"),
    (lambda: P.pc_objective(np.ones((2, 3)), _M(3, 2), family="clusters"), r"'family' parameter of pc_objective must be one of \{'halfspace'\}"),
    (lambda: P.pc_objective(np.ones((2, 3)), _M(3, 2), noise=-0.1), r"'noise' parameter of pc_objective"),
    (lambda: P.ey_relu(np.ones(3), np.ones(3)), r"'u' parameter of ey_relu must be a unit vector"),
    (lambda: P.arccos_kernel(np.zeros((2, 3))), r"nonzero rows"),
    (lambda: P.arccos_kernel(np.ones((2, 3)), degree=2), r"'degree' parameter of arccos_kernel must be one of \{0, 1\}"),
])
def test_validation(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
