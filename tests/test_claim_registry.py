"""A claim is one module: a copy of checks/claims/c6_mechanism.py with a new ID, in a folder of
its own (MTLCHECK_CLAIM_DIRS), is run, calibrated, tabled and reported with no other file
changing; the registry reads IDs from the modules (c10_* declares C10 and sorts after C7), and
refuses a module without an ID or two modules with the same one."""
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from mtlcheck.checks import claims as registry

MT = [sys.executable, "-m", "mtlcheck"]
C6_SOURCE = pathlib.Path(registry.__file__).parent / "c6_mechanism.py"


def _copy(folder: pathlib.Path, fname: str, cid: str) -> pathlib.Path:
    src = C6_SOURCE.read_text()
    assert 'ID = "C6"' in src
    new = src.replace('ID = "C6"', f'ID = "{cid}"')
    path = folder / fname
    path.write_text(new)
    return path


@pytest.fixture
def claim_dir(tmp_path):
    folder = tmp_path / "claims"
    folder.mkdir()
    _copy(folder, "c7_mechanism_copy.py", "C7")
    return folder


def test_a_new_claim_module_is_run_calibrated_and_reported(claim_dir, tmp_path):
    env = dict(os.environ, MTLCHECK_CLAIM_DIRS=str(claim_dir))
    out = tmp_path / "out"
    p = subprocess.run(MT + ["run", "--only", "C7", "--out", str(out)], capture_output=True,
                       text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert re.search(r"^\s*C7\b", p.stdout, re.M), p.stdout           # the claims table
    doc = json.loads((out / "results.json").read_text())
    rec = {c["id"]: c for c in doc["claims"]}["C7"]
    assert rec["verdict"] == "pass" and rec["title"]                   # C6's statement, as C7

    h = subprocess.run(MT + ["run", "--help"], capture_output=True, text=True, env=env)
    assert "C7" in h.stdout

    cal = subprocess.run(MT + ["calibrate", "--only", "C7", "--datasets", "2000", "--json",
                               "--results", str(out / "results.json")],
                         capture_output=True, text=True, env=env, timeout=900)
    assert cal.returncode in (0, 1), cal.stderr[-2000:]
    rows = json.loads(cal.stdout)["rules"]
    names = {r["rule"] for r in rows}
    assert names and all(n.startswith("C7 ") for n in names), names
    assert {r["regime"].split(":")[0] for r in rows} == {"quick", "full"}

    rep = tmp_path / "report"
    r = subprocess.run(MT + ["report", "--results", str(out / "results.json"), "--out", str(rep),
                             "--no-pdf"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    tex = (rep / "report.tex").read_text()
    assert "C7: the pseudo-contrastive mechanism" in tex
    assert "C7" in (rep / "tables" / "claims_summary.tex").read_text()

    # without the folder, the registry does not know C7: a one-line error, exit 2
    bad = subprocess.run(MT + ["run", "--only", "C7", "--out", str(tmp_path / "o2")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "The 'only' parameter of run must be one of" in bad.stderr


def test_ids_come_from_the_modules_not_the_file_names(tmp_path):
    folder = tmp_path / "more"
    folder.mkdir()
    _copy(folder, "c10_tenth.py", "C10")
    _copy(folder, "c7_seventh.py", "C7")
    found = registry.discover(str(folder))
    assert list(found)[-2:] == ["C7", "C10"]
    assert found["C10"].module.__name__.endswith("c10_tenth")
    assert found["C10"].statement.id == "C10"


def test_a_module_with_a_bad_id_or_with_a_taken_id_is_refused(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    _copy(a, "c8_bad_id.py", "X8")
    with pytest.raises(Exception, match="must declare ID.*a valid ID"):
        registry.discover(str(a))
    b = tmp_path / "b"
    b.mkdir()
    _copy(b, "c9_dup.py", "C6")
    with pytest.raises(Exception, match="both declare ID 'C6'"):
        registry.discover(str(b))


def test_a_claim_file_named_like_another_is_refused(tmp_path):
    """A file that shares its name with a built-in claim module, or with a file of another
    extra folder, would shadow it (the module name is the file name): both are refused."""
    a = tmp_path / "a"
    a.mkdir()
    _copy(a, "c6_mechanism.py", "C9")
    with pytest.raises(Exception, match="same name"):
        registry.discover(str(a))
    b, c = tmp_path / "b", tmp_path / "c"
    b.mkdir()
    c.mkdir()
    _copy(b, "c11_twin.py", "C11")
    _copy(c, "c11_twin.py", "C12")
    with pytest.raises(Exception, match="same name"):
        registry.discover(os.pathsep.join([str(b), str(c)]))


def test_a_copied_claim_does_not_overwrite_the_originals_report_files(tmp_path, monkeypatch):
    """A copy of C1 as C7 declares C1's table and figure files: the report gives the copy's
    files its id as a prefix instead of writing over the original's."""
    from types import SimpleNamespace

    from mtlcheck.reports import build
    folder = tmp_path / "c"
    folder.mkdir()
    src = (C6_SOURCE.parent / "c1_recovery.py").read_text().replace('ID = "C1"', 'ID = "C7"')
    (folder / "c7_recovery_copy.py").write_text(src)
    monkeypatch.setenv("MTLCHECK_CLAIM_DIRS", str(folder))
    sections = build._sections(SimpleNamespace(claims={"C1": None, "C7": None}))
    assert [t[0] for t in sections["C1"]["tables"]] == ["eout_vs_T.tex"]
    assert [t[0] for t in sections["C7"]["tables"]] == ["C7_eout_vs_T.tex"]
    assert [f[0] for f in sections["C7"]["figures"]] == ["C7_eout_vs_T.pdf",
                                                         "C7_isotropy_spectra.pdf"]
    assert sections["C7"]["title"].startswith("C7: ")
