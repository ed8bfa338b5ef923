"""Packaging facts: mapped subpackages import, theory/ never imports torch, CLI help works."""
import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_theory_has_no_torch_import():
    for f in (ROOT / "theory").glob("*.py"):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "torch" or n.startswith("torch.") for n in names), f


def test_importing_theory_does_not_load_torch():
    code = ("import sys, mtlcheck.theory.population, mtlcheck.theory.claims, "
            "mtlcheck.theory.twins; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_subpackages_map_to_top_level_folders():
    import mtlcheck.checks
    import mtlcheck.reports
    import mtlcheck.sim
    import mtlcheck.theory
    for mod, folder in ((mtlcheck.theory, "theory"), (mtlcheck.sim, "sim"),
                        (mtlcheck.reports, "reports"), (mtlcheck.checks, "checks")):
        assert pathlib.Path(mod.__file__).parent.name == folder


def test_every_verb_has_help():
    for verb in (["run"], ["report"], ["audit"], ["sim", "pretrain"], ["bench"], ["mutants"],
                 ["calibrate"], ["counterexamples"]):
        out = subprocess.run([sys.executable, "-m", "mtlcheck", *verb, "--help"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and "usage: mtlcheck" in out.stdout, verb
        assert "(default:" in out.stdout or verb == ["counterexamples"], verb
