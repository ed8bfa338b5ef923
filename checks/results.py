"""results.json: the contract between the checks and everything downstream of them.

A results file is only ever replaced by a complete, valid one (checks/io.py). A run that
decides some claims (``--only``, an interrupt, a failure) merges them into the file that is
already there: claims it did not decide keep their earlier record, and every claim record says
when and by which run it was produced (``produced``). The file's history of runs is ``runs``.
The JSON Schema is checks/schemas/results.schema.json (docs/design.md section 3).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import uuid
from functools import lru_cache
from importlib import resources

from .cache import code_fingerprint
from .io import atomic_write_json

__all__ = ["SCHEMA_VERSION", "new_run", "merge", "write_merged", "read_existing", "schema",
           "validation_errors", "RUNS_KEPT", "digest"]

SCHEMA_VERSION = 3
RUNS_KEPT = 50


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_run(argv: list[str], profile: str, seed: int, device: str, **extra) -> dict:
    """The record of one run (filled in as it goes: status, claims, cache, wall_s)."""
    return {"run_id": uuid.uuid4().hex[:12], "started": now(), "finished": None,
            "command": " ".join(argv), "profile": profile, "seed": seed, "device": device,
            "status": "running", "claims": [], **extra}


@lru_cache(maxsize=None)
def schema(name: str = "results") -> dict:
    """The JSON Schema of a results file ('results') or of the audit JSON ('audit')."""
    text = resources.files("mtlcheck.checks").joinpath("schemas", f"{name}.schema.json").read_text()
    return json.loads(text)


def validation_errors(data, name: str = "results", limit: int = 3) -> list[str]:
    """Human-readable schema violations of ``data`` (empty when it follows the contract)."""
    import jsonschema
    validator = jsonschema.Draft202012Validator(schema(name))
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append(f"{where.lstrip('.') or '(top level)'}: {err.message}")
        if len(out) >= limit:
            break
    return out


def read_existing(path: str) -> dict | None:
    """The results file at ``path`` when it exists and follows the contract, else None (a file
    that does not parse is never merged into, and never silently destroyed: it is renamed)."""
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = None
    if data is None or validation_errors(data, limit=1):
        os.replace(path, path + f".unreadable-{uuid.uuid4().hex[:6]}")
        return None
    return data


def merge(existing: dict | None, records: dict[str, dict], run: dict, versions: dict) -> dict:
    """A new results document: ``existing`` claims updated with ``records`` (claim id -> record,
    stamped with the run), the run appended to the history, the fingerprint of the code that
    wrote it and the document's digest (:func:`digest`; the last key)."""
    claims = {c["id"]: c for c in (existing or {}).get("claims", [])}
    for cid, rec in records.items():
        claims[cid] = {**rec, "produced": {"run_id": run["run_id"], "at": run.get("finished") or now(),
                                           "command": run["command"], "profile": run["profile"],
                                           "seed": run["seed"], "device": run["device"]}}
    ordered = [claims[c] for c in sorted(claims)]
    runs = ([r for r in (existing or {}).get("runs", []) if r["run_id"] != run["run_id"]]
            + [run])[-RUNS_KEPT:]
    keys = {(c["produced"]["profile"], c["produced"]["seed"], c["produced"]["device"])
            for c in ordered}
    doc = {"schema_version": SCHEMA_VERSION, "claims": ordered, "profile": run["profile"],
           "seed": run["seed"], "device": run["device"], "consistent": len(keys) <= 1,
           "versions": versions, "cache": run.get("cache", {}), "wall_s": run.get("wall_s", 0.0),
           "runs": runs, "code_fingerprint": code_fingerprint()}
    # exactly what the file will hold (strict JSON, as write_merged writes it), so that the
    # digest over it is the digest of the file read back (`mtlcheck verify`)
    doc = json.loads(json.dumps(doc, allow_nan=False, default=str))
    doc["digest"] = digest(doc)
    return doc


def digest(doc: dict) -> str:
    """'sha256:<hex>' of the canonical JSON of ``doc`` without its "digest" key (sorted keys,
    no whitespace, strict): any edit of a results file changes it (`mtlcheck verify`)."""
    rest = {k: v for k, v in doc.items() if k != "digest"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_merged(path: str, records: dict[str, dict], run: dict, versions: dict) -> dict:
    """Merge ``records`` into the results file at ``path`` (atomically); returns the document,
    written as :func:`merge` returned it (its digest covers everything else in the file)."""
    doc = merge(read_existing(path), records, run, versions)
    errors = validation_errors(doc)
    if errors:                                   # a bug: never write a file that breaks the contract
        raise AssertionError("results document breaks its schema: " + "; ".join(errors))
    atomic_write_json(path, doc, indent=1)
    return doc
