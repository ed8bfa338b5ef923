"""mtlcheck.checks: the decisions. One module per claim (checks/claims/, discovered by the
registry), the run's context, cache, records and results contract, the statistics and decision
rules, the executors, and the pytest plugin with its one parametrized test (docs/design.md
section 1)."""
