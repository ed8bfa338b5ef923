"""The theorem-consistency suite: one test per registered claim (checks/claims/), marked
claim_c1 .. claim_c6 so that `pytest checks/ -m claim_c2` runs one claim. A claim passes only
when its decision, its subchecks and its negative controls all say so (ClaimResult.verdict)."""
import time

import pytest

from mtlcheck.checks.claims import CLAIMS


@pytest.mark.parametrize("cid", [pytest.param(cid, id=cid, marks=getattr(pytest.mark, f"claim_{cid.lower()}"))
                                 for cid in CLAIMS])
def test_claim(cid, mtl_ctx, record_claim):
    mtl_ctx.progress.message(f"{cid}: started")
    t0 = time.perf_counter()
    result = record_claim(CLAIMS[cid].decide(mtl_ctx))
    mtl_ctx.progress.message(f"{cid}: {result.verdict} in {time.perf_counter() - t0:.0f} s")
    assert result.verdict == "pass", result.failure_message(mtl_ctx)
