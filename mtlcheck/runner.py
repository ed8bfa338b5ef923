"""`mtlcheck run`: decide the claims (checks/claims/) and merge them into DIR/results.json.

No pytest is needed: the runner calls each registered claim's ``decide`` directly (the pytest
suite, `pytest checks/`, calls the same functions). Finished sweep cells are cached in
DIR/cache/<claim> (atomic writes), so an interrupted or killed run resumes without recomputing
them; results.json is rewritten (atomically) after each claim, merging the decided claims into
what the file already holds, so an interrupt or a crash never loses earlier claims.
"""
from __future__ import annotations

import os
import sys
import time

from .checks.claims import CLAIMS
from .checks.common import Cache, Context, code_fingerprint, versions
from .checks.executor import free_cores, make_executor, set_threads
from .checks.io import check_writable_folder
from .checks.memory import check_claims_fit
from .checks.progress import Reporter, format_seconds
from .checks.results import new_run, now, write_merged
from .checks.table import claims_table
from .sim.device import resolve_device
from .theory.claims import claim
from .theory.params import validate

__all__ = ["main_run"]


def _count_cells(folder: str) -> int:
    return sum(f.endswith(".json") for _, _, fs in os.walk(folder) for f in fs) \
        if os.path.isdir(folder) else 0


def _selected(only) -> list[str]:
    ids = []
    for cid in only or list(CLAIMS):
        claim(cid.upper(), "only", "run")          # unknown ids are reported with the valid ones
        if cid.upper() not in ids:
            ids.append(cid.upper())
    return ids


def _setup(args):
    """Everything checked before any work: parameters, claims, device, --out, memory; then the
    executor, threads and the run's context."""
    extra = {"threads": args.threads} if args.threads is not None else {}
    v = validate("run", profile=args.profile, seed=args.seed, device=args.device,
                 executor=args.executor, **extra)
    ids = _selected(args.only)
    device = resolve_device(v["device"], "run")     # a missing GPU is reported before any work
    out = check_writable_folder(args.out, "out", "run")
    check_claims_fit(ids, v["profile"], device, "run")
    threads = v.get("threads") or free_cores()
    executor = make_executor(v["executor"], args.address, v.get("threads"),
                             cuda=device.type == "cuda", where="run")
    if v["executor"] == "local":
        set_threads(threads)
    cache = Cache(os.path.join(out, "cache"),
                  salt={"code": code_fingerprint(), "device": device.type})
    # --fresh recomputes the cells the selected claims request, overwriting them as they
    # finish: other claims' cells are untouched and an interrupt loses nothing
    ctx = Context(profile=v["profile"], seed=v["seed"], device=v["device"], cache=cache,
                  progress=Reporter(), executor=executor, fresh=bool(args.fresh))
    argv = ["mtlcheck", "run", *(sys.argv[2:] if sys.argv[1:2] == ["run"] else [])]
    run = new_run(argv, v["profile"], v["seed"], v["device"], executor=executor.describe(),
                  resolved_device=str(device), threads=threads)
    print(f"mtlcheck run: claims {' '.join(ids)}, profile={v['profile']} seed={v['seed']} "
          f"device={device} threads={threads} executor={v['executor']}; results -> "
          f"{os.path.join(out, 'results.json')}", flush=True)
    return ids, out, ctx, run


def main_run(args) -> int:
    ids, out, ctx, run = _setup(args)
    cache_dir, results = os.path.join(out, "cache"), os.path.join(out, "results.json")
    t_run = time.perf_counter()
    records = {}

    def save(status):
        run.update(status=status, claims=sorted(records), finished=now(),
                   wall_s=time.perf_counter() - t_run,
                   cache={"folder": cache_dir, "hits": ctx.cache.hits, "misses": ctx.cache.misses})
        if records or os.path.exists(results):      # the run enters the file's history
            write_merged(results, records, run, versions())

    try:
        for cid in ids:
            ctx.progress.message(f"{cid} ({claim(cid).title}): started")
            t0 = time.perf_counter()
            records[cid] = CLAIMS[cid].decide(ctx).record()
            ctx.progress.message(f"{cid}: {records[cid]['verdict']} in "
                                 f"{format_seconds(time.perf_counter() - t0)}")
            save("running")
    except KeyboardInterrupt:
        save("interrupted")
        print(f"mtlcheck run: interrupted: {_count_cells(cache_dir)} cells cached; rerun the same "
              f"command to resume" + (f" ({len(records)} finished claims merged into {results})"
                                      if records else ""), file=sys.stderr, flush=True)
        return 130
    except BaseException:
        save("failed")
        raise
    finally:
        ctx.executor.close()
    save("complete")
    recs = [records[c] for c in ids]
    print(claims_table(recs))
    print(f"results merged into {results} ({format_seconds(time.perf_counter() - t_run)}; "
          f"cache: {ctx.cache.hits} hits, {ctx.cache.misses} computed)")
    return 0 if all(r["verdict"] == "pass" for r in recs) else 1
