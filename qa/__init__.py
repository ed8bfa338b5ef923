"""Quality assurance of the suite itself, each a `mtlcheck` verb: the constants audit
(`mtlcheck audit`) and the bound-file audit (`mtlcheck audit --bounds`, qa/bound_*.py, the one
engine that every audit path decides with), deliberate mutants (`mtlcheck mutants`), calibration and power of the
decision rules (`mtlcheck calibrate`) and the counterexample search (`mtlcheck
counterexamples`). This layer sits beside the CLI: it may import every layer below it (theory, boundlang, sim, checks, reports); none of
those imports it (the mutants reach pytest through their own plugin, qa/mutant_plugin.py)."""
