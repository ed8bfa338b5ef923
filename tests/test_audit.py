"""Issue 6: the derived bounds, the interval-arithmetic lemmas, the structural facts, the
constants audit (and that it reports a wrong constant), and the counterexample search."""
import json
import math
import subprocess
import sys

import pytest
import torch

from mtlcheck.qa import counterexamples as CE
from mtlcheck.qa import mutants
from mtlcheck.qa import audit as SA
from mtlcheck.sim.samplers import generator, haar, sphere
from mtlcheck.theory import bounds as B
from mtlcheck.theory import lemmas as L


def test_every_lemma_is_certified_on_its_box():
    for r in L.check_lemmas():
        assert r["certified"] is True, r


def test_certify_is_three_valued():
    from mpmath import iv
    assert L.certify(lambda x: x - 2, [(0, 1)])[0] is True
    status, info = L.certify(lambda x: x - iv.mpf(0.5), [(0, 1)])
    assert status is False and 0.5 <= info["counterexample"][0] <= 1
    # tight at an end of the box: no finite subdivision proves x^2 - x < 0 on [1e-30, 1]
    assert L.certify(lambda x: x * x - x, [(0, 1)], max_boxes=50)[0] in (None, False)


def test_structural_facts_are_decided_true():
    for f in L.structural_facts():
        assert f["decided"] is True, f


def test_rf_lower_bound_below_the_exact_risk():
    g = generator(0)
    for d, m in ((10, 3), (10, 10), (20, 40)):
        M = haar(d, 2, g, torch.float64).numpy()
        W = sphere(m, d, g, torch.float64).numpy()
        assert B.rf_risk_lower_bound(W, M) <= B.width_risk_curve(W, M, [m])[0] + 1e-12
    assert B.rf_width_lower_bound(100, 0.5) == pytest.approx(25 * math.pi)


def test_audit_identity_constants_agree_and_a_wrong_constant_is_a_violation():
    rows = SA.mc_constants(1, 400_000, lambda m: None)
    assert all(r.status == "ok" for r in rows), [r.record() for r in rows]
    undo = mutants.apply("bound-constant")
    try:
        bad = SA.mc_constants(1, 400_000, lambda m: None)
    finally:
        undo()
    assert {r.constant for r in bad if r.status == "VIOLATION"} == {"ind_sq", "in_span_sq / r"}


def test_audit_cli_smoke_rows_have_steps_and_no_violation():
    """The smoke profile end to end: the JSON validates against its schema, every bound row
    carries the per-step slacks, nothing is violated, and LOOSE / VACUOUS rows are listed
    apart from violations (they do not fail the run)."""
    import jsonschema
    from pathlib import Path
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "audit", "--profile", "smoke",
                        "--json"], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    schema = json.loads((Path(__file__).parents[1] / "checks" / "schemas" /
                         "audit.schema.json").read_text())
    jsonschema.validate(out, schema)
    assert out["violations"] == [] and out["uncertified_lemmas"] == []
    assert out["undecided_or_false_facts"] == []
    rows = {r["constant"]: r for r in out["rows"]}
    for name in ("k_relu", "k_ind", "single-task isotropy bound (d)",
                 "E_out high-probability bound (b), hp configuration",
                 "probe risk bound (c), n=4096, lambda=0.1", "n* bound (C2), eps=0.4, lambda=0.1"):
        assert name in rows, sorted(rows)
    for name in ("single-task isotropy bound (d)", "probe risk bound (c), n=4096, lambda=0.1",
                 "E_out high-probability bound (b), hp configuration"):
        steps = rows[name]["steps"]
        assert len(steps) >= 3 and all(s["slack"] is None or s["slack"] > 0 for s in steps)
        assert rows[name]["status"] == "ok" and rows[name]["slack"] <= 10
    # the n* row carries its route floors (derivations 6.7): a grid n with its ratio to the n* of
    # the same draws, or null when the route is not above eps even at the smallest n
    nrow = rows["n* bound (C2), eps=0.4, lambda=0.1"]
    assert [c["route"] for c in nrow["ceilings"]] == ["loo", "split", "lipschitz", "exchange",
                                                      "lowertail", "invmoment", "holder",
                                                      "projection", "projinv", "projholder"]
    for c in nrow["ceilings"]:
        if c["n"] is None:
            assert c["slack"] is None and c["censored"] == "left"
        elif c["n_star"] is not None:
            assert c["slack"] == pytest.approx(c["n"] / c["n_star"])
    # the derived bound lies above every route, so it needs at least the split route's floor
    split = nrow["ceilings"][1]
    assert split["n"] is None or nrow["proof"] > split["n"]
    # the Bernstein route floor of (b) (derivations 9.7): below the bound, one per (b) row
    fl = {}
    for f in out["route_floors"]:
        fl.setdefault(f["row"], []).append(f)
    for name, fs in fl.items():
        assert [f["route"] for f in fs] == ["bernstein_variance_term", "talagrand_weak_variance"]
        for f in fs:   # both floors include the bound's own split among their candidates
            assert 0 < f["value"] <= rows[name]["proof"] * (1 + 1e-9)
    weak = {r["constant"] for r in out["loose_or_vacuous"]}
    assert weak == {r["constant"] for r in out["rows"] if r["status"] in ("LOOSE", "VACUOUS")}
    grid = [r for r in out["rows"] if r["constant"].startswith("prediction (a)")]
    w = out["prediction_worst_gap"]
    assert w["points"] == len(grid) == 2
    assert w["resolved_within_5pct"] == sum("within 5% shown" in r["note"] for r in grid)


