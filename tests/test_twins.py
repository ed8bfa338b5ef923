"""Every closed form against its two twins, with the one tolerance table (theory/twins.py)."""
import mpmath as mp
import numpy as np
import pytest

from mtlcheck.theory.twins import TOLERANCES, TWINS, WORKING_DPS

IDS = [f"{t.name} [{t.point}]" for t in TWINS]


@pytest.mark.parametrize("twin", TWINS, ids=IDS)
def test_closed_form_vs_quadrature(twin):
    with mp.workdps(WORKING_DPS):
        closed, quad = twin.closed_mp(), twin.quad()
        assert len(closed) == len(quad)
        tol = mp.mpf(10) ** (-TOLERANCES["quad_digits"])
        for c, q in zip(closed, quad):
            assert abs(c - q) <= tol * max(1, abs(c)), (twin.name, c, q)


@pytest.mark.parametrize("twin", TWINS, ids=IDS)
def test_closed_form_float64_vs_mpmath(twin):
    with mp.workdps(WORKING_DPS):
        closed = np.array([float(c) for c in twin.closed_mp()])
    got = np.asarray(twin.closed_np(), dtype=float)
    assert np.allclose(got, closed, rtol=TOLERANCES["float64_rel"], atol=TOLERANCES["float64_rel"])


@pytest.mark.parametrize("twin", TWINS, ids=IDS)
def test_closed_form_vs_monte_carlo(twin):
    with mp.workdps(WORKING_DPS):
        closed = np.array([float(c) for c in twin.closed_mp()])
    est, se = twin.mc(12345)
    z = np.abs(np.asarray(est) - closed) / np.asarray(se)
    assert np.all(z <= TOLERANCES["mc_z"]), (twin.name, z)


def test_monte_carlo_twin_detects_a_wrong_constant():
    """Negative control: the MC comparison rejects a closed form off by 5%."""
    twin = next(t for t in TWINS if t.name == "E[y relu(w.x)]")
    with mp.workdps(WORKING_DPS):
        closed = float(twin.closed_mp()[0]) * 1.05
    est, se = (np.atleast_1d(x) for x in twin.mc(12345))
    assert abs(est[0] - closed) / se[0] > TOLERANCES["mc_z"]
