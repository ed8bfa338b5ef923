"""The `mtlcheck` command line (docs/design.md section 2): run, report, verify, audit, sim
pretrain, bench, and the QA verbs mutants, calibrate, counterexamples.

Every value is validated against the declared parameter table (theory/params.py) under the
name of its flag; a bad value prints one line on stderr naming the parameter, the allowed range
and the value given, and exits with status 2. Ctrl-C exits with status 130.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .errors import MtlcheckError, ParameterError
from .theory.params import PARAMS, validate

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default (unless the help text already says it)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" not in text and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings):
            text += f" (default: {action.default})"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2 (no usage dump)."""

    def __init__(self, *a, **kw):
        kw.setdefault("formatter_class", _Formatter)
        super().__init__(*a, **kw)

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


def _threads_arg(p):
    """--threads, the same for every verb that computes (docs: README, "Commands")."""
    p.add_argument("--threads", type=_num, default=None,
                   help="torch and BLAS threads (default: the cores that are free now)")


def _common(p, *, device=True, seed=True, json_flag=False, threads=False):
    if threads:                 # run's --threads comes with its executor flags (_scale_out)
        _threads_arg(p)
    if device:
        p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    if seed:
        p.add_argument("--seed", type=_num, default=0, help="random seed, an int >= 0")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON object")


def _scale_out(p, what: str):
    p.add_argument("--executor", default="local",
                   help=f"where {what} run: local (this process, no Ray import) | ray")
    p.add_argument("--address", default=None,
                   help="Ray cluster address HOST:PORT or 'auto' (with --executor ray; "
                        "default: start a local Ray instance)")
    _threads_arg(p)


def _add_run(sub):
    from .checks.claims import ids
    known = ", ".join(ids())
    p = sub.add_parser("run", help=f"decide the claims ({known}) and merge them into results.json",
                       description=(
                           "Decide the claims (checks/claims/) on the chosen profile, print a "
                           "claims table and merge the decided claims into DIR/results.json "
                           "(claims not run keep their earlier record). Finished sweep cells are "
                           "cached in DIR/cache, so an interrupted or killed run resumes where it "
                           "stopped. Exit status: 0 all decided claims pass, 1 one fails, 2 bad "
                           "input, 130 interrupted."))
    p.add_argument("--profile", default="quick",
                   help="quick (2 CPU cores, minutes) | full (d up to 4096, a GPU advised)")
    p.add_argument("--out", default="mtlcheck-out", help="output folder")
    p.add_argument("--fresh", action="store_true",
                   help="recompute the cells the selected claims need, overwriting their cache "
                        "entries as they finish (other claims' cells are untouched)")
    p.add_argument("--only", nargs="+", default=None, metavar="CLAIM",
                   help=f"run only these claims (of {known}); default: all")
    p.add_argument("--max-replicates", type=_num, default=None, metavar="N",
                   help="the cap of every claim decided in rounds (default: each profile's "
                        "'sequential' cap); a rerun with a higher cap continues from the "
                        "cached replicates")
    _scale_out(p, "sweep cells")
    _common(p)


def _add_report(sub):
    p = sub.add_parser("report", help="LaTeX tables, figures and report.pdf from results.json",
                       description=(
                           "Turn a results.json into booktabs tables (each compiles when \\input "
                           "into an article that loads booktabs), PDF figures, a macros file of "
                           "every scalar result, report.tex and (where pdflatex exists) "
                           "report.pdf. The results file is first checked by `mtlcheck verify`; "
                           "the report states the verified digest, and a file that does not "
                           "verify is refused (exit status 1: a mismatch, 2: a file that cannot "
                           "be verified) unless --unverified is given."))
    p.add_argument("--results", default="mtlcheck-out/results.json", help="results file")
    p.add_argument("--out", default="mtlcheck-out/report", help="output folder")
    p.add_argument("--audit", default=None,
                   help="also include this `mtlcheck audit --json` (or --bounds) output")
    p.add_argument("--calibration", default=None,
                   help="also include this `mtlcheck calibrate --json` output")
    p.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")
    p.add_argument("--unverified", action="store_true",
                   help="build the report even when `mtlcheck verify` finds mismatches or cannot "
                        "verify the file; the report then says NOT VERIFIED at the top and lists "
                        "the first mismatches")


