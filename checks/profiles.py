"""Profiles of the suite. quick: all of `pytest checks/` on 2 CPU cores in a few minutes; full:
larger d grids (to 4096) and more seeds, meant for a GPU. Each claim declares its own entries
(``PROFILE`` in its module, checks/claims/); this module holds what they share.

Every decision uses one-sided confidence bounds at false-alarm probability ALPHA each.
"""
from __future__ import annotations

ALPHA = 0.05
NAMES = ("quick", "full")


def geometric(lo: int, hi: int, ratio: float = 2 ** 0.5) -> list[int]:
    out, x = [], float(lo)
    while x <= hi * 1.0001:
        v = int(round(x))
        if not out or v > out[-1]:
            out.append(v)
        x *= ratio
    return out


def profile(name: str, cid: str) -> dict:
    """The parameters of claim ``cid`` in profile ``name`` (its module's PROFILE)."""
    from .claims import get                 # the registry imports the claim modules
    return get(cid).module.PROFILE[name]
