"""mtlcheck: a numerical theorem-consistency checker for "Provable Multi-Task Representation
Learning by Two-Layer ReLU Neural Networks" (Collins, Hassani, Soltanolkotabi, Mokhtari,
Shakkottai; ICML 2024).

Subpackages, in their dependency order: mtlcheck.theory (sympy/mpmath/numpy: model spec,
closed forms, derived bounds, claim statements), mtlcheck.boundlang (the bound-file language),
mtlcheck.sim (torch simulations), mtlcheck.checks (the decisions: one module per claim, the
registry, the results contract, the pytest plugin), mtlcheck.reports (LaTeX), and beside the CLI
mtlcheck.qa (audit, calibrate, mutants, counterexamples) and mtlcheck.benchmarks (performance).
See README.md, docs/design.md and docs/derivations.md.
"""
import os as _os

__version__ = "0.1.0"

# OpenMP's threads sleep between parallel regions instead of spinning (set before torch loads
# its OpenMP runtime; a value the user set wins): pretraining draws its inputs from two streams
# in two threads between GEMMs (sim/samplers.py GaussianBuffer), and spinning OpenMP workers
# took the second core from the second stream (one quick d = 256 pretraining run: 3.85 s
# spinning, 3.0 s sleeping, on this 2-core machine)
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
