"""mtlcheck.theory: the reference model and its population quantities, symbolically.

Pure sympy + mpmath (+ numpy for evaluation); no torch anywhere in this package.
  symbols     - symbols with assumptions
  params      - the declared parameter table and the one error-message template
  model       - the reference model as frozen dataclasses
  derive      - closed forms derived with sympy from their integral definitions
  population  - numeric evaluation of those closed forms (pc_objective, ...)
  quadrature, montecarlo, twins - the two twins of every closed form and the tolerance table
  claims      - the claims' statements and the three-valued d-independence test
  bounds      - the bounds derived in docs/derivations.md, with named constants
  tails, relu_blocks - tail inequalities and the ReLU block algebra (derivations section 12)
  probe_bound, isotropy_bound, eout_bound - the derived bounds (c), (d), (b) (sections 6, 7, 9)
  slacks, bound_facts - their per-step slacks and their symbolic structural facts
  hermite, degree_energies, sphere_harmonics, rf_lower_bounds, rf_risk - random features (section 8)
  angles      - well-conditioned angles between vectors (derivations section 1.1)
  lemmas      - interval-arithmetic lemma certificates and structural facts
  audit_rows  - the constants audit's rows and table (qa/audit.py runs the simulations)
"""