def _add_audit(sub):
    from .boundlang import quantities_help
    p = sub.add_parser("audit", help="audit derived bounds, or bounds typed in a file, against "
                                     "simulation",
                       description=(
                           "Without --bounds: for every constant of the bounds derived in "
                           "docs/derivations.md, the value the proof gives, the smallest value "
                           "consistent with simulation (with a confidence bound), the slack "
                           "ratio and the slack of each step of the proof; interval arithmetic "
                           "checks of the lemma-level inequalities; violations are reported "
                           "loudly with the configuration. Exit status 1 on a violation.\n\n"
                           "With --bounds FILE.toml: audit the statements written in the file "
                           "(docs/bounds-as-data.md; examples/bounds/template.toml): verdict "
                           "holds | violated | undecided with its error probability, a shrunk "
                           "counterexample, the least slack, the constants simulation needs, "
                           "symbolic facts (d-dependence, monotonicity). The file is parsed "
                           "with an allow-list and never run as code. Exit status 0 when all "
                           "hold, 1 when one is violated (or undecided, or flagged), 2 for a "
                           "bad file."),
                       epilog=quantities_help())
    p.add_argument("--profile", default="quick",
                   help="smoke | quick | full (the built-in audit; smoke is a one-minute look "
                        "with too few runs for conclusions)")
    p.add_argument("--bounds", default=None, metavar="FILE.toml",
                   help="audit the bounds written in this file instead of the derived ones "
                        "('builtin': the derived bounds shipped as statements, "
                        "boundlang/derived.toml)")
    p.add_argument("--budget", type=_num, default=None,
                   help="seconds the --bounds audit may spend (default: 240)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="with --bounds: audit only these bounds")
    p.add_argument("--at", default=None, metavar="NAME=VALUE,...",
                   help="with --bounds: audit one configuration (e.g. a reproduce command)")
    _common(p, json_flag=True, threads=True)


def _add_sim(sub):
    p = sub.add_parser("sim", help="simulation commands (see `mtlcheck sim pretrain --help`)")
    simsub = p.add_subparsers(dest="sim_verb", metavar="SIMVERB", parser_class=_Parser)
    q = simsub.add_parser("pretrain", help="pretrain one configuration and print its metrics",
                          description=(
                              "Pretrain one configuration of the reference model and print "
                              "E_out, isotropy, principal angles and wall time (seconds for "
                              "sampling and training, imports excluded). The memory it needs is "
                              "estimated and checked before anything is allocated."))
    for name in ("d", "r", "T", "n1", "n2", "m"):
        q.add_argument(f"--{name}", type=_num, required=True, help=PARAMS[name].doc)
    q.add_argument("--tasks", default="halfspace", help="halfspace | clusters | quadratic")
    q.add_argument("--noise", type=_num, default=0.0, help="label-flip probability in [0, 0.5]")
    q.add_argument("--single-task", action="store_true", help="every task slot is one task")
    q.add_argument("--variant", default="one-step", help="one-step | alternating")
    q.add_argument("--rounds", type=_num, default=1, help="rounds (alternating only)")
    q.add_argument("--head-steps", type=_num, default=1, help="head steps per round (alternating only)")
    q.add_argument("--loss", default="correlation", help="correlation | hinge | logistic")
    q.add_argument("--eta-a", type=_num, default=1.0, help="head step size")
    q.add_argument("--eta-w", type=_num, default=1.0, help="representation step size")
    q.add_argument("--weight-decay", type=_num, default=None,
                   help="weight decay (default: 1/eta_w, the one-step choice)")
    q.add_argument("--row-norm", action="store_true", help="normalise rows after each round")
    q.add_argument("--task-pool", default="fixed", help="fixed | fresh (alternating only)")
    q.add_argument("--dtype", default="float32", help="float32 | float64")
    q.add_argument("--chunk", type=_num, default=None,
                   help="tasks per batched chunk (default: sized to the cache and memory)")
    _common(q, json_flag=True)


def _add_bench(sub):
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
    p.add_argument("--probes", action="store_true",
                   help="also time the probe curves of C2's near control three ways (one "
                        "repetition at a time, batched, batched with projected draws)")
    _common(p, json_flag=True, threads=True)


def _add_qa(sub):
    p = sub.add_parser("mutants", help="apply each deliberate mutant; the quick checks must kill it",
                       description=(
                           "Apply each deliberate mutant of the algorithm and the theory in a "
                           "fresh pytest process (plugin mtlcheck.qa.mutant_plugin) and run the "
                           "checks that must catch it; print the mutation score. Exit status 1 "
                           "when a mutant survives."))
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these mutants")
    p.add_argument("--profile", default="quick", help="quick | full")
    _common(p, device=False, json_flag=True, threads=True)

    p = sub.add_parser("calibrate", help="false-pass rates of the decision rules, and their power",
                       description=(
                           "Each decision rule, in each regime a profile uses, applied to "
                           "synthetic data placed exactly at its boundary (its false-pass rate "
                           "with a Clopper-Pearson bound), and each claim's power: the smallest "
                           "effect it detects with probability 0.8. Progress on stderr."))
    p.add_argument("--datasets", type=_num, default=10000,
                   help="synthetic datasets per rule and regime (at least 2000)")
    p.add_argument("--only", nargs="+", default=None, metavar="RULE",
                   help="only the rules whose name contains one of these words (e.g. C2)")
    p.add_argument("--results", default="mtlcheck-out/results.json",
                   help="the quick run whose cells the synthetic data are fitted to (run first "
                        "when missing)")
    _common(p, device=False, json_flag=True, threads=True)

    p = sub.add_parser("counterexamples", help="search for configurations violating a derived bound",
                       description=(
                           "Hypothesis searches for configurations that violate each derived "
                           "bound and shrinks any violation to a minimal configuration (plus a "
                           "deliberately wrong bound, which it must break). Exit status 1 when a "
                           "derived bound is broken."))
    p.add_argument("--examples", type=_num, default=None,
                   help="configurations tried per bound (default: each bound's own)")
    _common(p, device=False, seed=False, json_flag=True, threads=True)


def _add_verify(sub):
    p = sub.add_parser("verify", help="re-decide every component of a results.json from its "
                                      "recorded inputs; check verdicts, margins and digest",
                       description=(
                           "Check a results.json for internal consistency with a small "
                           "implementation of the decision rules that shares no code with the "
                           "checks (qa/verify.py): every primary decision, subcheck and "
                           "negative control is re-decided from the inputs and rule parameters "
                           "its record keeps and compared with the recorded statistic, bounds "
                           "and verdict; then each claim's verdict, margin, bound and false-pass "
                           "bound, and the document's sha256 digest (any edit of the file). It "
                           "does not rerun the simulations. Exit status: 0 everything agrees, 1 "
                           "a mismatch (one line each, naming claim, component and field), 2 a "
                           "file that cannot be read, is not JSON, breaks the results schema or "
                           "predates the recorded evidence."))
    p.add_argument("results", metavar="RESULTS", help="the results.json to verify")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: ok, mismatches, digest, claims")
    p.add_argument("--rerun", type=_num, default=None, metavar="K",
                   help="after the consistency check, decide every claim again from the run's "
                        "cache with the installed code, compare the re-derived evidence with "
                        "the file's, and re-execute K randomly chosen cells per claim from "
                        "their recorded seeds (exact at the recorded threads and device; "
                        "qa/rerun.py)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="the run's cache folder for --rerun (default: the folder 'cache' beside "
                        "RESULTS)")


def build_parser() -> argparse.ArgumentParser:
    top = _Parser(prog="mtlcheck", description=(
        "Theorem-consistency checker for 'Provable Multi-Task Representation Learning by "
        "Two-Layer ReLU Neural Networks' (Collins et al., ICML 2024): symbolic bounds, "
        "simulations, and a claim-by-claim verdict."))
    top.add_argument("--version", action="version", version=f"mtlcheck {__version__}")
    sub = top.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for add in (_add_run, _add_report, _add_verify, _add_audit, _add_sim, _add_bench, _add_qa):
        add(sub)
    return top


def _verb_threads(args) -> int:
    """The same thread discipline as `mtlcheck run`: --threads, else the cores that are free
    now (/proc/stat), set for torch and the BLAS pools before the verb does any work."""
    from .checks.executor import free_cores, set_threads
    extra = {"threads": args.threads} if args.threads is not None else {}
    n = validate(args.verb, **extra).get("threads") or free_cores()
    args.threads = set_threads(n)
    return args.threads


def _dispatch(args, parser) -> int:
    verb = args.verb
    if verb in ("audit", "bench", "mutants", "calibrate", "counterexamples"):
        _verb_threads(args)
    if verb == "run":
        from .runner import main_run
        return main_run(args)
    if verb == "report":
        from .qa.verify import verify_file        # the verifier runs first, in the CLI:
        from .reports.report_command import main_report   # reports/ may not import qa/
        return main_report(args, verify_file(args.results))
    if verb == "verify":
        from .qa.verify import main_verify
        if args.rerun is not None:
            validate("verify", rerun=args.rerun)
        rc = main_verify(args)
        if rc != 0 or args.rerun is None:
            return rc
        from .qa.rerun import main_rerun
        return main_rerun(args)
    if verb == "audit":
        if args.bounds is not None:
            from .qa.bound_audit import main_audit_bounds
            return main_audit_bounds(args)
        from .qa.audit import main_audit
        return main_audit(args)
    if verb == "sim":
        if args.sim_verb != "pretrain":
            raise ParameterError("SIMVERB", "sim", "one of {'pretrain'} (see mtlcheck sim --help)",
                                 args.sim_verb)
        from .sim.pretrain_command import main_pretrain
        return main_pretrain(args)
    if verb == "bench":
        from .benchmarks.bench import main_bench
        return main_bench(args)
    if verb == "mutants":
        from .qa.mutants import main_mutants
        return main_mutants(args)
    if verb == "calibrate":
        from .qa.calibrate import main_calibrate
        return main_calibrate(args)
    from .qa.counterexamples import main_counterexamples
    return main_counterexamples(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        print("mtlcheck: error: a verb is required: one of run, report, verify, audit, sim, "
              "bench, mutants, calibrate, counterexamples (see mtlcheck --help)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _dispatch(args, parser)
    except (ParameterError, MtlcheckError) as e:
        verb = " ".join(x for x in (args.verb, getattr(args, "sim_verb", None)) if x)
        if isinstance(e, ParameterError) and "_" in e.parameter:
            # parameters are named as their flags are spelled: --head-steps, --eta-a
            e = ParameterError(e.parameter.replace("_", "-"), e.where, e.constraint, e.value)
        print(f"mtlcheck {verb}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"mtlcheck {args.verb}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of stdout went away (`mtlcheck sim pretrain --json | head -c 100`): end
        # quietly, and keep Python's shutdown from flushing into the closed pipe again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
