"""`mtlcheck run`: run the theorem-consistency suite (pytest on mtlcheck.checks) and write
DIR/results.json. Finished sweep cells are cached in DIR/cache (atomic writes), so a run that
is killed resumes without recomputing them; --fresh ignores the cache."""
from __future__ import annotations

import os
import shutil
import sys

from .theory.claims import claim
from .theory.params import validate


def main_run(args) -> int:
    import pytest

    import mtlcheck.checks as checks_pkg

    v = validate("run", profile=args.profile, seed=args.seed, device=args.device)
    only = []
    for cid in args.only or []:
        claim(cid.upper(), "only", "run")          # unknown ids are reported with the valid ones
        only.append(cid.upper())
    from .sim.device import resolve_device
    resolve_device(v["device"], "run")             # a missing GPU is reported before any work
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    cache = os.path.join(out, "cache")
    if args.fresh and os.path.isdir(cache):
        shutil.rmtree(cache)
    results = os.path.join(out, "results.json")
    checks_dir = os.path.dirname(os.path.abspath(checks_pkg.__file__))
    print(f"mtlcheck run: profile={v['profile']} seed={v['seed']} device={v['device']}; "
          f"results -> {results}; cache -> {cache}", flush=True)
    argv = [checks_dir, "-p", "no:cacheprovider", "--import-mode=importlib", "-rfE",
            f"--mtl-profile={v['profile']}", f"--mtl-seed={v['seed']}",
            f"--mtl-device={v['device']}", f"--mtl-results={results}", f"--mtl-cache={cache}"]
    if only:
        argv += ["-m", " or ".join(f"claim_{c.lower()}" for c in only)]
    code = pytest.main(argv)
    if not os.path.exists(results):
        print("mtlcheck run: the suite did not write results.json", file=sys.stderr)
        return 1
    return int(code)
