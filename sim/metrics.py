"""Metrics of a learned first layer W (docs/model.md section 4, C1).

E_out(W) = ||W (I - M M^T)||_F^2 / ||W||_F^2 with the rows as learned (not re-normalised);
principal angles between the top-r right singular subspace of W and span(M);
isotropy = sigma_r(W M) / sigma_1(W M).
"""
from __future__ import annotations

import math

import torch

__all__ = ["e_out", "principal_angles", "isotropy", "spectrum", "summary"]


def e_out(W: torch.Tensor, M: torch.Tensor) -> float:
    """Out-of-span energy fraction, computed from W - (W M) M^T (no cancellation)."""
    W = W.double().cpu()
    M = M.double().cpu()
    total = float((W * W).sum())
    if total == 0.0:
        return float("nan")
    out = W - (W @ M) @ M.t()
    return float((out * out).sum()) / total


def principal_angles(W: torch.Tensor, M: torch.Tensor) -> list[float]:
    """Angles (radians, ascending) between the top-r right singular subspace of W and span(M)."""
    W = W.double().cpu()
    M = M.double().cpu()
    r = M.shape[1]
    _, s, Vh = torch.linalg.svd(W, full_matrices=False)
    # only directions W actually spans: a singular value at rounding level is no direction
    keep = int((s[:r] > s[0] * 1e-12).sum()) if len(s) and float(s[0]) > 0 else 0
    V = Vh[:keep].t()                                # d x (rank, at most r)
    # cosines (descending) and sines (ascending) of the same angles, combined by atan2: acos of
    # a cosine near 1 would lose half the digits (Knyazev and Argentati 2002; derivations 1.1)
    cos = torch.linalg.svdvals(V.t() @ M).clamp(0.0, 1.0) if keep else torch.zeros(0)
    sin = torch.linalg.svdvals(V - M @ (M.t() @ V)).clamp(0.0, 1.0).flip(0) if keep \
        else torch.zeros(0)
    angles = sorted(math.atan2(float(sn), float(cs)) for cs, sn in zip(cos, sin))
    # a W of rank < r (m < r, or a missed direction) spans fewer directions: the rest at pi/2
    return angles + [math.pi / 2] * (r - len(angles))


def isotropy(W: torch.Tensor, M: torch.Tensor) -> float:
    """sigma_r(W M) / sigma_1(W M): 0 when a direction of span(M) is missed, 1 when all r are equal."""
    s = torch.linalg.svdvals(W.double().cpu() @ M.double().cpu())
    if float(s[0]) == 0.0:
        return float("nan")
    if len(s) < M.shape[1]:          # m < r: sigma_r(W M) = 0
        return 0.0
    return float(s[-1] / s[0])


def spectrum(W: torch.Tensor, M: torch.Tensor) -> list[float]:
    """Singular values of W M divided by the largest (descending): the isotropy spectrum."""
    s = torch.linalg.svdvals(W.double().cpu() @ M.double().cpu())
    vals = [float(v / s[0]) if float(s[0]) > 0 else float("nan") for v in s]
    return vals + [0.0] * (M.shape[1] - len(vals))


def summary(W: torch.Tensor, M: torch.Tensor) -> dict:
    angles = principal_angles(W, M)
    return {"E_out": e_out(W, M), "isotropy": isotropy(W, M), "principal_angles": angles,
            "max_principal_angle": max(angles), "sin2_max_angle": math.sin(max(angles)) ** 2,
            "spectrum": spectrum(W, M)}
