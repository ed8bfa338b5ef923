"""Errors that the CLI reports in one line with exit status 2 (bad input, not a bug). Both are
defined in theory/params.py, the bottom layer, so that every layer can raise them."""
from __future__ import annotations

from .theory.params import MtlcheckError, ParameterError

__all__ = ["MtlcheckError", "ParameterError"]
