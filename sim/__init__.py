"""mtlcheck.sim: the torch simulations (CPU or CUDA): samplers, the batched pretraining engine,
probes, metrics, baselines, the random-feature population risk, memory estimates."""
