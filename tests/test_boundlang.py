"""Bounds as data (`mtlcheck audit --bounds FILE.toml`, docs/bounds-as-data.md): the parser and
its one-line errors, the allow-list against code in expressions, the numeric evaluator, the
structural facts, the decision rules on synthetic runs, and two end-to-end audits (a true bound
that holds, a false one that is violated with a shrunk counterexample)."""
import json
import math
import os
import pathlib
import time

import numpy as np
import pytest
import sympy as sp

from mtlcheck import boundlang as BF
from mtlcheck.boundlang import BoundFileError, parse_bounds
from mtlcheck.theory.params import MtlcheckError

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "examples" / "bounds" / "template.toml"


def bound(expression='"C * r / T"', **fields) -> str:
    """One [[bound]] table as TOML text; ``fields`` are raw TOML values (None drops a field)."""
    base = {"name": '"b1"', "quantity": '"E_out"', "relation": '"<="',
            "expression": expression, "constants": "{ C = 1.0 }"}
    base.update(fields)
    domain = base.pop("domain", None)
    lines = ["[[bound]]"] + [f"{k} = {v}" for k, v in base.items() if v is not None]
    if domain is not None:
        lines += ["[bound.domain]", domain]
    return "\n".join(lines) + "\n"


def error_of(text: str) -> str:
    with pytest.raises(BoundFileError) as e:
        parse_bounds(text, "f.toml")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("f.toml")
    return msg


# --- the format -----------------------------------------------------------------------------------

def test_template_parses_and_says_how_to_fill_it():
    specs = BF.load_bounds(str(TEMPLATE))
    assert [s.quantity for s in specs] == ["E_out", "n_star"]
    assert specs[0].holds == "probability" and specs[0].delta == 0.05
    assert {a.name for a in specs[0].varying} == {"d", "r", "T", "n1", "n2"}
    text = TEMPLATE.read_text()
    assert "HOW TO FILL IT IN" in text and "PLACEHOLDER" in text


def test_spec_fields_defaults_and_lets():
    (s,) = parse_bounds(bound('"q / (1 - q)"', quantity='"isotropy"', holds='"probability"',
                              delta="0.05", constants=None,
                              let='{ q = "sqrt((pi*r - 1) / (n2*delta))" }',
                              domain="d = 64\nr = 3\nT = 1\nn2 = 4096"))
    assert s.runs == 40 and s.alpha == 0.05 and s.inputs == ()
    dom = {a.name: a for a in s.domain}
    assert dom["n1"].lo == 256 and not dom["n1"].given      # a default
    q = math.sqrt((math.pi * 3 - 1) / (4096 * 0.05))
    assert float(s.bound({"d": 64, "r": 3, "T": 1, "n2": 4096})) == pytest.approx(q / (1 - q))
    rec = s.record()
    assert rec["let"] == {"q": "sqrt((pi*r - 1) / (n2*delta))"} and "n1" in rec["defaults_used"]


def test_measured_inputs_are_paired_per_run():
    (s,) = parse_bounds(bound('"(1 + lm_radius2 / (n * lam))**2 * probe_pop_risk + 4*exp(-t)"',
                              quantity='"probe_risk"', constants=None))
    assert s.inputs == ("lm_radius2", "probe_pop_risk")
    assert s.measured == ("probe_risk", "lm_radius2", "probe_pop_risk")
    b = s.bound({"n": 100, "lam": 0.1, "t": 4.0}, {"lm_radius2": [10.0, 20.0],
                                                   "probe_pop_risk": [0.1, 0.2]})
    assert b == pytest.approx([(2.0 ** 2) * 0.1 + 4 * math.exp(-4), 9 * 0.2 + 4 * math.exp(-4)])


