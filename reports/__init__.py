"""mtlcheck.reports."""
