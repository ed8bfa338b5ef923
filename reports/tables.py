"""LaTeX tables (tabulate's booktabs format) and the macros file of scalar results.

Every number comes from results.json (or the audit JSON): none is typed in (showyourwork)."""
from __future__ import annotations

import math
import re

from tabulate import tabulate

__all__ = ["num", "booktabs", "claims_summary", "claims_statements", "eout_table", "nstar_table",
           "mstar_table", "c5_table", "audit_table", "macros"]


def num(x, digits: int = 4) -> str:
    """A number for a table cell: 4 significant digits, 'inf' for None/inf."""
    if x is None:
        return "inf"
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return "inf" if math.isinf(x) else "nan"
    return f"{x:.{digits}g}"


def booktabs(rows, headers, colspec: str | None = None) -> str:
    """tabulate's latex_booktabs (which escapes LaTeX specials), with an optional column spec
    (P{4cm}: a ragged-right paragraph column defined in report.tex)."""
    tex = tabulate(rows, headers=headers, tablefmt="latex_booktabs", disable_numparse=True)
    # OT1 fonts print '|' as a dash; tabulate leaves it unescaped (no vertical rules in booktabs)
    tex = tex.replace("|", r"\textbar{}")
    if colspec:
        tex = re.sub(r"\\begin\{tabular\}\{[^}]*\}", lambda m: "\\begin{tabular}{" + colspec + "}",
                     tex, count=1)
    return tex + "\n"


def _short_provenance(prov: list[str]) -> str:
    parts = []
    for p in prov:
        if p.startswith("paper abstract (v5)"):
            parts.append("abstract v5, verbatim")
        elif p.startswith("paper abstract (v1/v2)"):
            parts.append("abstract v1/v2, verbatim")
        elif p.startswith("derived here"):
            sec = p.split("section")[-1].split("(")[0].strip() if "section" in p else ""
            parts.append(f"derived here, docs sec. {sec}")
        elif p.startswith("checkable form"):
            parts.append("checkable form (PAPER.md)")
    return "; ".join(dict.fromkeys(parts))


def claims_summary(results: dict) -> str:
    rows = []
    for c in results["claims"]:
        cb = c["confidence_bound"]
        rows.append([c["id"], c["title"], c["statistic"]["name"], num(c["statistic"]["value"]),
                     f"{'<=' if cb['side'] == 'upper' else '>='} {num(c['bound'])}",
                     num(cb["value"]), num(c["margin"]), c["verdict"],
                     c["negative_control"]["verdict"]])
    return booktabs(rows, ["id", "claim", "statistic", "value", "bound", "conf. bound", "margin",
                           "verdict", "neg. control"],
                    "l P{2.1cm} P{3.6cm} r P{1.3cm} r r l P{1.3cm}")


def claims_statements(results: dict) -> str:
    rows = [[c["id"], c["statement"], _short_provenance(c["provenance"]),
             c["negative_control"]["description"]] for c in results["claims"]]
    return booktabs(rows, ["id", "checkable statement", "provenance", "negative control"],
                    "l P{5.6cm} P{2.8cm} P{5.2cm}")


def _mean_sd(xs):
    xs = [x for x in xs if x is not None]
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1))
    return m, sd


def eout_table(c1: dict) -> str:
    d = c1["details"]
    rows = []
    for T in sorted(d["E_out_vs_T"], key=int):
        m, sd = _mean_sd(d["E_out_vs_T"][T])
        p = d["prediction_vs_T"][T]
        sm, ssd = _mean_sd(d["single_task_E_out_vs_T"][T])
        im, _ = _mean_sd(d["isotropy_vs_T"][T])
        si, _ = _mean_sd(d["single_task_isotropy_vs_T"][T])
        rows.append([T, f"{num(m)} ± {num(sd, 2)}", num(p), f"{100 * (m / p - 1):+.1f}%",
                     f"{num(sm)} ± {num(ssd, 2)}", num(im, 3), num(si, 3)])
    return booktabs(rows, ["T", "E_out multi-task", "prediction (a)", "gap", "E_out one task",
                           "isotropy multi", "isotropy one task"], "r r r r r r r")


def _ci(pair):
    return f"[{num(pair[0])}, {num(pair[1])}]"


