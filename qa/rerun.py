"""`mtlcheck verify RESULTS.json --rerun K`: spot-check that a results file's evidence comes from
the code and seeds it names (issue 26 item 3).

For every claim of the file, the claim is decided again with the installed code at the
recorded profile, seed, device and cap, reading every cell (one replicate's simulation: a
pretraining run, a probe curve, a population seed, ...) from the run's cache, and

1. K of those cells, chosen at random (seeded by the file's digest, so a rerun picks the same
   ones), are executed again from their recorded seeds and compared with the cached values:
   exactly at the recorded thread count and device, else within RTOL;
2. the evidence re-derived from the cached cells (every component's ``inputs``, statistic and
   verdict) is compared with the file's.

Together: the sampled cells come out of the code and seeds, and the evidence comes out of the
cells. It needs the run's cache folder (DIR/cache beside DIR/results.json, or --cache) written
by the same code (the cache is salted with the code fingerprint the file records). Unlike
qa/verify.py this module uses the project's own code: it checks reproducibility, not
independence.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time

import numpy as np

from ..checks.cache import Cache, code_fingerprint
from ..checks.claims import CLAIMS
from ..checks.context import Context
from ..checks.executor import set_threads
from ..checks.io import decode_array
from ..sim.device import resolve_device
from ..theory.params import MtlcheckError

__all__ = ["rerun", "main_rerun", "RTOL"]

#: tolerance when the thread count or the device differs from the recorded run's
RTOL = 1e-6


class _Missing(MtlcheckError):
    """A cell the re-decision needs is not in the cache."""


class _CachedContext(Context):
    """A Context that reads every cell from the cache and refuses to compute one; it keeps
    the cells it served, the candidates for re-execution."""

    def run(self, label, cells):
        out, missing = [], 0
        for c in cells:
            v = self.cache.get(c.group, c.key)
            missing += v is None
            out.append(v)
            if v is not None:
                self.served.setdefault(c.group + json.dumps(c.key, sort_keys=True,
                                                            default=str), (c, v))
        if missing:
            raise _Missing(f"--rerun needs the run's cache: {missing} of {len(cells)} cells "
                           f"of '{label}' are not in {self.cache.root}")
        return out


def _plain(v):
    return json.loads(json.dumps(v, default=str))


def _close(a, b, exact: bool) -> bool:
    """Cell values equal (exact) or within RTOL; base64 arrays are compared decoded."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], exact) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, exact) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not exact:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= RTOL * max(abs(a), abs(b), 1e-300)
    if isinstance(a, str) and isinstance(b, str) and a != b and not exact:
        try:
            return bool(np.allclose(decode_array(a), decode_array(b), rtol=RTOL, atol=0))
        except Exception:                 # not arrays: plain strings that differ
            return False
    return a == b


def _components(rec: dict) -> dict:
    out = {"primary": rec["primary"]}
    out.update({f"subcheck '{s['key']}'": s for s in rec["subchecks"]})
    out.update({f"control '{c['name']}'": c for c in rec["negative_controls"]})
    return out


def rerun(doc: dict, cache_dir: str, k: int, progress=lambda m: None) -> tuple[list, list]:
    """(report lines, mismatch lines) of the spot check of ``doc``'s claims."""
    if doc.get("code_fingerprint") != code_fingerprint():
        raise MtlcheckError(f"--rerun needs the code that wrote the file: it records code "
                            f"{doc.get('code_fingerprint')}, the installed code is "
                            f"{code_fingerprint()}")
    run = doc["runs"][-1]
    threads = run.get("threads")
    dev = resolve_device(run.get("resolved_device", doc["device"]).split(":")[0], "verify")
    if threads:
        set_threads(int(threads))
    exact = bool(threads) and dev.type == (run.get("resolved_device") or "cpu").split(":")[0]
    cache = Cache(cache_dir, salt={"code": code_fingerprint(), "device": dev.type})
    rng = np.random.default_rng(int(hashlib.sha256(doc["digest"].encode()).hexdigest()[:15], 16))
    report, bad = [], []
    for rec in doc["claims"]:
        cid = rec["id"]
        if cid not in CLAIMS:
            bad.append(f"{cid}: not a registered claim here (MTLCHECK_CLAIM_DIRS?)")
            continue
        ctx = _CachedContext(profile=rec["produced"]["profile"], seed=rec["produced"]["seed"],
                             device=rec["produced"]["device"], cache=cache,
                             max_replicates=(rec.get("sequential") or {}).get("cap"))
        ctx.served = {}
        t0 = time.perf_counter()
        try:
            again = CLAIMS[cid].decide(ctx).record()
        except _Missing:
            if not ctx.served:              # no cache for this run at all: cannot check
                raise
            # the cached cells lead the re-decision past the recorded stop (e.g. an edited
            # cell): it asks for replicates the run never computed
            bad.append(f"{cid}: the evidence differs from what the cached cells give (deciding "
                       "again from them needs replicates beyond the recorded stop)")
            continue
        mine, theirs = _components(again), _components(rec)
        for name, comp in theirs.items():
            got = mine.get(name)
            for field in ("inputs", "statistic", "verdict"):
                if got is None or _plain(got.get(field)) != _plain(comp.get(field)):
                    bad.append(f"{cid} {name}: {field} re-derived from the cached cells differs "
                               "from the evidence")
                    break
        if again["verdict"] != rec["verdict"]:
            bad.append(f"{cid} claim: verdict re-derived {again['verdict']}, recorded "
                       f"{rec['verdict']}")
        pool = list(ctx.served.values())
        picks = rng.choice(len(pool), size=min(k, len(pool)), replace=False)
        for i in sorted(int(j) for j in picks):
            cell, cached = pool[i]
            fresh = _plain(cell.fn(*cell.args))
            ok = _close(fresh, cached, exact)
            what = ", ".join(f"{a}={cell.key[a]}" for a in ("cell", "sweep", "d", "s", "x", "T",
                                                           "target", "k", "seed")
                             if a in cell.key)
            agree = "identical" if exact else f"within rtol {RTOL:g}"
            report.append(f"{cid}: re-executed {cell.group} cell ({what}): "
                          f"{agree if ok else 'DIFFERS'}")
            if not ok:
                bad.append(f"{cid} cell {cell.group} ({what}): the re-executed value differs "
                           "from the cached one the evidence was derived from")
        progress(f"verify --rerun: {cid}: {len(picks)} of {len(pool)} cells re-executed, "
                 f"evidence re-derived ({time.perf_counter() - t0:.0f} s)")
    return report, bad


def main_rerun(args) -> int:
    """`mtlcheck verify RESULTS --rerun K [--cache DIR]`: 0 agrees, 1 mismatches, 2 cannot."""
    from .verify import Unverifiable, _load
    try:
        doc = _load(args.results)
    except Unverifiable as e:
        print(f"mtlcheck verify: error: {e}", file=sys.stderr)
        return 2
    cache_dir = args.cache or os.path.join(os.path.dirname(os.path.abspath(args.results)),
                                           "cache")
    progress = lambda m: print(m, file=sys.stderr, flush=True)
    report, bad = rerun(doc, cache_dir, args.rerun, progress)
    print("\n".join(report))
    if bad:
        print("\n".join(bad))
        print(f"mtlcheck verify --rerun: {len(bad)} mismatch(es)", file=sys.stderr)
        return 1
    print(f"verify --rerun: {len(report)} cells re-executed across {len(doc['claims'])} claims "
          f"agree with the cache, and the evidence re-derived from the cache agrees")
    return 0
