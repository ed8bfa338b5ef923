"""Well-conditioned angles between vectors (docs/derivations.md section 1.1).

``arccos(<u, v>)`` loses half the digits near parallel and antipodal pairs: the cosine carries an
absolute rounding error of about d * 2^-53 from its dot product, and d alpha / d cos =
-1 / sin(alpha), so at alpha -> 0 an error of 1e-16 in the cosine becomes 1.5e-8 in the angle,
and sqrt(1 - cos^2) has the same defect. For unit u, v the half-angle form

    alpha = 2 atan2(|u - v|, |u + v|),   sin(alpha) = |u - v| |u + v| / 2

is exact at parallel and antipodal pairs and well conditioned at every angle (|u - v| and
|u + v| are computed from the coordinates, with no cancellation against 1). It needs the
difference vectors, so the pairwise functions below take the cheap GEMM cosine where it is
well conditioned (|cos| <= 1/sqrt(2): d alpha / d cos <= sqrt(2)) and the half-angle form on
the other pairs only.

numpy only; rows are expected to be unit vectors (normalise first).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["vector_angle", "pair_angles"]

#: |cos| above this: the pair is within pi/4 of parallel or antipodal, and its angle is taken
#: from the half-angle form.
NEAR_COS = 1.0 / math.sqrt(2.0)
_CHUNK_ELEMENTS = 1 << 21          # difference vectors formed at a time (16 MiB of float64)


def vector_angle(u, v) -> tuple[float, float, float]:
    """(alpha, cos alpha, sin alpha) for two unit vectors, by the half-angle form."""
    u = np.asarray(u, float)
    v = np.asarray(v, float)
    a = float(np.linalg.norm(u - v))
    b = float(np.linalg.norm(u + v))
    alpha = 2.0 * math.atan2(a, b)
    return alpha, math.cos(alpha), math.sin(alpha)


def pair_angles(U, V=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alpha, cos, sin) arrays of shape (len(U), len(V)) for the angles between the unit rows
    of U and of V (V = U when omitted; then the diagonal is exactly 0, 1, 0)."""
    U = np.asarray(U, float)
    V = U if V is None else np.asarray(V, float)
    c = np.clip(U @ V.T, -1.0, 1.0)
    alpha = np.arccos(c)
    s = np.sqrt(1.0 - c * c)
    ii, jj = np.nonzero(np.abs(c) > NEAR_COS)
    step = max(1, _CHUNK_ELEMENTS // max(1, U.shape[1]))
    for k0 in range(0, len(ii), step):
        i, j = ii[k0:k0 + step], jj[k0:k0 + step]
        a = np.linalg.norm(U[i] - V[j], axis=1)
        b = np.linalg.norm(U[i] + V[j], axis=1)
        al = 2.0 * np.arctan2(a, b)
        alpha[i, j] = al
        c[i, j] = np.cos(al)
        s[i, j] = np.sin(al)
    return alpha, c, s
