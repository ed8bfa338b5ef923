"""Errors that the CLI reports in one line with exit status 2 (bad input, not a bug)."""
from __future__ import annotations

from .theory.params import ParameterError

__all__ = ["MtlcheckError", "ParameterError"]


class MtlcheckError(Exception):
    """A user-facing failure that is not a parameter range (e.g. a corrupt cache file)."""