def test_audit_rejects_an_unknown_profile():
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "audit", "--profile", "huge"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "'profile' parameter of audit" in p.stderr
    assert "Traceback" not in p.stderr


def test_counterexample_search_finds_none_for_the_derived_bounds():
    for b in CE.BOUNDS:
        r = CE.search(b)
        assert r["counterexample"] is None, r


def test_counterexample_search_finds_and_shrinks_a_wrong_bound():
    r = CE.search(CE.WRONG)
    ce = r["counterexample"]
    assert ce is not None
    assert ce["d"] <= 8 and ce["m"] <= 8 and ce["n1"] <= 16       # shrunk towards the minimum
    assert "sim pretrain" in r["reproduce"]
    assert r["reproduce"].startswith("mtlcheck audit --bounds builtin:counterexamples --only "
                                     f"{CE.WRONG.spec().name} --at d={ce['d']},")
    assert r["violating_runs"] >= 2 and r["slack"] < 1


def test_counterexamples_are_the_shipped_statements_with_the_2_of_5_rule():
    """The searched bounds are the shipped statements (boundlang/derived.toml) over the
    regions; at delta = 0.01, 5 runs and alpha = 1e-3 the exact binomial test rejects from 2
    violating runs on (P(Bin(5, 0.01) >= 2) = 9.8e-4 <= 1e-3 < P(>= 1))."""
    from scipy import stats
    from mtlcheck.boundlang import builtin_bound
    from mtlcheck.qa.bound_decide import _k_crit
    assert _k_crit(CE.RUNS, CE.DELTA, CE.ALPHA) == 2
    assert stats.binom.sf(1, 5, 0.01) <= 1e-3 < stats.binom.sf(0, 5, 0.01)
    for b in CE.BOUNDS:
        spec, shipped = b.spec(), builtin_bound(b.statement)
        assert (spec.name, spec.expression, spec.quantity, spec.relation) == \
            (shipped.name, shipped.expression, shipped.quantity, shipped.relation)
        assert spec.runs == CE.RUNS and spec.alpha == CE.ALPHA
        region = CE.REGIONS[b.region]
        for a in spec.domain:
            if a.name in region:
                assert (a.lo, a.hi) == region[a.name]


def test_audit_counterexamples_and_bounds_share_one_decision(monkeypatch):
    """The three paths decide with the one function qa/bound_decide.py decide: replaced by one
    that always says 'violated', it turns a point of `audit --bounds` (point_decision), a row of
    the built-in audit and a counterexample decision into violations, and each path called it."""
    import numpy as np
    from mtlcheck.qa import bound_decide as BD
    from mtlcheck.qa.bound_measure import PointResult
    calls = []
    real = BD.decide

    def always_violated(*args, **kw):
        calls.append(kw.get("holds", "interval" if "interval" in kw else "always"))
        return {**real(*args, **kw), "valid": True, "violated": True}

    P = dict(SA.PROFILES["smoke"], rf_d=(16,), rf_lb_d=())
    spec = CE.BOUNDS[2].spec()
    config = {a.name: a.lo for a in spec.domain}
    q = np.ones(3)
    point = PointResult(config, [0, 1, 2], "design", q, q, {}, np.zeros(3))
    before = (BD.point_decision(spec, point, 0.05)["violated"],
              {r.status for r in SA.rf_rows(P, 0, lambda m: None)},
              CE.BOUNDS[2].violated(config))
    assert before == (False, {"ok"}, False) and not calls
    monkeypatch.setattr(BD, "decide", always_violated)
    assert BD.point_decision(spec, point, 0.05)["violated"]
    n = len(calls)
    assert {r.status for r in SA.rf_rows(P, 0, lambda m: None)} == {"VIOLATION"}
    m = len(calls)
    assert CE.BOUNDS[2].violated(config)
    assert 0 < n < m < len(calls)
