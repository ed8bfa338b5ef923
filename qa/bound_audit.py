"""`mtlcheck audit --bounds FILE.toml`: audit statements a user types (boundlang/) against
simulation; `--bounds builtin` audits the project's derived bounds, shipped as
boundlang/derived.toml, and `--bounds builtin:counterexamples` the statements that `mtlcheck
counterexamples` searches (:func:`load_statements`). The rules are stated in
docs/bounds-as-data.md (section 8: the one engine); this module runs them, with the
measurements of qa/bound_measure.py, the rules of qa/bound_decide.py and qa/bound_constants.py,
the design and search of qa/bound_search.py and the text of qa/bound_report.py.

Per bound: structural facts from sympy; a deterministic design over the domain (corners, the
centre and log-spaced interior points, cheapest first, within the budget); a derandomised
Hypothesis search (no database, no deadline) that shrinks a violation to a minimal
configuration, confirmed with fresh seeds; the verdict with its error probability; the point of
least slack; for each constant the least value consistent with simulation.

Seeds: run k (k = 0..runs-1) at any point of the design or the search uses seed 1000 seed + k
(the built-in audit's scheme, so the same configuration gives the same runs); the confirmation
of a counterexample uses 1000 (seed + 1) + k, which is what `--seed seed+1 --at CONFIG`
reproduces.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..boundlang import AXES, BUILTIN, BoundSpec, builtin_bounds, load_bounds, structural_facts
from ..sim.device import describe, resolve_device
from ..theory.params import ParameterError, validate
from .bound_constants import needed_constants
from .bound_decide import _power, point_decision
from .bound_measure import _RF, SEED_BLOCK, PointResult, _Clock, _seeds, measure_point
from .bound_report import text_report
from .bound_search import SEARCH_EXAMPLES, _cfg, _num, design_points, search

__all__ = ["DEFAULT_BUDGET_S", "MAX_SEED", "COUNTEREXAMPLE_SET", "audit_bounds", "audit_spec",
           "main_audit_bounds", "exit_status", "parse_at", "load_statements"]

DEFAULT_BUDGET_S = 240.0          # leaves a minute of a 5-minute slot for imports and sympy
MAX_SEED = (2 ** 63 - 1) // SEED_BLOCK - 2
#: `--bounds` name of the statements `mtlcheck counterexamples` searches (its negative control
#: included): the shipped ones restated over its regions (qa/counterexamples.py ``specs``)
COUNTEREXAMPLE_SET = BUILTIN + ":counterexamples"


def load_statements(path: str) -> tuple[BoundSpec, ...]:
    """The bound statements `--bounds` names: a bound file, ``builtin`` (the shipped derived
    bounds, boundlang/derived.toml) or ``builtin:counterexamples`` (those `mtlcheck
    counterexamples` searches, so that its reproduction commands run here)."""
    if str(path) == BUILTIN:
        return builtin_bounds()
    if str(path) == COUNTEREXAMPLE_SET:
        from .counterexamples import specs
        return specs()
    return load_bounds(path)


# --- one bound --------------------------------------------------------------------------------

@dataclass
class _Ctx:
    """What every bound of one audit shares: seed, device, progress, the clock, the file."""

    seed: int
    device: str
    progress: object
    clock: _Clock
    path: str


def _design_phase(spec: BoundSpec, ctx: _Ctx, deadline: float, alpha_each: float):
    """Visit the design cheapest first until the phase deadline. After a rejection the verdict
    is settled: the design goes on (for the slack and the constants) only within a quarter of
    the time then left."""
    visited, skipped = [], []
    for p in design_points(spec):
        pr = measure_point(spec, p, ctx.seed, ctx.device, ctx.clock, deadline)
        if pr.skipped is not None:
            why = "not visited: over the budget" if pr.skipped == "budget" else pr.skipped
            skipped.append({"config": p, "why": why})
            continue
        dec = point_decision(spec, pr, alpha_each)
        if dec["violated"] and not any(d["violated"] for _, d in visited):
            deadline = time.perf_counter() + 0.25 * max(deadline - time.perf_counter(), 0.0)
        visited.append((pr, dec))
        ctx.progress(f"bound {spec.name!r}: design {len(visited)}: {_cfg(p)}: slack "
                     f"{dec['slack']:.4g}{' VIOLATED' if dec['violated'] else ''}")
    return visited, skipped


def _search_phase(spec: BoundSpec, ctx: _Ctx, deadline: float, visited) -> dict:
    """Search (seeded with the design's results), then confirm the shrunk configuration with
    fresh seeds (block seed + 1) at level alpha / 2."""
    bad = [pr.config for pr, d in visited if d["violated"]]
    upper = bad[0] if bad else None
    reserve = 0.15 * max(deadline - time.perf_counter(), 0.0)
    found, st = None, None
    if deadline - reserve > time.perf_counter() or bad:
        seeded = {tuple(sorted(pr.config.items())): point_decision(spec, pr, spec.alpha)["violated"]
                  for pr, _ in visited}
        found, st = search(spec, ctx.seed, ctx.device, ctx.clock, deadline - reserve, spec.alpha,
                           upper, ctx.progress, seeded)
    out = {"examples": st.calls if st else 0, "evaluated": len(st.points) if st else 0,
           "box_upper": upper, "candidate": found, "confirmed": None, "confirmation": None,
           "points": st.points if st else []}
    if found is None:
        return out
    pr = measure_point(spec, found, ctx.seed + 1, ctx.device, ctx.clock, deadline, "confirm")
    if pr.skipped is not None:
        out["confirmed"] = False
        out["confirmation"] = {"skipped": pr.skipped}
        return out
    dec = point_decision(spec, pr, spec.alpha / 2)
    out.update(confirmed=dec["violated"], confirmation=dec, confirm_result=pr)
    ctx.progress(f"bound {spec.name!r}: confirmation at {_cfg(found)} with fresh seeds: "
                 f"{'violated' if dec['violated'] else 'not confirmed'}")
    return out


def _reproduce(spec: BoundSpec, config: dict, seed_block: int, path: str) -> list[str]:
    """The commands that rerun the runs behind a decision at ``config``."""
    import shlex
    vary = {a.name: config[a.name] for a in spec.varying}
    cmd = f"mtlcheck audit --bounds {shlex.quote(path)} --only {spec.name}"
    if vary:
        cmd += f" --at {_cfg(vary, exact=True)}"
    cmds = [cmd + f" --seed {seed_block}"]
    if any(q not in _RF for q in spec.measured):
        c = config
        s0 = SEED_BLOCK * seed_block
        extra = "".join(f" --{flag} {_num(c[k], True)}" for k, flag, dflt in
                        (("p", "noise", 0.0), ("eta_a", "eta-a", 1.0), ("eta_W", "eta-w", 1.0))
                        if k in c and c[k] != dflt)
        cmds.append(f"mtlcheck sim pretrain --d {c['d']} --r {c['r']} --T {c['T']} --n1 "
                    f"{c['n1']} --n2 {c['n2']} --m {c['m']}{extra} --seed {s0} --json "
                    f"(run k uses --seed {s0}+k, k = 0..{spec.runs - 1})")
    return cmds


def _verdict(spec: BoundSpec, visited, srch: dict, planned: int) -> tuple[str, str, dict | None]:
    """(verdict, reason, counterexample) from the design's and the search's decisions."""
    bad = [(pr, d) for pr, d in visited if d["violated"]]
    if srch.get("confirmed"):
        pr, d = srch["confirm_result"], srch["confirmation"]
        return ("violated", "the search's shrunk configuration is rejected again with fresh "
                "seeds", _counterexample(spec, pr, d, True, 1))
    if bad:
        pr, d = bad[0]
        note = "" if srch.get("candidate") is None else " (the search's shrunk candidate was " \
            "not confirmed by fresh seeds; this is the design point)"
        shrunk = all(pr.config[a.name] == a.lo for a in spec.varying)   # the low corner
        return ("violated", "a design point is rejected (Bonferroni over the design)" + note,
                _counterexample(spec, pr, d, shrunk, 0))
    if srch.get("candidate") is not None:
        return ("undecided", f"the search found a candidate at {_cfg(srch['candidate'])} that "
                "fresh seeds did not confirm", None)
    if not visited:
        return "undecided", "no point of the design fits in the budget", None
    if any(not d["valid"] for _, d in visited):
        return "undecided", "the bound or the measurement is undefined at a visited point", None
    return ("holds", f"no rejection at {len(visited)} of {planned} design points and "
            f"{srch.get('evaluated', 0)} search points", None)


def _counterexample(spec, pr: PointResult, dec: dict, shrunk: bool, offset: int) -> dict:
    seed_block = (pr.seeds[0] // SEED_BLOCK)
    return {"config": pr.config, "shrunk": shrunk, "confirmed": offset == 1,
            "seeds": pr.seeds, "slack": dec["slack"], "estimate": dec["estimate"],
            "bound": dec["bound"], "reproduce": _reproduce(spec, pr.config, seed_block,
                                                           spec.path)}


def audit_spec(spec: BoundSpec, budget_s: float, ctx: _Ctx) -> dict:
    """Audit one bound within ``budget_s`` seconds (docs/bounds-as-data.md, "Decision")."""
    t0 = time.perf_counter()
    deadline = t0 + budget_s
    facts = structural_facts(spec, seconds=min(0.25 * budget_s, max(0.08 * budget_s, 2.0), 20.0))
    planned = len(design_points(spec))
    k = len(spec.varying)
    a_design = spec.alpha if k == 0 else spec.alpha / 2 / planned
    left = deadline - time.perf_counter()
    visited, skipped = _design_phase(spec, ctx, time.perf_counter() + (left if k == 0 else
                                                                        0.55 * left), a_design)
    srch = _search_phase(spec, ctx, deadline, visited) if k else {}
    verdict, reason, cex = _verdict(spec, visited, srch, planned)
    decisions = [d for _, d in visited] + [d for _, d in srch.get("points", [])]
    if srch.get("confirmation") and "slack" in srch["confirmation"]:
        decisions.append(srch["confirmation"])
    valid = [d for d in decisions if d["valid"] and not math.isnan(d["slack"])]
    least = min(valid, key=lambda d: d["slack"]) if valid else None
    results = [pr for pr, _ in visited] + [pr for pr, _ in srch.get("points", [])]
    least_pr = next((pr for pr in results if least and pr.config == least["config"]), None)
    constants = needed_constants(spec, results, a_design)
    strength = None
    if verdict == "holds":
        strength = "shown" if all(d["shown"] for _, d in visited) else "not rejected"
    return {"name": spec.name, "source": spec.source, "claim": spec.claim,
            "quantity": spec.quantity, "relation": spec.relation, "expression": spec.expression,
            "expression_typed": facts["expression"], "holds": spec.holds, "delta": spec.delta,
            "verdict": verdict, "strength": strength, "reason": reason,
            "error_prob": spec.alpha,
            "error_prob_meaning": "probability of 'violated' when the bound holds at every "
                                  "visited point (Bonferroni over the design, alpha/2 each for "
                                  "the design and the confirmation)",
            "slack_min": least["slack"] if least else None,
            "at": least["config"] if least else None, "counterexample": cex,
            "constants": constants, "depends_on": facts["depends_on"], "structural": facts,
            "flagged": facts["flagged"], "flag": facts["flag"],
            "power": _power(spec, least_pr, a_design),
            "design": {"planned": planned, "visited": len(visited), "alpha_each": a_design,
                       "points": [d for _, d in visited], "skipped": skipped,
                       "seeds": {"rule": f"run k at every point uses seed {SEED_BLOCK}*{ctx.seed}"
                                         " + k", "values": _seeds(ctx.seed, spec.runs)}},
            "search": _search_record(srch, ctx.seed, spec.runs),
            "spec": spec.record(), "wall_s": time.perf_counter() - t0}


def _search_record(srch: dict, seed: int, runs: int) -> dict | None:
    if not srch:
        return None
    return {"examples": srch["examples"], "evaluated": srch["evaluated"],
            "box_upper": srch["box_upper"], "candidate": srch["candidate"],
            "confirmed": srch["confirmed"], "confirmation": srch["confirmation"],
            "exploratory_alpha": "alpha per point (unadjusted; only confirmed results count)",
            "points": [d for _, d in srch["points"]],
            "confirmation_seeds": _seeds(seed + 1, runs),
            "settings": {"max_examples": SEARCH_EXAMPLES, "derandomize": True,
                         "database": None, "deadline": None}}


# --- the whole file -----------------------------------------------------------------------------

def parse_at(text: str | None) -> dict | None:
    """'d=16,r=1,T=4' -> {'d': 16, 'r': 1, 'T': 4} (ints stay ints; for `--at`)."""
    if text is None:
        return None
    out = {}
    for part in str(text).split(","):
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ParameterError("at", "audit --bounds", "a list NAME=VALUE,NAME=VALUE", text)
        try:
            out[key.strip()] = int(val)
        except ValueError:
            try:
                out[key.strip()] = float(val)
            except ValueError:
                raise ParameterError("at", "audit --bounds", "a list NAME=VALUE with numbers",
                                     text)
    return out


def _at_config(spec: BoundSpec, at: dict) -> dict:
    config = {a.name: a.lo for a in spec.domain}
    for k, v in at.items():
        if k not in config:
            raise ParameterError("at", "audit --bounds", f"symbols of bound {spec.name!r} "
                                 f"({', '.join(config)})", k)
        if not AXES[k].ok(v):
            raise ParameterError("at", "audit --bounds", f"{k} = {AXES[k].constraint()}", v)
        config[k] = v
    if config.get("r", 0) > config.get("d", math.inf):
        raise ParameterError("at", "audit --bounds", "a configuration with r <= d", at)
    return config


def _audit_at(spec: BoundSpec, at: dict, ctx: _Ctx) -> dict:
    """One configuration, the seeds of ``ctx.seed``, one test at level alpha (reproduction)."""
    t0 = time.perf_counter()
    config = _at_config(spec, at)
    pr = measure_point(spec, config, ctx.seed, ctx.device, None, None, "at")
    dec = point_decision(spec, pr, spec.alpha)
    verdict = "violated" if dec["violated"] else ("holds" if dec["valid"] else "undecided")
    facts = structural_facts(spec, seconds=5.0)
    return {"name": spec.name, "source": spec.source, "claim": spec.claim,
            "quantity": spec.quantity, "relation": spec.relation, "expression": spec.expression,
            "expression_typed": facts["expression"], "holds": spec.holds, "delta": spec.delta,
            "verdict": verdict, "strength": "shown" if dec["shown"] else "not rejected",
            "reason": f"one configuration (--at), one test at level {spec.alpha}",
            "error_prob": spec.alpha, "slack_min": dec["slack"], "at": config,
            "counterexample": _counterexample(spec, pr, dec, False, 0) if dec["violated"] else None,
            "constants": needed_constants(spec, [pr], spec.alpha),
            "depends_on": facts["depends_on"], "structural": facts, "flagged": facts["flagged"],
            "flag": facts["flag"], "power": _power(spec, pr, spec.alpha),
            "design": {"planned": 1, "visited": 1, "alpha_each": spec.alpha, "points": [dec],
                       "skipped": [], "seeds": {"values": pr.seeds}},
            "search": None, "spec": spec.record(), "wall_s": time.perf_counter() - t0}


def _share(specs: list[BoundSpec], clock: _Clock) -> float:
    """Seconds for the first of ``specs``: an even share of what is left, raised to what its
    cheapest configuration needs (1.5 times its runs, plus 5 s) when the later bounds' own
    needs still fit."""
    left = max(clock.left(), 0.0)

    def need(spec):
        p = design_points(spec)[0]
        return 1.5 * spec.runs * clock.run_s(spec.measured, p) + 5.0

    later = sum(need(s) for s in specs[1:])
    return min(left, max(left / len(specs), min(need(specs[0]), left - later)))


def _check_budget(budget_s) -> float:
    return validate("audit --bounds", budget=budget_s)["budget"]


def audit_bounds(path: str, budget_s: float = DEFAULT_BUDGET_S, seed: int = 0,
                 device: str = "auto", progress=None, only=None, at: dict | None = None) -> dict:
    """Audit every bound of a bound file (or of the shipped statements: ``path`` ``builtin``,
    ``builtin:counterexamples``, :func:`load_statements`) within ``budget_s`` seconds (shared
    evenly among the bounds still to audit); returns the document of
    checks/schemas/audit.schema.json.

    ``only``: names of the bounds to audit; ``at``: one configuration to evaluate (with the seeds
    of ``seed``), as a reproduction command does. BoundFileError for a bad file, ParameterError
    for a bad argument."""
    budget = _check_budget(budget_s)
    v = validate("audit", seed=seed, device=device)
    if v["seed"] > MAX_SEED:
        raise ParameterError("seed", "audit --bounds", f"an int in [0, {MAX_SEED}]", seed)
    dev = resolve_device(v["device"], "audit")
    progress = progress or (lambda msg: None)
    specs = load_statements(path)
    names = [s.name for s in specs]
    only = [only] if isinstance(only, str) else only
    for n in only or []:
        if n not in names:
            raise ParameterError("only", "audit --bounds", "names of bounds in the file ("
                                 + ", ".join(names) + ")", n)
    specs = [s for s in specs if not only or s.name in only]
    t0 = time.perf_counter()
    ctx = _Ctx(v["seed"], v["device"], progress, _Clock(t0 + budget), str(path))
    if at is None:
        ctx.clock.calibrate(v["device"])
    records = []
    for i, spec in enumerate(specs):
        progress(f"bound {spec.name!r}: {spec.quantity} {spec.relation} {spec.expression}")
        if at is not None:
            records.append(_audit_at(spec, at, ctx))
        else:
            records.append(audit_spec(spec, _share(specs[i:], ctx.clock), ctx))
    summary = {k: sum(r["verdict"] == k for r in records) for k in ("holds", "violated",
                                                                     "undecided")}
    summary["flagged"] = sum(bool(r["flagged"]) for r in records)
    return _jsonable({"file": str(path), "seed": v["seed"], "budget_s": budget,
                      "device": describe(dev), "bounds": records, "summary": summary,
                      "wall_s": time.perf_counter() - t0})


def _jsonable(x):
    """Strict JSON: numpy scalars to Python, inf and NaN to None (the schema's null)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    return x


def exit_status(doc: dict) -> int:
    """0 when every bound holds and none is flagged; 1 otherwise (a violation, an undecided
    bound, or a structural flag)."""
    ok = all(r["verdict"] == "holds" and not r["flagged"] for r in doc["bounds"])
    return 0 if ok else 1


def main_audit_bounds(args) -> int:
    """`mtlcheck audit --bounds FILE|builtin|builtin:counterexamples [--budget S] [--seed N]
    [--device D] [--json] [--only NAME ...] [--at K=V,...]`: progress on stderr, the document or a text report on
    stdout; exit status 0 / 1 (exit_status); a bad file raises BoundFileError (status 2)."""
    progress = lambda m: print(m, file=sys.stderr, flush=True)
    budget = getattr(args, "budget", None)
    doc = audit_bounds(args.bounds, DEFAULT_BUDGET_S if budget is None else budget,
                       getattr(args, "seed", 0), getattr(args, "device", "auto"), progress,
                       getattr(args, "only", None), parse_at(getattr(args, "at", None)))
    print(json.dumps(doc) if getattr(args, "json", False) else text_report(doc))
    return exit_status(doc)
