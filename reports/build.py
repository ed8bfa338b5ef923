"""report.tex from its template (reports/templates/, string.Template with the delimiter @) and
the generated tables, macros and figures; compiled to report.pdf where latexmk or pdflatex
exists."""
from __future__ import annotations

import os
import shutil
import string
import subprocess
from importlib import resources

from ..theory.params import MtlcheckError
from . import figures as F
from . import tables as TB
from .records import ClaimRecord, Results

__all__ = ["write", "compile_pdf"]

ALGORITHM = {"one-step": "the one-step variant of the alternating algorithm (one head step from "
                         "zero, then one representation step with weight decay "
                         "$1/\\eta_W$)"}


class _Tex(string.Template):
    delimiter = "@"


def _template(name: str) -> _Tex:
    return _Tex(resources.files("mtlcheck.reports").joinpath("templates", name).read_text())


def _table(name, caption, label="", breakable=False):
    """A table of the report. A ``breakable`` one (a long table written in blocks, tables.py
    BLOCK_LINES) is set in the text, not in a float, so that pages break between its blocks; its
    caption is numbered like a float's."""
    lab = "\\label{" + label + "}" if label else ""
    if breakable:
        return (f"\\begin{{center}}\\small\\setlength{{\\tabcolsep}}{{4pt}}\n"
                f"\\refstepcounter{{table}}{lab}Table~\\thetable: {caption}\\par\\medskip\n"
                f"\\input{{tables/{name}}}\n\\end{{center}}\n")
    return (f"\\begin{{table}}[H]\n\\centering\\small\\setlength{{\\tabcolsep}}{{4pt}}\n"
            f"\\caption{{{caption}}}{lab}\n"
            f"\\input{{tables/{name}}}\n\\end{{table}}\n")


def _figure(name, caption):
    return (f"\\begin{{figure}}[H]\n\\centering\n\\includegraphics[width=0.8\\linewidth]"
            f"{{figures/{name}}}\n\\caption{{{caption}}}\n\\end{{figure}}\n")


def _spec(cid: str) -> dict:
    """A claim's report section as its module declares it (REPORT, checks/claims/__init__.py);
    a claim the registry does not know (a results file from elsewhere) gets a bare section."""
    from ..checks.claims import CLAIMS
    return (CLAIMS[cid].report if cid in CLAIMS else
            {"title": cid, "tables": [], "figures": []})


def _sections(res: Results) -> dict:
    """Each claim's section with its files resolved: a table or figure file that an earlier
    claim already writes gets the claim's id as a prefix (a copy of a claim does not overwrite
    the original's files); a builder or a caption that does not exist is one clear error."""
    taken, out = set(), {}

    def unique(cid, name):
        name = name if name not in taken else f"{cid}_{name}"
        taken.add(name)
        return name

    for cid in res.claims:
        spec = _spec(cid)
        tabs, figs = [], []
        for name, builder, caption in spec["tables"]:
            if not callable(getattr(TB, builder, None)):
                raise MtlcheckError(f"claim {cid}'s REPORT names table builder {builder!r}, "
                                    "which reports/tables.py does not define")
            tabs.append((unique(cid, name), builder, caption))
        for entry in spec["figures"]:
            name, builder, others = entry[:3]
            caption = entry[3] if len(entry) > 3 else F.CAPTIONS.get(name)
            if not callable(getattr(F, builder, None)) or caption is None:
                raise MtlcheckError(f"claim {cid}'s REPORT names figure {name!r} with builder "
                                    f"{builder!r}: reports/figures.py must define the builder, "
                                    "and the entry (or figures.CAPTIONS) its caption")
            figs.append((unique(cid, name), builder, cid, tuple(others), caption))
        out[cid] = {**spec, "tables": tabs, "figures": figs}
    return out


def _rel(side):
    return "$\\leq$" if side == "upper" else "$\\geq$"


