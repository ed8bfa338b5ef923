"""Issue 6: the derived bounds, the interval-arithmetic lemmas, the structural facts, the
constants audit (and that it reports a wrong constant), and the counterexample search."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
import torch

from mtlcheck.qa import counterexamples as CE
from mtlcheck.qa import mutants
from mtlcheck.qa import audit as SA
from mtlcheck.sim.samplers import generator, haar, sphere
from mtlcheck.theory import bounds as B
from mtlcheck.theory import lemmas as L
from mtlcheck.theory import symbols as S
from mtlcheck.theory.claims import independent_of


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


def test_probe_bound_is_d_free_and_the_e_out_prediction_is_not():
    assert independent_of(B.probe_bound_expr(), S.d) is True
    assert independent_of(B.e_out_prediction(), S.d) is False


def test_hp_bound_properties():
    b = [B.e_out_hp_bound(8, 2, 1024, n, n, 256, 0.05) for n in (1024, 4096, 16384)]
    assert all(0 <= x <= 1 for x in b) and b[0] >= b[1] >= b[2] and b[2] < 0.1
    assert B.e_out_hp_bound(64, 2, 4, 32, 32, 16, 0.05) == 1.0      # vacuous there
    n = B.pretraining_sample_complexity(8, 2, 1024, 256, 0.2, 0.05)
    assert math.isfinite(n) and B.e_out_hp_bound(8, 2, 1024, int(n), int(n), 256, 0.05) <= 0.2
    assert B.e_out_hp_bound(8, 2, 1024, int(n) - 1, int(n) - 1, 256, 0.05) > 0.2


def test_single_task_isotropy_bound_values():
    assert B.single_task_isotropy_bound(3, 4096, 0.05) == pytest.approx(0.2544, abs=1e-3)
    assert math.isinf(B.single_task_isotropy_bound(3, 16, 0.05))


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


def test_audit_cli_reports_no_violation():
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "audit", "--json"], capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    assert out["violations"] == [] and out["uncertified_lemmas"] == []
    assert out["undecided_or_false_facts"] == []
    names = {r["constant"] for r in out["rows"]}
    assert {"k_relu", "k_ind", "markov_out = 1/delta_1", "single-task isotropy bound (delta=0.05)",
            "E_out high-probability bound (delta=0.05)"} <= names
    assert all(r["slack"] >= 0.9 for r in out["rows"] if r["kind"] == "upper")
    grid = [r for r in out["rows"] if r["constant"].startswith("prediction (a)")]
    w = out["prediction_worst_gap"]
    assert w["points"] == len(grid) == 12 and 0 <= w["resolved_within_5pct"] <= len(grid)


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
