"""Memory a pretraining run needs, estimated before anything is allocated, and the memory the
device has: a configuration that cannot fit is refused in one line instead of failing deep
inside torch after minutes of work."""
from __future__ import annotations

import os

import torch

from ..theory.params import MtlcheckError

__all__ = ["pretrain_bytes", "available_bytes", "check_fits", "gib"]


def gib(b: float) -> str:
    return f"{b / 2 ** 30:.3g} GiB"


def pretrain_bytes(d: int, r: int, T: int, n1: int, n2: int, m: int, chunk: int, block: int,
                   dtype: torch.dtype) -> dict[str, float]:
    """Peak working memory of sim/pretrain.py by part (bytes; an upper estimate):
    W0, W, the gradient G and W^T (4 m d); the heads (2 T m); a chunk's samples X1, X2 and the
    folded copy of X2 (c (n1 + 2 n2) d), its pre-activations and coefficients for one neuron
    block (2 c max(n1, n2) block); the metrics' float64 SVD of W (3 m d doubles) and M."""
    e = torch.finfo(dtype).bits // 8
    c = min(chunk, T)
    return {"weights (W0, W, gradient)": 4.0 * m * d * e,
            "heads": 2.0 * T * m * e,
            f"a chunk of {c} tasks": (c * (n1 + 2 * n2) * d + 2 * c * max(n1, n2) * block) * e,
            "metrics (float64 SVD)": 3.0 * m * d * 8 + d * r * 8}


def available_bytes(device: torch.device) -> float:
    """Free GPU memory (cuda) or the kernel's MemAvailable (cpu; the physical pages otherwise)."""
    if device.type == "cuda":
        return float(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_fits(parts: dict[str, float], device: torch.device, what: str) -> None:
    """Raise a one-line MtlcheckError when ``parts`` need more than the device has free."""
    need = sum(parts.values())
    have = available_bytes(device)
    if need > have:
        big = sorted(parts.items(), key=lambda kv: -kv[1])[:2]
        raise MtlcheckError(f"{what} needs about {gib(need)} of memory ("
                            + ", ".join(f"{k} {gib(v)}" for k, v in big)
                            + f"), but {gib(have)} is available on {device.type}; reduce m, d or "
                            "the number of tasks per chunk")