def _claim_section(c: ClaimRecord, spec: dict, figs: dict, tables: dict) -> str:
    title = spec["title"]
    tabs = [(name, caption) for name, _, caption in spec["tables"]]
    fnames = [f[0] for f in spec["figures"]]
    m = lambda what: f"\\csname {TB.macro_name(c.id, what)}\\endcsname"
    decision = (f"{TB.esc(c.statistic_name)}: {m('statistic')}; confidence bound "
                f"{m('conf bound')} {_rel(c.side)} {m('bound')}: \\textbf{{{m('verdict')}}}.")
    subs = "".join(f"\\textit{{Subcheck:}} {TB.esc(s.name)}: {TB.num(s.statistic)}, confidence "
                   f"bound {TB.num(s.confidence_bound)} {_rel(s.side)} {TB.num(s.bound)}: "
                   f"{s.verdict}.\\\\\n" for s in c.subchecks)
    controls = "; ".join(f"{TB.esc(x.name)}: statistic {TB.num(x.statistic)}, bound "
                         f"{TB.num(x.confidence_bound)}, \\emph{{{x.verdict}}}"
                         for x in c.controls)
    power = ("not measured" if c.oc is None else
             f"{TB.esc(c.plain)}. Effect: {TB.esc(c.oc.effect_name)}; the claim allows "
             f"{TB.esc(c.oc.tolerance_plain)}. P(pass) when the claim holds exactly: "
             f"{TB.num(c.oc.p_pass_at_null, 3)}; passes with probability at least 0.8 up to an "
             f"effect of {TB.num(c.oc.effect_pass_80, 3)}; fails with probability at least 0.8 "
             f"from {TB.num(c.oc.effect_fail_80, 3)} ({c.oc.datasets} synthetic datasets). "
             f"False-pass bound (intersection-union): "
             f"{TB.num(c.error_bounds.get('false_pass'), 3)}.")
    extra = ""
    if spec.get("extra_detail") and c.details.get(spec["extra_detail"]):
        extra = "\\textit{What is established:} " + TB.esc(c.details[spec["extra_detail"]])
    return _template("claim.tex").substitute(
        title=title, statement=c.latex or TB.esc(c.statement), decision=decision,
        subchecks=subs, controls=controls, power=power, extra=extra,
        tables="".join(_table(n, cap) for n, cap in tabs if n in tables),
        figures="".join(_figure(n, figs[n]) for n in fnames if n in figs))


def _tables(res: Results, sections: dict, audit, calibration) -> dict:
    out = {"claims_summary.tex": TB.claims_summary(res),
           "claims_statements.tex": TB.claims_statements(res), "power.tex": TB.oc_table(res)}
    for cid, claim in res.claims.items():
        for name, builder, _ in sections[cid]["tables"]:
            out[name] = getattr(TB, builder)(claim)
    if audit:
        out["audit.tex"] = TB.audit_table(audit)
        steps = TB.audit_steps_table(audit)
        if steps:
            out["audit_steps.tex"] = steps
    if calibration:
        out["calibration.tex"] = TB.calibration_table(calibration)
    return out


def _verification(v: dict | None) -> str:
    """The line under the title that says what `mtlcheck verify` found (``v``: its summary as
    plain data, reports/report_command.py); a NOT VERIFIED report says so in a framed box."""
    if not v:
        return ""
    if v.get("ok"):
        return (r"\noindent\textbf{Verified by \texttt{mtlcheck verify}:} digest\newline "
                rf"\texttt{{{TB.esc(v['digest'])}}}, {v['components']} components re-decided, "
                "0 mismatches (it re-decides every component and negative control from the "
                "inputs its record keeps and checks the file's digest; it does not rerun the "
                "simulations).\\par\n")
    if "error" in v:
        head, items = "NOT VERIFIED: mtlcheck verify could not check this file", [v["error"]]
        more = 0
    else:
        k = len(v["mismatches"])
        head = f"NOT VERIFIED: mtlcheck verify found {k} mismatch{'es' if k != 1 else ''}"
        items = v["mismatches"][:v.get("shown", 5)]
        more = k - len(items)
    lst = "".join(f"\\item {TB.esc(x)}\n" for x in items)
    if more > 0:
        lst += f"\\item \\ldots{{}} and {more} more (\\texttt{{mtlcheck verify}} lists them all)\n"
    return ("\\begin{center}\\fboxrule=1.5pt\\fbox{\\begin{minipage}{0.94\\linewidth}\\small\n"
            f"{{\\large\\bfseries {TB.esc(head)}.}} This report was built with "
            "\\texttt{-{}-unverified}: its numbers are not certified consistent with the "
            "evidence the results file records.\n"
            "\\begin{itemize}\n" + lst + "\\end{itemize}\n\\end{minipage}}\\end{center}\n")