def test_the_evaluator_matches_sympy():
    expr = BF.compile_expression("max(C*r/T, sqrt(d)/n2) + log(n1)*exp(-t) - min(r, 2)**2 "
                                 "+ ceil(d/3) + pi", constants={"C": 2.0})
    f = BF.numeric(expr)
    rng = np.random.default_rng(0)
    for _ in range(20):
        vals = {"C": 2.0, "r": int(rng.integers(1, 9)), "T": int(rng.integers(1, 99)),
                "d": int(rng.integers(8, 999)), "n2": int(rng.integers(1, 999)),
                "n1": int(rng.integers(1, 999)), "t": float(rng.uniform(0.1, 9))}
        subs = {s: vals[s.name] for s in expr.free_symbols}
        assert float(f(vals)) == pytest.approx(float(expr.subs(subs).evalf(30)), rel=1e-12)


def test_ieee_semantics_at_bad_points():
    f = BF.numeric(BF.compile_expression("sqrt(d - 2*r)"))
    assert math.isnan(float(f({"d": 3, "r": 2})))           # sqrt of a negative number
    g = BF.numeric(BF.compile_expression("1 / (d - r)"))
    assert math.isinf(float(g({"d": 2, "r": 2})))
    h = BF.numeric(BF.compile_expression("2**d"))
    assert math.isinf(float(h({"d": 5000})))                 # overflow, not an exception


def test_docs_and_help_list_every_quantity():
    docs = (ROOT / "docs" / "bounds-as-data.md").read_text()
    for q in BF.QUANTITIES:
        assert f"`{q}`" in docs and q in BF.quantities_help()


def test_the_derived_bounds_file_evaluates_to_theory_tight():
    """boundlang/derived.toml (shipped, `--bounds builtin`) writes derived bounds (d) and (b) in
    this format; they must be the functions of theory/isotropy_bound.py and theory/eout_bound.py,
    also where the isotropy bound is vacuous (inf: its denominator is <= 0 at small n2)."""
    from mtlcheck.theory import eout_bound as EB
    from mtlcheck.theory import isotropy_bound as IB
    iso, hp = BF.builtin_bounds()[:2]
    for r, n2 in ((3, 4096), (2, 20000), (5, 100000), (2, 8), (2, 30), (4, 200)):
        pt = {"d": 64, "r": r, "T": 1, "n1": 256, "n2": n2, "m": 128}
        for delta in (0.05, 0.01):
            want = IB.single_task_isotropy_tight(r, n2, delta)
            got = float(BF.restate(iso, delta=delta).bound(pt))
            assert got == want if math.isinf(want) else got == pytest.approx(want, rel=1e-12)
    for cfg in ((16, 2, 2048, 2048, 2048, 256), (8, 2, 1024, 4096, 4096, 256),
                (32, 3, 4096, 8192, 8192, 128)):
        pt = dict(zip(("d", "r", "T", "n1", "n2", "m"), cfg))
        assert float(hp.bound(pt)) == pytest.approx(EB.e_out_hp_bound_tight(*cfg, 0.05),
                                                    rel=1e-10)


def test_the_shipped_bounds_load_by_name_and_restate():
    """`--bounds builtin` names the shipped file (package data), `builtin:counterexamples` the
    statements `mtlcheck counterexamples` searches; restate keeps a statement and changes only
    what it is given (validated again)."""
    from mtlcheck.qa.bound_audit import load_statements
    specs = load_statements("builtin")
    assert [s.name for s in specs] == ["single-task-isotropy", "e-out-high-probability",
                                       "random-feature-risk", "prediction-a-upper",
                                       "prediction-a-lower"]
    assert all(s.path == "builtin" for s in specs) and specs == BF.builtin_bounds()
    assert not (ROOT / "examples" / "bounds" / "derived.toml").exists()   # written once
    for s in specs:
        assert BF.restate(s) == s
    iso = BF.builtin_bound("single-task-isotropy")
    wide = BF.restate(iso, "x", runs=5, delta=0.01, domain={"d": [5, 48], "r": [2, 4], "T": 1})
    assert (wide.runs, wide.delta, wide.path, wide.expression) == (5, 0.01, "x", iso.expression)
    assert {a.name for a in wide.varying} == {"d", "r"}
    with pytest.raises(BoundFileError, match="domain.r"):
        BF.restate(iso, domain={"d": 4, "r": [2, 8]})
    ce = load_statements("builtin:counterexamples")
    assert [s.name for s in ce[:3]] == [s.name for s in specs[:3]]
    assert all(c.expression == s.expression for c, s in zip(ce, specs[:3]))
    assert ce[3].expression == f"0.01 * ({iso.expression})"


