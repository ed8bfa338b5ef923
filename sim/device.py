"""Device and dtype resolution (CPU by default, CUDA when present and asked for)."""
from __future__ import annotations

import torch

from ..theory.params import ParameterError, validate

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str = "auto", where: str = "sim") -> torch.device:
    """'auto' -> cuda if available else cpu; 'cuda' without a GPU is a clear error."""
    name = validate(where, device=name)["device"]
    has_cuda = torch.cuda.is_available()
    if name == "auto":
        return torch.device("cuda" if has_cuda else "cpu")
    if name == "cuda" and not has_cuda:
        raise ParameterError("device", where, "one of {'auto', 'cpu'} (no CUDA device is present "
                             "on this machine)", name)
    return torch.device(name)


def resolve_dtype(name: str = "float32", where: str = "sim") -> torch.dtype:
    return DTYPES[validate(where, dtype=name)["dtype"]]


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{torch.get_num_threads()} threads"