def write(results: dict, audit: dict | None, out: str, calibration: dict | None = None,
          verification: dict | None = None) -> dict:
    """Write tables/, figures/, macros.tex and report.tex under ``out``; ``verification``: the
    summary of `mtlcheck verify` (qa/verify.verify_file) the report states under its title."""
    res = Results.of(results)
    os.makedirs(os.path.join(out, "tables"), exist_ok=True)
    sections = _sections(res)
    tables = _tables(res, sections, audit, calibration)
    for name, tex in tables.items():
        with open(os.path.join(out, "tables", name), "w") as f:
            f.write(tex)
    with open(os.path.join(out, "macros.tex"), "w") as f:
        f.write(TB.macros(res, audit))
    figs = dict(F.all_figures(res, os.path.join(out, "figures"),
                              [f for sec in sections.values() for f in sec["figures"]]))
    algo = ALGORITHM.get(res.claims[next(iter(res.claims))].parameters.get("variant", "one-step"),
                         ALGORITHM["one-step"])
    summary = (_table("claims_summary.tex", "Decision per claim: the statistic, its one-sided "
                      "confidence bound against the bound, the margin ($\\geq 0$ passes), the "
                      "verdict and how many negative controls were rejected.")
               + _table("claims_statements.tex", "The checkable statement of each claim, where "
                        "it comes from, and its negative controls.")
               + _table("power.tex", "The operating characteristic of each claim's primary rule, by "
                        "simulation of that rule at this run's variance: the effect, the claim's "
                        "tolerance, P(pass) when the claim holds exactly, the largest effect that "
                        "still passes with probability 0.8, the smallest effect beyond the "
                        "tolerance that fails with probability 0.8, and the claim's false-pass "
                        "bound.", "tab:power"))
    audit_sec = ""
    if audit:
        audit_sec = ("\\section{Constants audit}\nFor every derived result: the value the proof "
                     "gives, the value simulation needs (with a confidence interval), the slack "
                     "ratio proof/simulation and the slack of each step of the proof. Violations: "
                     f"{len(audit.get('violations', []))}.\n"
                     + _table("audit.tex", "Constants audit (mtlcheck audit); steps: how "
                              "many inequalities of the proof have their own slack in the "
                              "next table.", breakable=True)
                     + (_table("audit_steps.tex", "Per-step slack of each multi-step bound: "
                               "every inequality of the proof evaluated on the simulation "
                               "(an upper step: the proof's value over the simulated "
                               "quantile of its statistic at the step's share of delta; a lower "
                               "step: that quantile over the proof's value).", breakable=True)
                        if "audit_steps.tex" in tables else ""))
    cal_sec = ""
    if calibration:
        cal_sec = ("\\section{Calibration of the decision rules}\n"
                   + _table("calibration.tex", "False-pass rate of each decision rule at its "
                            "boundary (mtlcheck calibrate), with its Clopper-Pearson 95\\% upper "
                            "bound; a rule is calibrated when that bound is at most "
                            "$1.25\\alpha$.", breakable=True))
    v = res.versions
    text = _template("report.tex").substitute(
        version=TB.esc(v.get("mtlcheck", "")), algorithm=algo,
        verification=_verification(verification),
        device=TB.esc(res.resolved_device()), torch=TB.esc(v.get("torch", "")),
        calibration_ref=("Section~\\ref{sec:calibration}" if calibration else
                         "run \\texttt{mtlcheck calibrate} to measure it"),
        consistency="" if res.consistent else (
            "\\paragraph{Mixed runs.} The claims below come from runs with different profiles, "
            "seeds or devices; each record says which."),
        summary=summary,
        claim_sections="\n".join(_claim_section(c, sections[c.id], figs, tables)
                                  for c in res.claims.values()),
        audit_section=audit_sec,
        calibration_section=cal_sec.replace("\\section{Calibration of the decision rules}",
                                            "\\section{Calibration of the decision rules}"
                                            "\\label{sec:calibration}"))
    with open(os.path.join(out, "report.tex"), "w") as f:
        f.write(text)
    return {"tables": sorted(tables), "figures": sorted(figs)}


def compile_pdf(out: str) -> tuple[bool, str]:
    """latexmk -pdf (or pdflatex twice); returns (ok, message)."""
    if shutil.which("latexmk"):
        cmd = [["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "report.tex"]]
    elif shutil.which("pdflatex"):
        cmd = [["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"]] * 2
    else:
        return False, ("pdflatex not found: report.tex, tables and figures are written; install "
                       "texlive-latex-base, texlive-latex-recommended (and latexmk) to get report.pdf")
    for c in cmd:
        p = subprocess.run(c, cwd=out, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            return False, "LaTeX failed:\n" + p.stdout[-3000:]
    return True, os.path.join(out, "report.pdf")
