"""mtlcheck.sim."""
