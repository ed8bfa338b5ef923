"""The dependency order of docs/design.md: theory <- boundlang <- sim <- checks <- reports <-
{cli, qa, benchmarks}. Every import of a mtlcheck module, at module level or inside a function,
is parsed from the source (relative imports resolved); none may point up the order."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: folder -> (package name, layer)
FOLDERS = {"theory": ("mtlcheck.theory", 0), "boundlang": ("mtlcheck.boundlang", 1),
           "sim": ("mtlcheck.sim", 2), "checks": ("mtlcheck.checks", 3),
           "reports": ("mtlcheck.reports", 4), "qa": ("mtlcheck.qa", 5),
           "benchmarks": ("mtlcheck.benchmarks", 5), "mtlcheck": ("mtlcheck", 5)}
LAYERS = {pkg: layer for pkg, layer in FOLDERS.values()}


def _modules():
    for folder, (pkg, layer) in FOLDERS.items():
        for f in sorted((ROOT / folder).rglob("*.py")):
            rel = f.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg, *parts])
            is_pkg = f.name == "__init__.py"
            yield f, name, is_pkg, layer


def _imports(f, name, is_pkg):
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[:len(base) - node.level + 1]
                mod = ".".join(parent + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod, node.lineno
            for a in node.names:               # `from .. import checks` imports a module
                yield f"{mod}.{a.name}", node.lineno


def _layer(mod: str):
    if mod == "mtlcheck":
        return 0                               # the root package: only __version__
    best = None
    for pkg, layer in LAYERS.items():
        if pkg != "mtlcheck" and (mod == pkg or mod.startswith(pkg + ".")):
            best = layer
    if best is None and mod.startswith("mtlcheck."):
        top = mod.split(".")[1]
        return 0 if top == "__version__" else 5   # mtlcheck.cli, .runner, .errors
    return best


def test_no_import_runs_against_the_dependency_order():
    bad = []
    for f, name, is_pkg, layer in _modules():
        for mod, line in _imports(f, name, is_pkg):
            if not (mod == "mtlcheck" or mod.startswith("mtlcheck.")):
                continue
            target = _layer(mod)
            if target is not None and target > layer:
                bad.append(f"{f.relative_to(ROOT)}:{line} ({name}, layer {layer}) imports {mod} "
                           f"(layer {target})")
    assert not bad, "\n".join(bad)


def test_the_parser_sees_lazy_and_relative_imports():
    """The test above would be blind if it missed function-level or relative imports."""
    found = {mod for f, name, is_pkg, _ in _modules() if name == "mtlcheck.runner"
             for mod, _ in _imports(f, name, is_pkg)}
    assert "mtlcheck.checks.claims" in found and "mtlcheck.sim.device" in found
    assert _layer("mtlcheck.checks.plugin") == 3 and _layer("mtlcheck.cli") == 5
    assert _layer("mtlcheck.qa.mutants") == 5 and _layer("mtlcheck.theory.bounds") == 0
    assert _layer("mtlcheck.boundlang.loader") == 1 and _layer("mtlcheck.sim.pretrain") == 2


def test_no_module_level_mutable_registries():
    """No module-level dict/list that code mutates at run time (state lives in arguments,
    pytest's config.stash, or lru_cache on frozen arguments)."""
    bad = []
    for f, name, _, _ in _modules():
        tree = ast.parse(f.read_text())
        globals_ = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("clear", "update", "append", "setdefault", "pop") \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in globals_ \
                    and node.func.value.id.isupper():
                bad.append(f"{f.relative_to(ROOT)}:{node.lineno} mutates {node.func.value.id}")
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) \
                    and isinstance(node.value, ast.Name) and node.value.id in globals_ \
                    and node.value.id.isupper():
                bad.append(f"{f.relative_to(ROOT)}:{node.lineno} assigns into {node.value.id}")
    assert not bad, "\n".join(bad)
