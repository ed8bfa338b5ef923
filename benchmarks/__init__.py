"""mtlcheck.benchmarks: `mtlcheck bench`, the batched engine against a naive per-task loop."""
