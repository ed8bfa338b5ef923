"""Before a run does any work: does the largest pretraining of each selected claim fit in the
memory the device has? (sim/footprint.py estimates one run; each claim module lists the
pretraining configurations of a profile in ``pretrain_configs``.)"""
from __future__ import annotations

import torch

from ..sim.footprint import check_fits, pretrain_bytes
from ..sim.pretrain import default_block, default_chunk
from ..theory.model import Algorithm
from .claims import get

__all__ = ["check_claims_fit"]


def check_claims_fit(ids: list[str], profile_name: str, device: torch.device, where: str) -> None:
    """Raise a one-line MtlcheckError if a pretraining run of the selected claims cannot fit."""
    for cid in ids:
        for c in get(cid).module.pretrain_configs(profile_name):
            algo = Algorithm(c["T"], c["n1"], c["n2"], c["m"])
            chunk = default_chunk(algo, c["d"], device, torch.float32)
            block = default_block(algo, chunk, device, torch.float32)
            check_fits(pretrain_bytes(c["d"], c["r"], c["T"], c["n1"], c["n2"], c["m"], chunk,
                                      block, torch.float32), device,
                       f"{where}: claim {cid} (pretraining d={c['d']}, T={c['T']}, "
                       f"n1={c['n1']}, n2={c['n2']}, m={c['m']})")