def test_the_bound_language_imports_no_torch():
    """boundlang/ (formerly theory/boundfile.py, under tests/test_packaging.py's no-torch check)
    parses and evaluates files without torch."""
    import ast
    for f in (ROOT / "boundlang").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "torch" or n.startswith("torch.") for n in names), f

# --- bad files: one line naming bound, field, problem ---------------------------------------

@pytest.mark.parametrize("text, field, words", [
    (bound(quantity='"E_in"'), "quantity", "must be one of"),
    (bound('"C * x / T"'), "expression", "unknown symbol 'x'"),
    (bound(relation=None), "relation", "is missing"),
    (bound(relation='"<"'), "relation", "must be one of"),
    (bound('"C2 * r / T"'), "expression", "unknown symbol 'C2'"),
    (bound(expression=None), "expression", "is missing"),
    (bound(domain="d = [16, 64]\nr = [1, 32]"), "domain.r", "r > d"),
    (bound(domain="r = 4\nd = 3"), "domain.r", "r > d"),
    (bound(domain="n1 = 0"), "domain.n1", "must be an int in [1"),
    (bound(domain="m = [-4, 8]"), "domain.m", "must be an int"),
    (bound(domain="d = 16.5"), "domain.d", "must be an int"),
    (bound(domain="d = 16.0"), "domain.d", "must be an int"),
    (bound(domain='d = "16"'), "domain.d", "must be an int"),
    (bound(domain="d = [64, 16]"), "domain.d", "low end exceeds"),
    (bound(domain="d = [16, 32, 64]"), "domain.d", "range [low, high]"),
    (bound(domain="p = 0.7"), "domain.p", "in [0, 0.5]"),
    (bound(domain="q = 3"), "domain.q", "not a symbol of the model"),
    (bound(domain="isotropy = 3"), "domain.isotropy", "measured quantity"),
    (bound(domain="n = [16, 64]"), "domain.n", "neither the quantity"),
    (bound(domain="delta = 0.1"), "domain.delta", "set the field delta"),
    (bound(quantity='"n_star"', expression='"C * r"'), "domain", "eps"),
    (bound(holds='"probability"'), "delta", "is missing"),
    (bound(holds='"probability"', delta="1.5"), "delta", "in (0, 1)"),
    (bound(delta="0.1"), "delta", "only for holds = 'probability'"),
    (bound('"C * r * delta"'), "expression", "holds = 'probability'"),
    (bound(holds='"mostly"'), "holds", "must be one of"),
    (bound(claim='"C9"'), "claim", "must be one of C1"),
    (bound(constants='{ C = "one" }'), "constants.C", "finite number"),
    (bound(constants='{ d = 1.0 }'), "constants", "redefines 'd'"),
    (bound(constants='{ __C = 1.0 }'), "constants", "constant name"),
    (bound(runs="0"), "runs", "must be an int"),
    (bound(runs="1"), "runs", "must be an int in [2"),
    (bound(alpha="0.7"), "alpha", "must be a float"),
    (bound(expresion='"C"'), "expresion", "is not a field"),
    (bound(let='{ q = "os.system(1)" }'), "let.q", "attribute access"),
    (bound(let='{ C = "1" }'), "let", "also a constant"),
    (bound(source="42"), "source", "must be a string"),
    (bound(tolerance="1.5"), "tolerance", "in [0, 1)"),
])
def test_each_bad_field_is_one_line_naming_bound_field_problem(text, field, words):
    msg = error_of(text)
    assert "bound 'b1' (#1)" in msg and f"field {field!r}" in msg and words in msg, msg


