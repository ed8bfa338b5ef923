"""mtlcheck: a numerical theorem-consistency checker for "Provable Multi-Task Representation
Learning by Two-Layer ReLU Neural Networks" (Collins, Hassani, Soltanolkotabi, Mokhtari,
Shakkottai; ICML 2024).

Subpackages: mtlcheck.theory (sympy/mpmath: model spec, closed forms, bounds, claims),
mtlcheck.sim (torch simulations), mtlcheck.checks (the pytest suite), mtlcheck.reports (LaTeX),
mtlcheck.benchmarks (performance). See README.md and docs/derivations.md.
"""
__version__ = "0.1.0"
