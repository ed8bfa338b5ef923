"""Claims registry and the three-valued d-independence test."""
import pytest
import sympy as sp

from mtlcheck.theory import claims as C
from mtlcheck.theory import symbols as S
from mtlcheck.theory.params import ParameterError


def test_every_registered_claim_has_a_statement_with_provenance():
    from mtlcheck.checks.claims import CLAIMS
    assert {chk.module.STATEMENT_REF for chk in CLAIMS.values()} <= {c.id for c in C.CLAIMS}
    for c in C.CLAIMS:
        assert any(p.startswith(("paper abstract (v5), verbatim: ", "paper abstract (v1/v2), verbatim: "))
                   for p in c.provenance), c.id
        assert c.statement and c.statistic
    for cid in ("C2", "C3"):
        assert "d" in C.claim(cid).excluded_symbols and "d" not in C.claim(cid).bound_symbols
    with pytest.raises(ParameterError, match="'claim' parameter"):
        C.claim("C7")


def test_independent_of_is_three_valued():
    d, r, eps = S.d, S.r, S.eps
    assert C.independent_of(r / eps ** 2) is True
    assert C.independent_of(sp.log(d ** 2) - 2 * sp.log(d) + r) is True
    assert C.independent_of(sp.sin(d) ** 2 + sp.cos(d) ** 2) is True
    assert C.independent_of(r * d / eps) is False
    assert C.independent_of(sp.Function("f")(d)) is None
    assert not C.passes(None) and not C.passes(False) and C.passes(True)


def test_bound_admissible():
    c2 = C.claim("C2")
    assert C.bound_admissible(c2, S.r * S.m / (S.eps * S.n)) is True
    assert C.bound_admissible(c2, S.d / S.n) is False
    assert C.bound_admissible(c2, sp.Function("g")(S.d) + S.r) is None
