"""`mtlcheck verify RESULTS.json`: an independent check of a results file's internal consistency.

Every component (primary decision, subcheck) and every negative control of every claim is
re-decided from the inputs and rule parameters its record keeps (``inputs``, ``params``) by the
small implementation below, written from the rules' specification (docs/derivations.md section
10) and deliberately sharing no code with the checks: it imports nothing from mtlcheck, only the
standard library, numpy, scipy and jsonschema (tests/test_verify.py enforces it). The recomputed
statistic, bounds and verdicts are compared with the recorded ones, then each claim's verdict,
margin, bound and false-pass bound, and the document's digest (sha256 of its canonical JSON),
so that an edit of the file is caught even where a re-decision would agree.

What it does not show: that the inputs came from the code and seeds the record names, or that
the simulation models the paper.

Exit status: 0 everything agrees, 1 a mismatch (one line each, naming claim, component and
field), 2 a file that cannot be read, is not strict JSON, breaks the schema or predates the
recorded evidence.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time

import numpy as np
from scipy import stats as st

__all__ = ["verify_document", "verify_record", "verify_file", "main_verify", "document_digest",
           "Unverifiable"]

RTOL, ATOL = 1e-9, 1e-12
NAN = math.nan
SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "checks", "schemas", "results.schema.json")
LEAVES = ("SlopeRule", "MeanRule", "BinomialRule", "ExactRule", "ZRule")


class Unverifiable(Exception):
    """The document cannot be verified at all (exit status 2)."""


class Malformed(Exception):
    """A record's inputs or params do not have the shape their rule needs (a mismatch)."""


def _f(x) -> float:
    """A JSON number as a float: null (and infinities, which JSON stores as null) are NaN."""
    if x is None:
        return NAN
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise Malformed(f"{x!r} is not a number")
    x = float(x)
    return x if math.isfinite(x) else NAN