def nstar_table(c2: dict) -> str:
    d = c2["details"]
    rows = [[dd, num(d["n_star"]["pretrained"][dd]), _ci(d["n_star_ci"]["pretrained"][dd]),
             num(d["n_star"]["raw-linear"][dd]), _ci(d["n_star_ci"]["raw-linear"][dd]),
             num(d["n_star_bound"][dd]), num(sum(d["E_out"][dd]) / len(d["E_out"][dd]), 3)]
            for dd in sorted(d["n_star"]["pretrained"], key=int)]
    return booktabs(rows, ["d", "n* pretrained", "90% CI", "n* raw x", "90% CI",
                           "derived bound", "E_out"], "r r r r r r r")


def mstar_table(c3: dict) -> str:
    d = c3["details"]
    eps = c3["parameters"]["eps"]
    rows = [[dd, num(d["m_star"]["pretrained"][dd]), _ci(d["m_star_ci"]["pretrained"][dd]),
             num(d["m_star"]["random-features"][dd]), _ci(d["m_star_ci"]["random-features"][dd]),
             num(d["m_star_bound"][dd]), num(math.pi / 2 * (1 - eps) * int(dd))]
            for dd in sorted(d["m_star"]["pretrained"], key=int)]
    return booktabs(rows, ["d", "m* pretrained", "90% CI", "m* random features", "90% CI",
                           "width bound (6.2)", "RF lower bound (8.1)"], "r r r r r r r")


def c5_table(c5: dict) -> str:
    d = c5["details"]
    rows = [[dd, num(d["m_star"]["random-features"][dd]), _ci(d["m_star_ci"]["random-features"][dd]),
             num(d["m_star"]["pretrained"][dd]), _ci(d["m_star_ci"]["pretrained"][dd])]
            for dd in sorted(d["m_star"]["random-features"], key=int)]
    return booktabs(rows, ["d", "m* random features", "90% CI", "m* pretrained", "90% CI"],
                    "r r r r r")


def audit_table(audit: dict) -> str:
    rows = [[r["constant"], r["section"], r["kind"], num(r["proof"]), num(r["simulated"]),
             f"[{num(r['ci'][0])}, {num(r['ci'][1])}]", num(r["slack"], 3), r["status"]]
            for r in audit["rows"]]
    return booktabs(rows, ["constant", "sec.", "kind", "proof", "simulation", "CI", "slack",
                           "status"], "P{5.2cm} l l r r r r l")


_DIGITS = "Zero One Two Three Four Five Six Seven Eight Nine".split()


def macro_name(*parts) -> str:
    """A LaTeX command name from parts: letters only (digits spelled out)."""
    out = "mtl"
    for p in parts:
        s = str(p)
        s = "".join(_DIGITS[int(ch)] if ch.isdigit() else ch for ch in s)
        s = re.sub(r"[^A-Za-z]", " ", s)
        out += "".join(w[:1].upper() + w[1:] for w in s.split())
    return out


def macros(results: dict, audit: dict | None = None) -> str:
    """One \\newcommand per scalar result, so that a paper can cite numbers without copying."""
    lines = ["% generated by `mtlcheck report`; every number comes from results.json"]

    def add(name, value):
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")

    add(macro_name("profile"), results.get("profile", "?"))
    add(macro_name("seed"), results.get("seed", "?"))
    for c in results["claims"]:
        cid = c["id"]
        add(macro_name(cid, "statistic"), num(c["statistic"]["value"]))
        add(macro_name(cid, "conf bound"), num(c["confidence_bound"]["value"]))
        add(macro_name(cid, "bound"), num(c["bound"]))
        add(macro_name(cid, "margin"), num(c["margin"]))
        add(macro_name(cid, "verdict"), c["verdict"])
        add(macro_name(cid, "negative control"), c["negative_control"]["verdict"])
        d = c["details"]
        for key in ("n_star", "m_star"):
            for model, per_d in d.get(key, {}).items():
                for dd, v in per_d.items():
                    add(macro_name(cid, key.replace("_", " "), model, "d", dd), num(v))
    if audit:
        w = audit.get("prediction_worst_gap", {})
        if "gap" in w:
            add(macro_name("audit worst prediction gap percent"), f"{100 * w['gap']:+.2f}")
        add(macro_name("audit violations"), str(len(audit.get("violations", []))))
    return "\n".join(lines) + "\n"
