"""Issue 5: `mtlcheck report` turns a quick run into booktabs tables, figures, macros, report.tex
and (where pdflatex exists) a report.pdf that compiles without errors."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from mtlcheck.reports import tables as TB

MT = [sys.executable, "-m", "mtlcheck"]


@pytest.fixture(scope="module")
def quick_results(quick_run):
    import pathlib
    return pathlib.Path(quick_run) / "results.json"


def test_report_from_a_quick_run(quick_results, tmp_path):
    out = tmp_path / "report"
    p = subprocess.run(MT + ["report", "--results", str(quick_results), "--out", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    tables = sorted(x.name for x in (out / "tables").iterdir())
    assert {"claims_summary.tex", "eout_vs_T.tex", "nstar.tex", "mstar.tex"} <= set(tables)
    for t in tables:
        tex = (out / "tables" / t).read_text()
        assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    figs = sorted(x.name for x in (out / "figures").iterdir())
    assert len(figs) >= 4 and all(f.endswith(".pdf") for f in figs)
    macros = (out / "macros.tex").read_text()
    results = json.loads(quick_results.read_text())
    for c in results["claims"]:
        assert f"\\newcommand{{\\{TB.macro_name(c['id'], 'verdict')}}}{{{c['verdict']}}}" in macros
    assert all(re.fullmatch(r"mtl[A-Za-z]+", n) for n in re.findall(r"\\newcommand\{\\([^}]*)\}", macros))
    tex = (out / "report.tex").read_text()
    assert "\\input{macros.tex}" in tex and "\\includegraphics" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not on this machine: report.tex written, PDF not compiled")
    pdf = out / "report.pdf"
    assert pdf.exists()
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 2
    log = (out / "report.log").read_text(errors="replace")
    assert "LaTeX Error" not in log and "Overfull \\hbox" not in log
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", "1", "-l", "2", str(pdf),
                        str(tmp_path / "page")], check=True)
        assert len(list(tmp_path.glob("page*.png"))) == 2


@pytest.mark.parametrize("content, message", [
    (None, "(no such file)"),
    ("{not json", "(not JSON: line 1, column 2)"),
    ('{"claims": []}', "'schema_version' is a required property"),
])
def test_report_bad_results_file(tmp_path, content, message):
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    p = subprocess.run(MT + ["report", "--results", str(path), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "The 'results' parameter of report must be a results.json written by " \
           "`mtlcheck run`" in p.stderr and message in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_report_bad_audit_file(quick_results, tmp_path):
    bad = tmp_path / "audit.json"
    bad.write_text("[]")
    p = subprocess.run(MT + ["report", "--results", str(quick_results), "--audit", str(bad),
                             "--out", str(tmp_path / "o"), "--no-pdf"], capture_output=True, text=True)
    assert p.returncode == 2 and "The 'audit' parameter of report" in p.stderr
    assert "is not of type 'object'" in p.stderr
    # an unreadable audit path (a directory) gets the same one-line error as a bad results file
    p = subprocess.run(MT + ["report", "--results", str(quick_results), "--audit", str(tmp_path),
                             "--out", str(tmp_path / "o"), "--no-pdf"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "The 'audit' parameter of report" in p.stderr and "(IsADirectoryError)" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_macro_names_and_numbers():
    assert TB.macro_name("C2", "n star", "pretrained", "d", "128") == "mtlCTwoNStarPretrainedDOneTwoEight"
    assert TB.num(None) == "inf" and TB.num(float("inf")) == "inf" and TB.num(0.123456) == "0.1235"


@pytest.mark.parametrize("field, value, message", [
    ("statistic", "abc", "'abc' is not of type 'number', 'null'"),
    ("confidence_bound", float("nan"), "not a finite number"),
    ("confidence_bound", None, "None is not of type 'number'"),
])
def test_report_refuses_a_pass_without_finite_numbers(quick_results, tmp_path, field, value, message):
    data = json.loads(quick_results.read_text())
    c = data["claims"][0]
    assert c["verdict"] == "pass"
    c[field]["value"] = value
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(data))
    p = subprocess.run(MT + ["report", "--results", str(bad), "--out", str(tmp_path / "o"),
                             "--no-pdf"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1