def document_digest(doc: dict) -> str:
    """sha256 of the canonical JSON of ``doc`` without its "digest" key."""
    rest = {k: v for k, v in doc.items() if k != "digest"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the rules, re-implemented ----------------------------------------------------------------

def _groups(inputs) -> tuple[list[float], list[list[float]]]:
    if not isinstance(inputs, dict) or not isinstance(inputs.get("values"), list):
        raise Malformed("inputs are not groups {xs, values}")
    xs, values = [_f(x) for x in inputs.get("xs", [])], inputs["values"]
    if len(xs) != len(values) or not all(isinstance(g, list) for g in values):
        raise Malformed(f"{len(xs)} xs for {len(values)} groups")
    return xs, [[_f(v) for v in g] for g in values]


def _contrast(c: np.ndarray, groups: list[list[float]], level: float) -> tuple:
    """(estimate, lower, upper) of sum_g c_g mean_g: Welch-Satterthwaite t bounds at ``level``
    widened by the Cornish-Fisher skew term; NaN with a short or non-finite group."""
    if (not groups or not np.isfinite(c).all()
            or any(len(g) < 2 or not all(math.isfinite(v) for v in g) for g in groups)):
        return NAN, NAN, NAN
    ys = [np.asarray(g, dtype=float) for g in groups]
    n = np.array([len(y) for y in ys], dtype=float)
    ybar = np.array([y.mean() for y in ys])
    s2 = np.array([y.var(ddof=1) for y in ys])
    b = float(c @ ybar)
    vg = c ** 2 * s2 / n
    var = float(vg.sum())
    if var == 0:
        return b, b, b
    df = var ** 2 / float((vg ** 2 / (n - 1)).sum())
    k3 = np.array([len(y) / ((len(y) - 1) * (len(y) - 2)) * float(((y - y.mean()) ** 3).sum())
                   if len(y) > 2 else 0.0 for y in ys])
    gamma = float((c ** 3 * k3 / n ** 2).sum() / var ** 1.5)
    t = float(st.t.ppf(1 - level, df))
    se = math.sqrt(var)
    q_up = t + max(0.0, gamma) * (2 * t * t + 1) / 6
    q_lo = t + max(0.0, -gamma) * (2 * t * t + 1) / 6
    return b, b - q_lo * se, b + q_up * se


def _estimate(p: dict, inputs) -> tuple:
    """(statistic, lower, upper) of a leaf rule on its inputs."""
    kind, alpha = p["kind"], _f(p.get("alpha"))
    if kind in ("SlopeRule", "MeanRule"):
        if "t_level" not in p:
            raise Malformed("params lack t_level")
        xs, groups = _groups(inputs)
        if kind == "MeanRule":
            if len(groups) != 1:
                raise Malformed(f"a mean takes one group, inputs have {len(groups)}")
            c = np.array([1.0])
        else:
            x = np.asarray(xs, dtype=float)
            sxx = float(((x - x.mean()) ** 2).sum()) if len(x) else 0.0
            c = (x - x.mean()) / sxx if sxx > 0 else np.full(len(x), NAN)
        return _contrast(c, groups, _f(p["t_level"]))
    if kind == "BinomialRule":
        if not isinstance(inputs, list) or not all(isinstance(v, bool) for v in inputs):
            raise Malformed("inputs are not a list of booleans")
        K, k = len(inputs), sum(inputs)
        if K == 0:
            return NAN, NAN, NAN
        lo = 0.0 if k == 0 else float(st.beta.ppf(alpha, k, K - k + 1))
        up = 1.0 if k == K else float(st.beta.ppf(1 - alpha, k + 1, K - k))
        return k / K, lo, up
    if kind == "ExactRule":
        x = _f(inputs)
        return x, x, x
    if not isinstance(inputs, list):                                     # ZRule
        raise Malformed("inputs are not a list of z-scores")
    z = [abs(_f(v)) for v in inputs]
    if not z:
        return NAN, NAN, NAN
    crit = float(st.norm.ppf(1 - alpha / (2 * len(z))))
    w = max(z) if all(math.isfinite(v) for v in z) else NAN
    return w - crit, w - crit, w - crit


def _relate(p: dict, stat: float, lower: float, upper: float) -> dict:
    rel = p["relation"]
    if rel == "within":
        c, tol = _f(p["boundary"]), _f(p["tol"])
        cb, rb = max(upper - c, c - lower), max(lower - c, c - upper)
        stat, bnd, rel = abs(stat - c), tol, "<="
    elif rel in ("<=", ">="):
        cb, rb = (upper, lower) if rel == "<=" else (lower, upper)
        bnd = _f(p["boundary"])
    else:
        raise Malformed(f"relation {rel!r}")
    fin = all(math.isfinite(v) for v in (cb, rb, stat))
    passed = fin and (cb <= bnd if rel == "<=" else cb >= bnd)
    refuted = fin and (rb > bnd if rel == "<=" else rb < bnd)
    return {"statistic": stat, "cb": cb, "rb": rb, "boundary": bnd, "relation": rel,
            "passed": bool(passed), "refuted": bool(refuted), "alpha": _f(p.get("alpha")),
            "error": p.get("error")}


# --- sequential rules (docs/derivations.md section 10.6): e-values at every recorded look ----

def _log_e(y: np.ndarray, direction: str, c: float, share_p0=None) -> float:
    """log e-value of replicates y - b (mean: one-sided t-mixture) or of 0/1 draws against a
    share p0 (uniform mixture on the alternative side); 'below': evidence of less than b."""
    n = len(y)
    if share_p0 is not None:
        k, p0 = float(np.sum(y)), share_p0
        mass = st.beta.cdf(p0, k + 1, n - k + 1)
        mass = (mass / p0) if direction == "below" else (1 - mass) / (1 - p0)
        return (math.lgamma(k + 1) + math.lgamma(n - k + 1) - math.lgamma(n + 2)
                + math.log(max(mass, 1e-300)) - k * math.log(p0) - (n - k) * math.log(1 - p0))
    S, V = float(np.sum(y)), float(np.sum(y * y))
    if not (math.isfinite(S) and math.isfinite(V)):
        return NAN
    A = min(S * S / ((n + c) * V), n / (n + c)) if V > 0 else 0.0
    sg = math.copysign(1.0, S) * (1 if direction == "above" else -1) if S else 0.0
    return (math.log(2) + 0.5 * math.log(c / (n + c)) - 0.5 * n * math.log1p(-A)
            + math.log(max(float(st.t.cdf(sg * math.sqrt(n * A / (1 - A)), n)), 1e-300)))


def _seq_leaf(p: dict, inputs):
    """(series, share?, [(boundary, pass direction)]) of a leaf rule's sequential form."""
    kind, rel = p["kind"], p["relation"]
    if kind == "BinomialRule":
        x, share = np.array([float(bool(v)) for v in inputs]), True
    else:
        xs, groups = _groups(inputs)
        share = False
        if kind == "MeanRule":
            x = np.asarray(groups[0], dtype=float)
        else:
            xa = np.asarray(xs, dtype=float)
            w = (xa - xa.mean()) / float(((xa - xa.mean()) ** 2).sum())
            k = min(len(g) for g in groups)             # equal by design; a short group shows
            x = np.asarray([g[:k] for g in groups], dtype=float).T @ w   # in the count check
    b, tol = _f(p["boundary"]), _f(p.get("tol") or 0.0)
    sides = ([(b - tol, "above"), (b + tol, "below")] if rel == "within"
             else [(b, "below" if rel == "<=" else "above")])
    return x, share, sides


def _first(x, share, b, pass_dir, looks, alpha, c, false_alarm):
    """(look index or -1, passed, refuted) of one one-sided part."""
    opp = "above" if pass_dir == "below" else "below"
    for i, n in enumerate(looks):
        y = x[:n] if share else x[:n] - b
        lp = -math.inf if false_alarm else _log_e(y, pass_dir, c, b if share else None)
        lr = _log_e(y, opp, c, b if share else None)
        if math.isnan(lp) or math.isnan(lr):
            return i, False, False
        if lp >= math.log(1 / alpha) or lr >= math.log(1 / alpha):
            return i, lp >= math.log(1 / alpha), lp < math.log(1 / alpha)
    return -1, False, False


def _combine(times):
    inf = 10 ** 9
    pass_t = max((i if ok_ else inf) for i, ok_, _ in times)
    stop_t = min(((i if (r or (i >= 0 and not ok_)) else inf) for i, ok_, r in times), default=inf)
    if stop_t <= pass_t and stop_t < inf:
        return stop_t, False, any(r and i == stop_t for i, _, r in times)
    return (pass_t, True, False) if pass_t < inf else (-1, False, False)


def _cs(x, share, alpha, side, c) -> float:
    """The anytime-valid bound at one look: the boundary where the e-value reaches 1 / alpha."""
    if np.isnan(x).any():
        return NAN
    direction, sgn = ("below", 1.0) if side == "upper" else ("above", -1.0)
    thr, m = math.log(1 / alpha), float(np.mean(x))
    e = (lambda q: _log_e(x, direction, c, q)) if share else (lambda q: _log_e(x - q, direction, c))
    far = ((1 - 1e-12 if side == "upper" else 1e-12) if share
           else m + sgn * (float(np.std(x)) + 1e-12 * (abs(m) + 1)))
    if share:
        if e(far) < thr:
            return 1.0 if side == "upper" else 0.0
        near = min(max(m, 1e-12), 1 - 1e-12)
    else:
        for _ in range(60):
            if e(far) >= thr:
                break
            far = m + 2 * (far - m)
        else:
            return math.inf * sgn
        near = m
    for _ in range(60 if share else 80):
        mid = 0.5 * (near + far)
        near, far = (near, mid) if e(mid) >= thr else (mid, far)
    return far


def decide_sequential(p: dict, inputs, problems: list[str]) -> dict:
    """Re-decide a sequential component from its recorded looks."""
    looks, c = [int(n) for n in p["looks"]], _f(p.get("mixture_c", 1.0))
    if p["kind"] in ("EveryPoint", "AllOf"):
        subs = [decide_sequential(q, x, problems) for q, x in zip(p["parts"], inputs)]
        if not subs or len(subs) != len(inputs):
            raise Malformed("parts and inputs differ")
        i, passed, refuted = _combine([(looks.index(d["n"]) if d["decided"] else -1, d["passed"],
                                        d["refuted"] or (d["decided"] and not d["passed"]))
                                       for d in subs])
        worst = max if subs[0]["relation"] == "<=" else min
        agg = lambda k: (NAN if any(math.isnan(d[k]) for d in subs)
                         else worst(d[k] for d in subs))
        pick = subs[0]
        if p["kind"] == "AllOf":       # different rules: the deciding part's numbers
            pick = next((d for d in subs if d["refuted"]),
                        next((d for d in subs if not d["passed"]), subs[0]))
            agg = lambda k: pick[k]
        return {"statistic": agg("statistic"), "cb": agg("cb"), "rb": agg("rb"),
                "boundary": pick["boundary"], "relation": pick["relation"],
                "passed": passed, "refuted": refuted and any(d["refuted"] for d in subs),
                "alpha": _f(p.get("alpha")), "error": p.get("error"), "decided": i >= 0,
                "n": looks[i] if i >= 0 else looks[-1]}
    x, share, sides = _seq_leaf(p, inputs)
    alpha = _f(p["alpha"] if share else p["t_level"])      # t-based: at LEVEL x alpha
    sizes = ({len(inputs)} if isinstance(inputs, list) else {len(g) for g in inputs["values"]})
    if sizes != {looks[-1]}:
        problems.append(f"inputs hold {sorted(sizes)} replicates, the looks end at {looks[-1]}")
    i, passed, refuted = _combine([_first(x, share, b, dr, looks, alpha, c,
                                          p.get("error") == "false alarm") for b, dr in sides])
    n = looks[i] if i >= 0 else looks[-1]
    cut = (inputs[:n] if isinstance(inputs, list) else
           {**inputs, "values": [g[:n] for g in inputs["values"]]})
    stat, _, _ = _estimate(p, cut)
    upto = [m for m in looks if m <= n]
    lo = [_cs(x[:m], share, alpha, "lower", c) for m in upto]
    up = [_cs(x[:m], share, alpha, "upper", c) for m in upto]
    d = _relate(p, stat, NAN if any(map(math.isnan, lo)) else max(lo),
                NAN if any(map(math.isnan, up)) else min(up))
    return {**d, "passed": passed, "refuted": refuted, "decided": i >= 0, "n": n}


def decide(p: dict, inputs, problems: list[str]) -> dict:
    """Re-decide the rule described by ``p`` on ``inputs``; structural inconsistencies of the
    params (point count, Bonferroni split) are appended to ``problems``."""
    if not isinstance(p, dict) or "kind" not in p:
        raise Malformed("params have no kind")
    if p.get("sequential"):
        return decide_sequential(p, inputs, problems)
    kind = p["kind"]
    if kind in LEAVES:
        return _relate(p, *_estimate(p, inputs))
    if kind not in ("EveryPoint", "AllOf"):
        raise Unverifiable(f"unknown rule kind {kind!r}")
    if not isinstance(inputs, list):
        raise Malformed(f"{kind} inputs are not a list")
    if kind == "EveryPoint":
        k, alpha = len(inputs), _f(p.get("alpha"))
        if p.get("points") != k:
            problems.append(f"params points {p.get('points')}, inputs hold {k} points")
        want = alpha / k if p.get("error") == "false alarm" and k else alpha
        if not _same(_f(p["inner"].get("alpha")), want):
            problems.append(f"point alpha recorded {p['inner'].get('alpha')}, expected {want:g}")
        ds = [decide(p["inner"], x, problems) for x in inputs]
        if not ds:
            raise Malformed("no points")
        worst = max if ds[0]["relation"] == "<=" else min

        def agg(key):
            vals = [d[key] for d in ds]
            return NAN if any(math.isnan(v) for v in vals) else worst(vals)
        return {"statistic": agg("statistic"), "cb": agg("cb"), "rb": agg("rb"),
                "boundary": ds[0]["boundary"], "relation": ds[0]["relation"],
                "passed": all(d["passed"] for d in ds), "refuted": any(d["refuted"] for d in ds),
                "alpha": alpha, "error": p.get("error")}
    parts = p.get("parts")
    if not isinstance(parts, list) or len(parts) != len(inputs) or not parts:
        raise Malformed(f"{len(parts or [])} parts for {len(inputs)} inputs")
    ds = [decide(q, x, problems) for q, x in zip(parts, inputs)]
    pick = next((d for d in ds if d["refuted"]), next((d for d in ds if not d["passed"]), ds[0]))
    return {**pick, "passed": all(d["passed"] for d in ds),
            "refuted": any(d["refuted"] for d in ds), "error": p.get("error")}


def ok(d: dict) -> bool:
    """A component's verdict: NaN never passes; false-alarm components fail only on evidence."""
    if not math.isfinite(d["statistic"]):
        return False
    if d["error"] == "false alarm":
        return not math.isnan(d["rb"]) and not d["refuted"]
    return d["passed"]


# --- comparing --------------------------------------------------------------------------------

def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str) or isinstance(a, bool) or isinstance(b, bool):
        return a == b
    try:
        a, b = _f(a), _f(b)
    except Malformed:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= ATOL + RTOL * max(abs(a), abs(b))


