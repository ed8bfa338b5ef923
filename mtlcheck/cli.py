"""The `mtlcheck` command line (DESIGN.md "Interfaces"): run, report, audit, sim pretrain, bench.

Every value is validated against the declared parameter table (theory/params.py); a bad value
prints one line on stderr naming the parameter, the allowed range and the value given, and
exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import MtlcheckError
from .theory.params import ParameterError, PARAMS, validate

EXIT_BAD_INPUT = 2
EXIT_NOT_BUILT = 3


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2 (no usage dump)."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _num(text: str):
    """Parse a CLI number without judging it: ints stay ints, other numbers become floats,
    anything else stays a string, so that validation reports the value as given."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _add_common(p, *, device=True, seed=True, json_flag=False):
    if device:
        p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    if seed:
        p.add_argument("--seed", type=_num, default=0, help="random seed, an int >= 0 (default 0)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    top = _Parser(prog="mtlcheck", description=(
        "Theorem-consistency checker for 'Provable Multi-Task Representation Learning by "
        "Two-Layer ReLU Neural Networks' (Collins et al., ICML 2024): symbolic bounds, "
        "simulations, and a claim-by-claim verdict."))
    top.add_argument("--version", action="version", version=f"mtlcheck {__version__}")
    sub = top.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    p = sub.add_parser("run", help="run the theorem-consistency suite and write results.json",
                       description=(
                           "Run `pytest checks/` (claims C1..C6) on the chosen profile, print a "
                           "claims table and write DIR/results.json. Finished sweep cells are "
                           "cached in DIR/cache, so a killed run resumes where it stopped."))
    p.add_argument("--profile", default="quick", help="quick (2 CPU cores, <= 10 min) | full (GPU)")
    p.add_argument("--out", default="mtlcheck-out", help="output folder (default mtlcheck-out)")
    p.add_argument("--fresh", action="store_true", help="ignore cached sweep cells")
    p.add_argument("--only", nargs="+", default=None, metavar="CLAIM",
                   help="run only these claims (C1 .. C6); default: all")
    _add_common(p)

    p = sub.add_parser("report", help="LaTeX tables, figures and report.pdf from results.json",
                       description=(
                           "Turn a results.json into booktabs tables, PDF figures, a macros file "
                           "of every scalar result, report.tex and (where pdflatex exists) "
                           "report.pdf."))
    p.add_argument("--results", default="mtlcheck-out/results.json", help="results file")
    p.add_argument("--out", default="mtlcheck-out/report", help="output folder")
    p.add_argument("--audit", default=None, help="also include this `mtlcheck audit --json` output")
    p.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")

    p = sub.add_parser("audit", help="audit the constants of the derived bounds against simulation",
                       description=(
                           "For every constant of the bounds derived in docs/derivations.md: the "
                           "value the proof gives, the smallest value consistent with "
                           "simulation (with a confidence bound) and the slack ratio; interval "
                           "arithmetic checks of the lemma-level inequalities; violations are "
                           "reported loudly with the configuration."))
    p.add_argument("--profile", default="quick", help="quick | full")
    _add_common(p, json_flag=True)

    p = sub.add_parser("sim", help="simulation commands (see `mtlcheck sim pretrain --help`)")
    simsub = p.add_subparsers(dest="sim_verb", metavar="SIMVERB", parser_class=_Parser)
    q = simsub.add_parser("pretrain", help="pretrain one configuration and print its metrics",
                          description=(
                              "Pretrain one configuration of the reference model and print "
                              "E_out, isotropy, principal angles and wall time (seconds for "
                              "sampling and training, imports excluded)."))
    for name, default in (("d", None), ("r", None), ("T", None), ("n1", None), ("n2", None),
                          ("m", None)):
        q.add_argument(f"--{name}", type=_num, required=True, help=PARAMS[name].doc)
    q.add_argument("--tasks", default="halfspace", help="halfspace | clusters | quadratic")
    q.add_argument("--noise", type=_num, default=0.0, help="label-flip probability in [0, 0.5]")
    q.add_argument("--single-task", action="store_true", help="every task slot is one task")
    q.add_argument("--variant", default="one-step", help="one-step | alternating")
    q.add_argument("--rounds", type=_num, default=1, help="rounds (alternating)")
    q.add_argument("--head-steps", type=_num, default=1, help="head steps per round (alternating)")
    q.add_argument("--loss", default="correlation", help="correlation | hinge | logistic")
    q.add_argument("--eta-a", type=_num, default=1.0, help="head step size")
    q.add_argument("--eta-w", type=_num, default=1.0, help="representation step size")
    q.add_argument("--weight-decay", type=_num, default=None,
                   help="weight decay (default 1/eta_w, the one-step choice)")
    q.add_argument("--row-norm", action="store_true", help="normalise rows after each round")
    q.add_argument("--task-pool", default="fixed", help="fixed | fresh (alternating)")
    q.add_argument("--dtype", default="float32", help="float32 | float64")
    q.add_argument("--chunk", type=_num, default=None, help="tasks per batched chunk")
    _add_common(q, json_flag=True)

    p = sub.add_parser("bench", help="time the engine against a naive reference implementation",
                       description=(
                           "Time one pretraining step of the batched engine and of a naive "
                           "per-task autograd loop on the same pre-sampled data in three "
                           "regimes; report median times, ratio, GFLOP/s and the fraction of "
                           "this machine's fp32 GEMM peak, measured in the same run."))
    p.add_argument("--repeats", type=_num, default=5, help="alternating timed runs per engine")
    p.add_argument("--scale", type=_num, default=1.0,
                   help="multiply the task counts by this, in (0, 1] (smoke runs use < 1)")
    p.add_argument("--memory", action="store_true",
                   help="also measure peak memory of a d=2048, T=2048, n1=n2=1024, m=512 run")
    _add_common(p, seed=True, json_flag=True)
    return top


def _not_built(verb: str, issue: str) -> int:
    print(f"mtlcheck {verb}: not built yet ({issue}).", file=sys.stderr)
    return EXIT_NOT_BUILT


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        if args.verb == "run":
            from .runner import main_run
            return main_run(args)
        if args.verb == "report":
            from .reports.cli import main_report
            return main_report(args)
        if args.verb == "audit":
            from .sim.audit import main_audit
            return main_audit(args)
        if args.verb == "sim":
            if args.sim_verb != "pretrain":
                parser.parse_args(["sim", "--help"])
            from .sim.cli import main_pretrain
            return main_pretrain(args)
        if args.verb == "bench":
            from .benchmarks.bench import main_bench
            return main_bench(args)
    except (ParameterError, MtlcheckError) as e:
        verb = " ".join(x for x in (args.verb, getattr(args, "sim_verb", None)) if x)
        print(f"mtlcheck {verb}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("mtlcheck."):
            return _not_built(args.verb, f"module {e.name} is missing")
        raise
    except KeyboardInterrupt:
        print(f"mtlcheck {args.verb}: interrupted", file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
