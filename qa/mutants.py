"""Deliberate mutants of the algorithm and the theory, and the harness that checks that the
quick suite catches every one of them (mutation score).

    mtlcheck mutants [--list] [--only NAME ...] [--profile quick] [--json]

Each mutant is applied inside a fresh pytest process by its own plugin
(``-p mtlcheck.qa.mutant_plugin --mtl-mutant NAME``, before the claim modules run) and the
claims it should break are run; it is *killed* when pytest fails. The report says how: a
claim's verdict 'fail', a negative control 'accepted', or an error before a decision.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import sympy as sp
import torch

from .. import checks as checks_pkg
from ..sim import baselines as BL
from ..sim import pretrain as PT
from ..sim import probes as PR
from ..sim.samplers import TaskSet
from ..theory import bounds as B
from ..theory import derive as D
from ..theory import symbols as S
from ..theory.params import ParameterError, validate

__all__ = ["MUTANTS", "apply", "run_mutant", "main_mutants"]


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str
    claims: tuple[str, ...]          # the quick checks that must catch it
    patch: Callable[[], list]        # applies the change, returns [(obj, attr, old), ...]


def _set(obj, attr, new):
    old = getattr(obj, attr)
    setattr(obj, attr, new)
    return (obj, attr, old)


def _skip_head_step():
    return [_set(PT, "head_step", lambda H1, y1, A, eta_a, loss, steps: A)]


def _shared_labels():
    orig = PT.FamilySampler.sample

    def sample(self, T, gen):
        one = orig(self, 1, gen)
        return TaskSet(one.family, one.params.expand(T, *one.params.shape[1:]).contiguous(),
                       one.centers, one.noise)

    return [_set(PT.FamilySampler, "sample", sample)]


def _drop_relu():
    def ident(t, inplace=False):
        return t

    def ones(t, inplace=False):
        return t.fill_(1.0) if inplace else torch.ones_like(t)

    return [_set(PT, "activation", ident), _set(PT, "activation_grad", ones),
            _set(PR, "activation", ident), _set(BL, "activation", ident)]


def _reuse_samples():
    orig = PT.sample_split

    def reuse(tasks, M, n1, n2, gen, bufs=None):
        X1, y1, _, _ = orig(tasks, M, n1, n2, gen, bufs)
        idx = torch.arange(n2, device=X1.device) % n1     # the head step's samples, cycled
        return X1, y1, X1[:, idx], y1[:, idx]

    return [_set(PT, "sample_split", reuse)]


def _closed_form_factor():
    orig = D.coefficients()
    wrong = dict(orig, k_ind=2 * orig["k_ind"])      # E[y 1{w.x>0} x] off by a factor 2
    constants = _wrap_constants(B.derived_constants, k_ind=wrong["k_ind"])   # before patching D
    return [_set(D, "coefficients", lambda: wrong), _set(B, "derived_constants", constants)]


def _wrap_constants(fn, **over):
    base = dict(fn())
    base.update(over)
    return lambda: base


def _bound_constant():
    # the constant ind_sq = 1/2 of sections 4 and 7 replaced by 1/5
    return [_set(B, "derived_constants", _wrap_constants(B.derived_constants,
                                                         ind_sq=sp.Rational(1, 5)))]


def _peeking_probe():
    orig = PR.fit_and_score_prefixes

    def peeking(F, y, ns, Fte, yte, lam, classification=True, probe="ridge"):
        # every fit also sees the test samples: the test error is optimistic (leading
        # dimensions: a batch of repetitions, as probe_curve passes them)
        mse = torch.empty(*F.shape[:-2], len(ns), dtype=torch.float64)
        err = torch.empty_like(mse)
        for k, n in enumerate(ns):
            Fk = torch.cat([F[..., :n, :], Fte], dim=-2)
            yk = torch.cat([y[..., :n], yte], dim=-1)
            a, b = orig(Fk, yk, [yk.shape[-1]], Fte, yte, lam, classification, probe)
            mse[..., k], err[..., k] = a[..., 0], b[..., 0]
        return mse, err

    return [_set(PR, "fit_and_score_prefixes", peeking)]


def _prediction_slip():
    # an O(r/d) slip in a derived formula: (d - r) replaced by d in S_out (section 4.4)
    orig = B.energy_terms

    def slipped():
        A, S_in, S_out = orig()
        return A, S_in, S_out * S.d / (S.d - S.r)

    return [_set(B, "energy_terms", slipped)]


def _scale_error():
    # the representation step 10% too large: invisible to every scale-free metric
    orig = PT.run_round

    def scaled(*a, **kw):
        A, G = orig(*a, **kw)
        return A, 1.1 * G

    return [_set(PT, "run_round", scaled)]


MUTANTS: dict[str, Mutant] = {m.name: m for m in (
    Mutant("skip-head-step", "the head step is skipped: heads stay at their initialisation 0",
           ("C1", "C6"), _skip_head_step),
    Mutant("shared-labels", "one set of labels shared by all tasks (every task is the same task)",
           ("C1",), _shared_labels),
    Mutant("drop-relu", "the ReLU is dropped: sigma(t) = t, sigma'(t) = 1", ("C6",), _drop_relu),
    Mutant("reuse-samples", "the representation step reuses the head step's samples",
           ("C1",), _reuse_samples),
    Mutant("closed-form-factor", "a wrong factor in a closed form: E[y 1{w.x>0} x] = 2 u/sqrt(2 pi)",
           ("C1", "C6"), _closed_form_factor),
    Mutant("bound-constant", "a wrong constant in a derived result: E[1{w.x>0} (e.x)^2] = 1/5 "
           "instead of 1/2 (sections 4, 7)", ("C1", "C4"), _bound_constant),
    Mutant("peeking-probe", "the probe peeks at test data: it is fitted on train + test samples",
           ("C2",), _peeking_probe),
    Mutant("prediction-slip", "an O(r/d) slip in derived prediction (a): d in place of d - r in "
           "S_out (section 4.4)", ("C1",), _prediction_slip),
    Mutant("scale-error", "the representation step 10% too large (W1 = 1.1 x the gradient step)",
           ("C6",), _scale_error),
)}


def apply(name: str):
    """Apply mutant ``name``; returns a function that undoes it."""
    if name not in MUTANTS:
        raise ParameterError("mutant", "apply", "one of {" + ", ".join(repr(k) for k in MUTANTS)
                             + "}", name)
    undo = MUTANTS[name].patch()

    def restore():
        for obj, attr, old in reversed(undo):
            setattr(obj, attr, old)
        _clear_theory_caches()

    return restore


def _clear_theory_caches() -> None:
    """Forget every memoised value of the package (all lru_caches of every loaded mtlcheck
    module, theory/ and beyond): a value computed while a mutant was applied
    must not survive it (the harness runs mutants in their own processes; this protects callers
    that apply and undo one in process)."""
    for name, mod in list(sys.modules.items()):
        if not name.startswith("mtlcheck.") or mod is None:
            continue
        for obj in list(vars(mod).values()):
            if callable(getattr(obj, "cache_clear", None)) and hasattr(obj, "cache_info"):
                obj.cache_clear()                   # every functools.lru_cache of the package


def run_mutant(name: str, profile: str = "quick", seed: int = 0, timeout: float = 900,
               threads: int | None = None) -> dict:
    """Run the relevant checks with the mutant applied, in a fresh pytest process."""
    mut = MUTANTS[name]
    checks_dir = os.path.dirname(os.path.abspath(checks_pkg.__file__))
    marker = " or ".join(f"claim_{c.lower()}" for c in mut.claims)
    with tempfile.TemporaryDirectory() as tmp:
        res_path = os.path.join(tmp, "results.json")
        argv = [sys.executable, "-m", "pytest", checks_dir, "-q", "-p", "no:cacheprovider",
                "-p", "mtlcheck.qa.mutant_plugin", "--import-mode=importlib", "-m", marker,
                f"--mtl-mutant={name}", f"--mtl-profile={profile}", f"--mtl-seed={seed}",
                f"--mtl-results={res_path}"] + ([f"--mtl-threads={threads}"] if threads else [])
        t0 = time.time()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        wall = time.time() - t0
        claims = []
        if os.path.exists(res_path):
            with open(res_path) as f:
                claims = json.load(f)["claims"]
    how = []
    for c in claims:
        if c["verdict"] in ("fail", "undecided"):     # undecided: at its cap (sequential)
            bad = [s["name"] for s in c["subchecks"] if s["verdict"] != "pass"]
            how.append(f"{c['id']} verdict {c['verdict']}" + (f" ({'; '.join(bad)})" if bad else
                                                               " (primary statistic)"))
        if c["negative_control"]["verdict"] != "rejected":
            how.append(f"{c['id']} negative control accepted")
    recorded = {c["id"] for c in claims}
    errored = [cid for cid in mut.claims if cid not in recorded]
    if errored:
        how.append("error before a decision in " + ", ".join(errored))
    return {"mutant": name, "description": mut.description, "claims": list(mut.claims),
            "killed": proc.returncode != 0, "how": how, "exit_status": proc.returncode,
            "wall_s": wall, "output_tail": proc.stdout[-1500:] + proc.stderr[-1500:]}


def main_mutants(args) -> int:
    """`mtlcheck mutants`: the mutation score (exit status 1 when a mutant survives)."""
    if args.list:
        for m in MUTANTS.values():
            print(f"{m.name:20s} [{', '.join(m.claims)}] {m.description}")
        return 0
    v = validate("mutants", profile=args.profile, seed=args.seed)
    names = args.only or list(MUTANTS)
    for n in names:
        if n not in MUTANTS:
            raise ParameterError("only", "mutants", "names from --list: one of {"
                                 + ", ".join(repr(k) for k in MUTANTS) + "}", n)
    rows = []
    for n in names:
        print(f"mutant {n}: running {', '.join(MUTANTS[n].claims)} ...", file=sys.stderr, flush=True)
        r = run_mutant(n, v["profile"], v["seed"], threads=getattr(args, "threads", None))
        rows.append(r)
        print(f"  {'KILLED' if r['killed'] else 'SURVIVED'} in {r['wall_s']:.0f}s: "
              f"{'; '.join(r['how']) or 'no claim failed'}", file=sys.stderr, flush=True)
    score = sum(r["killed"] for r in rows) / len(rows)
    if args.json:
        print(json.dumps({"mutation_score": score, "mutants": rows}))
    else:
        print(f"mutation score: {sum(r['killed'] for r in rows)}/{len(rows)} = {score:.0%}")
    return 0 if score == 1.0 else 1