@pytest.mark.parametrize("text, words", [
    ("[[bound]\nname = 1", "malformed TOML"),
    ("title = 'x'\n", "unknown top-level key"),
    ("", "no [[bound]] table"),
    ("bound = 3\n", "no [[bound]] table"),
    (bound() + bound(), "names must be unique"),
    (bound(name='"bad name!"'), "must be 1 to 80 letters"),
])
def test_file_level_errors(text, words):
    assert words in error_of(text)


def test_unreadable_and_oversized_files(tmp_path):
    with pytest.raises(BoundFileError, match="cannot read"):
        BF.load_bounds(str(tmp_path / "missing.toml"))
    big = tmp_path / "big.toml"
    big.write_text("#" * (BF.LIMITS.file_bytes + 10))
    with pytest.raises(BoundFileError, match="larger than"):
        BF.load_bounds(str(big))
    assert issubclass(BoundFileError, MtlcheckError)     # the CLI prints it, exit status 2


MALICIOUS = [
    "__import__('os').system('touch PWNED')", "os.system('touch PWNED')", "(lambda: 1)()",
    "lambda: 0", "d[0]", "[i for i in (1, 2)]", "{i: i for i in (1,)}", "(i for i in (1,))",
    "max(d, key=1)", "max(*d)", "open('PWNED', 'w')", "exec('1')", "eval('1')", "getattr(d, 'x')",
    "globals()", "breakpoint()", "d.__class__", "().__class__.__bases__[0].__subclasses__()",
    "sp.exp(d)", "'a' * 3", "f'{d}'", "b'x'", "d if T else r", "d < T", "d and T", "(d := 1)",
    "{d}", "(d, T)", "[d]", "d % 2", "d // 2", "d @ T", "~d", "not d", "True", "None", "...",
    "1j", "d; import os", "import os", "9**9**9", "2**1000", "10.0 ** 400", "d**d**d",
    "d**(T**2)", "exp(exp(d))", "d**exp(2)", "exp(1000)", "123456789012345678901", "1e999",
    "-" * 1990 + "d", "d" + "+d" * 500, "sqrt(" * 50 + "d" + ")" * 50, "x" * 2100, "1/0",
    "log(0)", "sqrt(-1)", "sqrt(-d)", "log(-T)", "min(d)", "log(d, 2)", "sqrt", "d\n+ T", "d\x00",
    "d\u00b2", "",
]


