"""mtlcheck.benchmarks."""