def _show(v, other=None) -> str:
    if v is None or isinstance(v, (str, bool)) or not isinstance(v, (int, float)):
        return "null" if v is None else str(v)
    if not math.isfinite(v):
        return "null"
    for digits in (3, 6, 10, 17):             # enough digits to tell the two numbers apart
        text = f"{v:.{digits}g}"
        if not isinstance(other, (int, float)) or isinstance(other, bool) or \
                text != f"{other:.{digits}g}":
            return text
    return repr(float(v))


class _Report:
    def __init__(self):
        self.lines: list[str] = []

    def check(self, where: str, field: str, recorded, recomputed) -> None:
        if not _same(recorded, recomputed):
            self.lines.append(f"{where}: {field} recorded {_show(recorded, recomputed)}, "
                              f"recomputed {_show(recomputed, recorded)}")


def _component(rep: _Report, where: str, rec: dict, control: bool) -> dict | None:
    problems: list[str] = []
    try:
        d = decide(rec["params"], rec.get("inputs"), problems)
    except (Malformed, KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        rep.lines.append(f"{where}: inputs/params cannot be re-decided ({e})")
        return None
    rep.lines += [f"{where}: {msg}" for msg in problems]
    rep.check(where, "statistic", rec.get("statistic"), d["statistic"])
    rep.check(where, "boundary", rec.get("boundary"), d["boundary"])
    rep.check(where, "relation", rec.get("relation"), d["relation"])
    if control:
        d["verdict"] = "rejected" if d["refuted"] else ("accepted" if d["passed"] else "undecided")
        rep.check(where, "confidence_bound", rec.get("confidence_bound"), d["rb"])
        if "claim_side_bound" in rec:
            rep.check(where, "claim_side_bound", rec["claim_side_bound"], d["cb"])
    else:
        d["verdict"] = "pass" if ok(d) else "fail"
        d["side"] = "upper" if d["relation"] == "<=" else "lower"
        rep.check(where, "confidence_bound", rec.get("confidence_bound"), d["cb"])
        rep.check(where, "refute_bound", rec.get("refute_bound"), d["rb"])
        for field in ("bound", "side", "alpha", "error"):
            rep.check(where, field, rec.get(field),
                      d["boundary"] if field == "bound" else d[field])
    rep.check(where, "verdict", rec.get("verdict"), d["verdict"])
    return d


def verify_record(rec: dict, where: str = "record", control: bool = False) -> list[str]:
    """The mismatch lines of one component record (``control``: a negative control's)."""
    rep = _Report()
    _component(rep, where, rec, control)
    return rep.lines


def _claim(rep: _Report, c: dict) -> int:
    cid = c.get("id", "?")
    prim = _component(rep, f"{cid} primary", c["primary"], control=False)
    subs = [_component(rep, f"{cid} subcheck '{s.get('key', s.get('name'))}'", s, control=False)
            for s in c["subchecks"]]
    ctrls = [_component(rep, f"{cid} control '{k.get('name')}'", k, control=True)
             for k in c["negative_controls"]]
    where = f"{cid} claim"
    stat, conf, errb = (c.get(k) or {} for k in ("statistic", "confidence_bound", "error_bounds"))
    if prim is not None:
        rep.check(where, "bound", c.get("bound"), prim["boundary"])
        rep.check(where, "statistic", stat.get("value"), prim["statistic"])
        rep.check(where, "confidence_bound", conf.get("value"), prim["cb"])
        rep.check(where, "confidence_bound side", conf.get("side"), prim["side"])
    bound, cb = _f(c.get("bound")), _f(conf.get("value"))
    margin = bound - cb if conf.get("side") == "upper" else cb - bound
    rep.check(where, "margin", c.get("margin"), margin)
    comps = [prim] + subs
    if all(d is not None for d in comps + ctrls):
        verdict = ("pass" if all(d["verdict"] == "pass" for d in comps) and len(ctrls) >= 2
                   and all(d["verdict"] == "rejected" for d in ctrls) else "fail")
        q = c.get("sequential") or {}
        if verdict == "fail" and q.get("stopped") == "cap" and len(ctrls) >= 2 and not any(
                _against(d, False) for d in comps) and not any(_against(d, True) for d in ctrls):
            verdict = "undecided"     # at the cap, nothing decided against the claim
        rep.check(where, "verdict", c.get("verdict"), verdict)
        fp = max((d["alpha"] for d in comps if d["error"] == "false pass"), default=0.0)
        rep.check(where, "error_bounds.false_pass", errb.get("false_pass"), fp)
        vs = [d["verdict"] for d in ctrls]
        summary = ("rejected" if vs and all(v == "rejected" for v in vs)
                   else "accepted" if "accepted" in vs else "undecided")
        rep.check(where, "negative_control.verdict",
                  (c.get("negative_control") or {}).get("verdict"), summary)
    else:
        rep.lines.append(f"{where}: verdict not re-derived (a component could not be re-decided)")
    return len(comps) + len(ctrls)


def _against(d: dict, control: bool) -> bool:
    """A component decided against the claim (a fixed-design verdict is always final)."""
    if "decided" not in d:
        return d["verdict"] not in ("pass", "rejected")
    if control:
        return d["decided"] and not d["refuted"]
    return d["decided"] and (d["error"] == "false alarm" or not d["passed"])


def _require_params(doc: dict) -> None:
    for c in doc["claims"]:
        recs = ([("primary", c["primary"])] + [(f"subcheck '{s.get('key')}'", s)
                                              for s in c["subchecks"]]
                + [(f"control '{k.get('name')}'", k) for k in c["negative_controls"]])
        for what, rec in recs:
            if not isinstance(rec.get("params"), dict):
                raise Unverifiable(f"{c['id']} {what} has no params: the file was written before "
                                   "records kept their rules' evidence; run `mtlcheck run` again")


def verify_document(doc: dict) -> list[str]:
    """The mismatch lines of a schema-valid results document (empty: everything agrees).
    Raises Unverifiable for a document that predates the recorded evidence."""
    _require_params(doc)
    rep = _Report()
    for c in doc["claims"]:
        _claim(rep, c)
    recorded = doc.get("digest")
    recomputed = document_digest(doc)
    if recorded != recomputed:
        rep.lines.append(f"document: digest recorded {recorded or '(none)'}, "
                         f"recomputed {recomputed}")
    return rep.lines


def _load(path: str) -> dict:
    def no_constant(name):
        raise ValueError(f"{name} is not strict JSON")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f, parse_constant=no_constant)
    except OSError as e:
        raise Unverifiable(f"cannot read {path}: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise Unverifiable(f"{path} is not JSON: {e}") from None
    try:
        import jsonschema
        with open(SCHEMA, encoding="utf-8") as f:
            schema = json.load(f)
    except OSError as e:
        raise Unverifiable(f"cannot read the results schema {SCHEMA}: {e}") from None
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = errors[0]
        at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        msg = e.message if len(e.message) <= 160 else e.message[:157] + "..."
        raise Unverifiable(f"{path} breaks the results schema at {at.lstrip('.') or '(top level)'}"
                           f": {msg}")
    return doc


def verify_file(path: str) -> dict:
    """Plain data for a caller (`mtlcheck report`): {ok, mismatches, digest, claims, components
    (controls included)}; a file that cannot be verified gives {ok: False, error: why}."""
    try:
        doc = _load(path)
        lines = verify_document(doc)
    except Unverifiable as e:
        return {"ok": False, "error": str(e), "mismatches": []}
    n = sum(1 + len(c["subchecks"]) + len(c["negative_controls"]) for c in doc["claims"])
    return {"ok": not lines, "mismatches": lines, "digest": doc.get("digest") or
            document_digest(doc), "claims": len(doc["claims"]), "components": n}


def main_verify(args) -> int:
    """`mtlcheck verify RESULTS [--json]`: 0 consistent, 1 mismatches, 2 unverifiable."""
    t0 = time.perf_counter()
    v = verify_file(args.results)
    if "error" in v:
        print(f"mtlcheck verify: error: {v['error']}", file=sys.stderr)
        return 2
    lines, n, dig = v["mismatches"], v["components"], v["digest"]
    if getattr(args, "json", False):
        print(json.dumps({**v, "seconds": round(time.perf_counter() - t0, 3)}))
    elif lines:
        print("\n".join(lines))
        print(f"mtlcheck verify: {len(lines)} mismatch(es) in {args.results}", file=sys.stderr)
    else:
        print(f"verified: {v['claims']} claims, {n} components and controls, digest {dig}")
    return 1 if lines else 0
