"""Tests of theory/bound_facts.py and of the sympy forms it reads (docs/derivations.md sections 6,
7 and 9): d-independence, the structural facts, and the sympy forms against the numeric bounds."""
import pytest

from mtlcheck.theory import bound_facts as BF
from mtlcheck.theory import eout_bound as EB
from mtlcheck.theory import isotropy_bound as IB
from mtlcheck.theory import probe_bound as PB
from mtlcheck.theory import symbols as S
from mtlcheck.theory.claims import independent_of


def test_d_independence_and_structural_facts():
    assert independent_of(IB.single_task_isotropy_tight_expr(), S.d) is True
    assert independent_of(PB.probe_bound_tight_expr("E_out"), S.d) is True
    assert independent_of(PB.probe_bound_tight_expr("R"), S.d) is True
    assert S.d in EB.e_out_hp_bound_tight_expr().free_symbols       # (b) is not claimed d-free
    facts = BF.structural_facts_tight()
    assert facts and all(f["decided"] is True for f in facts), facts


def test_sympy_forms_match_numeric():
    import sympy as sp
    e = IB.single_task_isotropy_tight_expr()
    assert float(e.subs({S.r: 3, S.n2: 4096, S.delta: sp.Rational(1, 20), S.p: 0})) == \
        pytest.approx(IB.single_task_isotropy_tight(3, 4096, 0.05), rel=1e-9)
    vals = {S.d: 16, S.r: 2, S.T: 2048, S.n1: 2048, S.n2: 2048, S.m: 256,
            S.delta: sp.Rational(1, 20), S.p: 0}
    num = EB.e_out_hp_bound_tight(16, 2, 2048, 2048, 2048, 256, 0.05, weights=EB.HP_TIGHT_WEIGHTS,
                                  fourth=False)
    sym = float(EB.e_out_hp_bound_tight_expr().subs(vals))
    assert num <= sym <= 1.05 * num             # the sympy form is the all-Bernstein variant
    # of the Cantelli-only bound; the fourth-moment tails (9.9) only lower the numeric bound
    with4 = EB.e_out_hp_bound_tight(16, 2, 2048, 2048, 2048, 256, 0.05, weights=EB.HP_TIGHT_WEIGHTS)
    assert with4 <= num
    # never below the numeric bound with the same split, also where amplitudes are negative
    # (a review found 0.898 < 1.0 and a complex value before the positive parts were kept)
    syms = (S.d, S.r, S.T, S.n1, S.n2, S.m, S.delta, S.p)
    f = sp.lambdify(syms, EB.e_out_hp_bound_tight_expr(), "mpmath")     # subs takes ~10 s each
    for d, r, T, n1, n2, m, dl, p in ((32, 2, 64, 100, 256, 64, 0.05, 0.0),
                                      (128, 8, 1024, 512, 4096, 16, 0.05, 0.3),
                                      (32, 3, 4096, 32, 512, 16, 0.01, 0.0),
                                      (32, 2, 64, 256, 256, 64, 0.05, 0.0)):
        num = EB.e_out_hp_bound_tight(d, r, T, n1, n2, m, dl, p, weights=EB.HP_TIGHT_WEIGHTS)
        val = complex(f(d, r, T, n1, n2, m, sp.Rational(str(dl)), sp.Rational(str(p))))
        assert val.imag == 0 and num <= val.real * (1 + 1e-9) and val.real <= 1, (d, r, T, val, num)
