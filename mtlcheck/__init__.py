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
__version__ = "0.1.0"
