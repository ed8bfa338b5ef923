"""The registry of claim checks: each claim's decision lives in its own module
(``cN_<name>.py``, a plain function ``decide(ctx) -> ClaimResult``); everything that needs a
claim's logic (the runner, the pytest suite, the QA harnesses) goes through :data:`CLAIMS`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...theory.claims import claim as _statement
from . import (c1_recovery, c2_sample_complexity, c3_neuron_complexity, c4_single_task,
               c5_random_features, c6_mechanism)

__all__ = ["ClaimCheck", "CLAIMS", "get"]


@dataclass(frozen=True)
class ClaimCheck:
    """A claim's statement (theory.claims) bound to the module that decides it."""

    id: str
    module: object
    decide: Callable

    @property
    def statement(self):
        return _statement(self.id)


CLAIMS: dict[str, ClaimCheck] = {
    m.__name__.rsplit(".", 1)[-1][:2].upper(): ClaimCheck(
        m.__name__.rsplit(".", 1)[-1][:2].upper(), m, m.decide)
    for m in (c1_recovery, c2_sample_complexity, c3_neuron_complexity, c4_single_task,
              c5_random_features, c6_mechanism)}


def get(cid: str, param: str = "claim", where: str = "claims") -> ClaimCheck:
    """The registered check of claim ``cid``; an unknown id is a ParameterError."""
    _statement(cid, param, where)
    return CLAIMS[cid]
