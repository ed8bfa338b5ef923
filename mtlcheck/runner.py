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

from .checks.claims import CLAIMS, get
from .checks.executor import free_cores
from .checks.io import check_writable_folder
from .checks.memory import check_claims_fit
from .checks.progress import Reporter, format_seconds
from .checks.session import close_run, open_run
from .checks.claims_table import claims_table
from .sim.device import resolve_device
from .theory.params import validate

__all__ = ["main_run"]


def _count_cells(folder: str) -> int:
    return sum(f.endswith(".json") for _, _, fs in os.walk(folder) for f in fs) \
        if os.path.isdir(folder) else 0


def _selected(only) -> list[str]:
    ids = []
    for cid in only or list(CLAIMS):
        get(cid.upper(), "only", "run")            # unknown ids are reported with the valid ones
        if cid.upper() not in ids:
            ids.append(cid.upper())
    return ids


def _setup(args):
    """Everything checked before any work: parameters, claims, device, --out, memory; then the
    run is opened (checks/session.py: executor, threads, cache, context)."""
    extra = {"threads": args.threads} if args.threads is not None else {}
    if getattr(args, "max_replicates", None) is not None:
        extra["max_replicates"] = args.max_replicates
    v = validate("run", profile=args.profile, seed=args.seed, device=args.device,
                 executor=args.executor, **extra)
    ids = _selected(args.only)
    device = resolve_device(v["device"], "run")     # a missing GPU is reported before any work
    out = check_writable_folder(args.out, "out", "run")
    check_claims_fit(ids, v["profile"], device, "run")
    threads = v.get("threads") or free_cores()
    argv = ["mtlcheck", "run", *(sys.argv[2:] if sys.argv[1:2] == ["run"] else [])]
    # --fresh recomputes the cells the selected claims request, overwriting them as they
    # finish: other claims' cells are untouched and an interrupt loses nothing
    opened = open_run(profile=v["profile"], seed=v["seed"], device=v["device"],
                      executor=v["executor"], address=args.address, threads=v.get("threads"),
                      # an explicit --threads binds the driver under Ray too
                      driver_threads=threads if v["executor"] == "local" or v.get("threads")
                      else None,
                      cache_dir=os.path.join(out, "cache"), argv=argv, progress=Reporter(),
                      fresh=bool(args.fresh), where="run",
                      max_replicates=v.get("max_replicates"))
    opened.run.update(executor=opened.ctx.executor.describe(), resolved_device=str(device),
                      threads=threads)
    print(f"mtlcheck run: claims {' '.join(ids)}, profile={v['profile']} seed={v['seed']} "
          f"device={device} threads={threads} executor={v['executor']}; results -> "
          f"{os.path.join(out, 'results.json')}", flush=True)
    return ids, out, opened


def main_run(args) -> int:
    ids, out, opened = _setup(args)
    ctx = opened.ctx
    cache_dir, results = os.path.join(out, "cache"), os.path.join(out, "results.json")
    t_run = time.perf_counter()
    records = {}

    def save(status):                   # the run enters the file's history, claims merged in
        close_run(opened, records, results, status, time.perf_counter() - t_run)

    try:
        for cid in ids:
            ctx.progress.message(f"{cid} ({get(cid).statement.title}): started")
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
