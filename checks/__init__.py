"""mtlcheck.checks."""