@pytest.mark.parametrize("expr", MALICIOUS)
def test_code_and_runaway_expressions_are_refused(expr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    msg = error_of(bound(json.dumps(expr)))
    assert time.perf_counter() - t0 < 2.0
    assert "field 'expression'" in msg
    assert not list(tmp_path.iterdir())                   # nothing ran, nothing was written


def test_the_compiler_never_reaches_eval_or_sympify(monkeypatch):
    """The allow-list builds sympy itself: poison the text-to-sympy entry points."""
    def boom(*a, **k):
        raise AssertionError("text handed to eval/sympify")
    monkeypatch.setattr(sp, "sympify", boom)
    monkeypatch.setattr(sp, "parse_expr", boom)
    monkeypatch.setattr("builtins.eval", boom)
    expr = BF.compile_expression("C * r * log(1/delta) / T", constants={"C": 2.0})
    assert {x.name for x in expr.free_symbols} == {"C", "r", "delta", "T"}


# --- structural facts --------------------------------------------------------------------------

def test_d_dependent_bound_for_a_d_free_claim_is_flagged():
    (s,) = parse_bounds(bound('"C * r * d / n"', quantity='"probe_risk"', claim='"C2"'))
    f = BF.structural_facts(s, 5.0)
    assert f["depends_on_d"] is True and f["admissible"] is False and f["flagged"] is True
    assert "C2" in f["flag"] and "must not depend on d" in f["flag"]
    from mtlcheck.qa.bound_audit import exit_status
    assert exit_status({"bounds": [{"verdict": "holds", "flagged": True}]}) == 1
    (s,) = parse_bounds(bound('"C * r / n + 2 * E_out"', quantity='"probe_risk"',
                              claim='"C3"'))
    f = BF.structural_facts(s, 5.0)
    assert f["depends_on_d"] is False and f["admissible"] is True and not f["flagged"]
    # d appears but cancels: sympy proves independence, no flag
    (s,) = parse_bounds(bound('"C * r * d / (n * d)"', quantity='"probe_risk"', claim='"C2"'))
    assert BF.structural_facts(s, 5.0)["flagged"] is False


def test_depends_on_and_monotonicity():
    (s,) = parse_bounds(bound('"C1 * r / T + C2 * r**2 / n2"', constants="{ C1 = 1.0, C2 = 4.0 }",
                              domain="T = [1, 64]\nn2 = [16, 256]"))
    f = BF.structural_facts(s, 5.0)
    assert f["depends_on"] == ["T", "n2", "r"] and f["depends_on_d"] is False
    assert f["monotone"]["T"]["verdict"] == "nonincreasing"
    assert f["monotone"]["n2"]["verdict"] == "nonincreasing"
    (s,) = parse_bounds(bound('"C * (T - 8)**2 / T**2"', domain="T = [1, 64]"))
    assert BF.structural_facts(s, 5.0)["monotone"]["T"]["numeric_along_domain"] == "not monotone"


# --- the decision rules on synthetic runs ------------------------------------------------------

def _point(spec, q, b=None):
    from mtlcheck.qa.bound_measure import PointResult
    q = np.asarray(q, dtype=float)
    pr = PointResult({a.name: a.lo for a in spec.domain}, list(range(len(q))), "design", q, q,
                     {}, None)
    pr.bound = np.broadcast_to(spec.bound(pr.config) if b is None else b, q.shape).astype(float)
    return pr


def test_expectation_rule_and_needed_constant():
    from mtlcheck.qa.bound_constants import needed_constants
    from mtlcheck.qa.bound_decide import point_decision
    (s,) = parse_bounds(bound('"C * 0.1"', runs="8"))
    q = 0.1 + 0.01 * np.linspace(-1, 1, 8)                 # mean 0.1, sd ~0.0065
    d = point_decision(s, _point(s, q), 0.05)
    assert not d["violated"] and not d["shown"] and d["slack"] == pytest.approx(1.0)
    assert point_decision(s, _point(s, q + 0.02), 0.05)["violated"]
    c = needed_constants(s, [_point(s, q)], 0.05)["C"]
    assert c["direction"] == ">=" and c["needed"] == pytest.approx(1.0)
    assert c["needed_lcb"] < 1.0 < c["needed_ucb"]


def test_probability_rule_is_an_exact_binomial_test():
    from mtlcheck.qa.bound_constants import needed_constants
    from mtlcheck.qa.bound_decide import _k_crit, point_decision
    from scipy import stats
    (s,) = parse_bounds(bound('"C * 0.5"', holds='"probability"', delta="0.1", runs="40"))
    kc = _k_crit(40, 0.1, 0.05)
    assert stats.binom.sf(kc - 1, 40, 0.1) <= 0.05 < stats.binom.sf(kc - 2, 40, 0.1)
    q = np.linspace(0.0, 0.49, 40)
    q_bad = q.copy()
    q_bad[:kc] = 0.9
    assert not point_decision(s, _point(s, q), 0.05)["violated"]
    assert point_decision(s, _point(s, q_bad), 0.05)["violated"]
    q_ok = q.copy()
    q_ok[:kc - 1] = 0.9
    assert not point_decision(s, _point(s, q_ok), 0.05)["violated"]
    # slack: bound over the order statistic of the built-in audit, x[ceil(K(1-delta)) - 1]
    j = math.ceil(40 * 0.9)
    assert point_decision(s, _point(s, q), 0.05)["slack"] == pytest.approx(0.5 / np.sort(q)[j - 1])
    c = needed_constants(s, [_point(s, q)], 0.05)["C"]
    assert c["needed"] == pytest.approx(np.sort(q)[j - 1] / 0.5, rel=1e-9)


def test_decide_is_one_rule_on_runs_or_on_an_interval():
    """qa/bound_decide.py decide: the probability rule is the order-statistic rule (a constant
    bound is violated exactly when it lies below the (K - k_crit + 1)-th smallest value), the
    expectation rule is checks/stats.py's Student-t bound, an interval is compared at its end
    least favourable to a violation, and infinite margins are handled as documented."""
    from mtlcheck.checks.stats import mean_bound
    from mtlcheck.qa.bound_decide import _k_crit, _mean_bounds, decide
    x = np.random.default_rng(3).uniform(0, 1, 40)
    kc = _k_crit(40, 0.1, 0.025)
    edge = np.sort(x)[40 - kc]
    for b in np.linspace(0, 1, 101):
        assert decide("<=", b, x, holds="probability", alpha=0.025, delta=0.1)["violated"] \
            == (b < edge)
    d = decide(">=", 0.4, x, holds="expectation", alpha=0.05)
    assert d["margin_ucb"] == mean_bound(x - 0.4, 0.05, "upper")
    assert d["margin_lcb"] == mean_bound(x - 0.4, 0.05, "lower")
    assert decide("<=", 0.9, interval=(1.0, 1.2))["violated"]
    assert not decide("<=", 1.0, interval=(1.0, 1.2))["violated"]
    assert decide(">=", 1.3, interval=(1.0, 1.2))["violated"]
    assert decide("<=", 1.3, interval=(1.0, 1.2))["shown"]
    assert decide("<=", 1.0, [0.5, 1.0 + 1e-12])["violated"] is False       # rounding
    assert decide("<=", 1.0, [0.5, 1.1])["violated"] is True                 # always: one run
    assert decide("<=", 1.0, [0.5, math.nan])["valid"] is False
    assert _mean_bounds(np.array([1.0, math.inf]), 0.05) == (math.inf, math.inf)
    assert all(math.isnan(v) for v in _mean_bounds(np.array([-math.inf, math.inf]), 0.05))
    assert _mean_bounds(np.array([1.0]), 0.05) == (-math.inf, math.inf)
    assert not decide("<=", math.inf, [1.0, 2.0], holds="expectation", tolerance=0.05)["violated"]


# --- end to end --------------------------------------------------------------------------------

def _audit(path, budget, seed=0, **kw):
    import torch
    torch.set_num_threads(1)
    from mtlcheck.qa.bound_audit import audit_bounds
    return audit_bounds(str(path), budget, seed, "cpu", None, **kw)


def _schema_valid(doc):
    import jsonschema
    schema = json.loads((ROOT / "checks" / "schemas" / "audit.schema.json").read_text())
    jsonschema.validate(doc, schema)
    json.dumps(doc, allow_nan=False)


def test_a_true_bound_holds_and_matches_the_built_in_slack(tmp_path):
    """The derived single-task isotropy bound (docs/derivations.md section 7.4) in this format
    gives exactly the built-in audit's slack (same runs, same quantile); a derived prediction
    with 50% room holds over a small domain, each within its budget."""
    from mtlcheck.qa import audit as SA
    f = tmp_path / "true.toml"
    f.write_text(bound('"sqrt(r * (1 + s1) / (4 * (r - 1))) / (k * sqrt(n2) - sqrt(c * (1 + s2)))"',
                       name='"single-task"', quantity='"isotropy"',
                       claim='"C4"', holds='"probability"', delta="0.05", runs="40",
                       constants=None, let=(
                           '{ k = "1 / sqrt(2 * pi)", c = "1/2 - k**2", s1 = "sqrt((2/r + '
                           '2/(r*n2)) * (1 - 0.9*delta) / (0.9*delta))", s2 = "sqrt((2 + '
                           '(3**(1/4) + k)**4 / (n2 * c**2)) * (1 - 0.1*delta) / (0.1*delta))" }'),
                       domain="d = 64\nr = 3\nT = 1\nn1 = 256\nn2 = 4096\nm = 128")
                 + bound('"C * S_out / (S_in + S_out)"', name='"prediction"', claim='"C1"',
                         constants="{ C = 1.5 }", let=(
                             '{ A = "(1 - 1/n1) / (2*pi*d) + 1 / (2*n1)", S_in = "(A/T + '
                             '(1 - 1/T) / (2*pi*r*d)) / (2*pi) + A * (r/2 - 1/(2*pi)) / (n2*T)", '
                             'S_out = "A * (d - r) / (2*n2*T)" }'),
                         domain="d = [8, 32]\nr = 2\nT = [1, 16]\nn1 = [16, 64]\nm = 32"))
    t0 = time.perf_counter()
    doc = _audit(f, 40)
    assert time.perf_counter() - t0 < 60
    _schema_valid(doc)
    single, pred = doc["bounds"]
    row = SA.single_task_rows(SA.PROFILES["quick"], 0, lambda m: None, "cpu")[0]
    assert single["verdict"] == "holds" and not single["flagged"]
    assert single["slack_min"] == pytest.approx(row.slack, rel=1e-12)
    assert pred["verdict"] == "holds" and pred["design"]["visited"] >= 8
    assert pred["constants"]["C"]["needed"] < 1.5 and pred["counterexample"] is None
    assert pred["structural"]["depends_on_d"] is True and pred["slack_min"] >= 1.0


def test_prediction_a_with_a_tolerance_matches_the_built_in_row(tmp_path):
    """Prediction (a) (docs/derivations.md section 4) as a bound with the built-in 5% tolerance:
    the same runs give the built-in slack prediction / mean."""
    from mtlcheck.qa import audit as SA
    f = tmp_path / "pred.toml"
    f.write_text(bound('"S_out / (S_in + S_out)"', claim='"C1"', constants=None,
                       tolerance="0.05", let=(
                           '{ A = "(1 - 1/n1) / (2*pi*d) + 1 / (2*n1)", S_in = "(A/T + '
                           '(1 - 1/T) / (2*pi*r*d)) / (2*pi) + A * (r/2 - 1/(2*pi)) / (n2*T)", '
                           'S_out = "A * (d - r) / (2*n2*T)" }'),
                       domain="d = 32\nr = 2\nT = 16\nn1 = 32\nn2 = 32\nm = 64"))
    (r,) = _audit(f, 20)["bounds"]
    P = dict(SA.PROFILES["quick"], grid=[(32, 16, 32)], grid_seeds=8)
    row = SA.prediction_grid(P, 0, lambda m: None, "cpu")[0][0]
    assert r["verdict"] == "holds" and row.status == "ok"
    assert r["slack_min"] == pytest.approx(row.slack, rel=1e-12)


def test_a_false_bound_is_violated_with_a_shrunk_reproducible_counterexample(tmp_path,
                                                                               monkeypatch):
    from mtlcheck.qa.bound_audit import exit_status
    f = tmp_path / "false.toml"
    f.write_text(bound('"C1 * r / T"', name='"recovery-typo"', claim='"C1"',
                       constants="{ C1 = 0.1 }",
                       domain="d = [16, 1024]\nr = [1, 8]\nT = [1, 1024]\nn1 = [16, 4096]\n"
                              "n2 = [16, 4096]\nm = 128"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    t0 = time.perf_counter()
    doc = _audit(f, 60)
    assert time.perf_counter() - t0 < 60
    assert not list(work.iterdir())                       # no .hypothesis, nothing written
    _schema_valid(doc)
    (r,) = doc["bounds"]
    assert r["verdict"] == "violated" and exit_status(doc) == 1
    cex = r["counterexample"]
    assert cex["shrunk"] and cex["confirmed"]
    assert {k: cex["config"][k] for k in ("d", "r", "T", "n1", "n2")} == \
        {"d": 16, "r": 1, "T": 1, "n1": 16, "n2": 16}     # the minimal corner
    assert r["constants"]["C1"]["needed_lcb"] > 0.1 and r["slack_min"] < 1
    assert "--at d=16,r=1,T=1,n1=16,n2=16 --seed 1" in cex["reproduce"][0]
    # the reproduction command's arguments give the confirmation's runs again
    again = _audit(f, 60, seed=1, only=["recovery-typo"], at={"d": 16, "r": 1, "T": 1,
                                                              "n1": 16, "n2": 16})
    assert again["bounds"][0]["verdict"] == "violated"
    assert again["bounds"][0]["design"]["points"][0]["estimate"] == \
        pytest.approx(cex["estimate"], rel=1e-12)


def test_hypothesis_storage_is_a_scratch_folder_during_the_search(tmp_path, monkeypatch):
    """Hypothesis caches constants of local modules under ./.hypothesis even without a database;
    during the search its storage is a temporary folder that is removed afterwards."""
    from hypothesis import configuration as hc
    from mtlcheck.qa.bound_search import hypothesis_scratch
    monkeypatch.chdir(tmp_path)
    before = hc.storage_directory("constants", intent_to_write=False).path
    with hypothesis_scratch() as tmp:
        inside = hc.storage_directory("constants", intent_to_write=False).path
        assert str(inside).startswith(tmp)
    assert not os.path.exists(tmp)
    assert hc.storage_directory("constants", intent_to_write=False).path == before


def test_main_prints_json_and_a_bad_file_raises(tmp_path, capsys):
    import argparse
    from mtlcheck.qa.bound_audit import main_audit_bounds
    f = tmp_path / "one.toml"
    f.write_text(bound('"C * 2"', domain="d = 8\nr = 1\nT = 4\nn1 = 16\nn2 = 16\nm = 8",
                       runs="2"))
    args = argparse.Namespace(bounds=str(f), budget=10.0, seed=0, device="cpu", json=True)
    assert main_audit_bounds(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bounds"][0]["verdict"] == "holds" and doc["bounds"][0]["strength"] == "shown"
    f.write_text(bound('"__import__(\'os\')"'))
    with pytest.raises(BoundFileError, match="attribute access|calls '__import__'"):
        main_audit_bounds(args)
    from mtlcheck.theory.params import ParameterError
    with pytest.raises(ParameterError, match="'budget'"):
        main_audit_bounds(argparse.Namespace(**{**vars(args), "budget": -1}))


def test_the_sympy_time_limit_survives_a_lost_alarm():
    """A ring of the alarm can be dropped (an exception raised while a garbage-collector callback
    runs is printed and discarded: CI lost one that way and a 10-second sympy step ran 6
    minutes); the alarm rings again, and nothing rings once the step is over."""
    import signal
    from mtlcheck.boundlang.timers import _SympyTime, _Timeout
    before = signal.getsignal(signal.SIGALRM)
    lost = []

    def step():
        t0 = time.perf_counter()
        while True:
            # the whole loop sits inside the try: Python runs a signal handler at a backward jump,
            # and one outside the try would end the step before any ring was dropped (CI saw it)
            try:
                while time.perf_counter() - t0 < 20:
                    sum(range(1000))
                return "ran to the end"
            except _Timeout:
                if not lost:                        # drop the first ring, as a gc callback does
                    lost.append(time.perf_counter() - t0)
                    continue
                raise

    t0 = time.perf_counter()
    assert _SympyTime(total=30, each=0.1).run(step, default="stopped") == "stopped"
    assert lost and time.perf_counter() - t0 < 10
    assert signal.getsignal(signal.SIGALRM) == before
    time.sleep(0.3)  # a ring now would raise _Timeout here
