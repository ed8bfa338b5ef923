"""Symbols of the reference model, with the assumptions sympy may use (docs/design.md section 6).

Integers where they count things; every size is positive. ``E_out`` is the out-of-span energy
fraction of docs/model.md section 4 (C1), a number in [0, 1].
"""
from __future__ import annotations

import sympy as sp

d = sp.Symbol("d", positive=True, integer=True)          # input dimension
r = sp.Symbol("r", positive=True, integer=True)          # subspace dimension
T = sp.Symbol("T", positive=True, integer=True)          # number of tasks
n1 = sp.Symbol("n1", positive=True, integer=True)        # head-step samples per task
n2 = sp.Symbol("n2", positive=True, integer=True)        # representation-step samples per task
m = sp.Symbol("m", positive=True, integer=True)          # width
n = sp.Symbol("n", positive=True, integer=True)          # downstream samples
eps = sp.Symbol("epsilon", positive=True)                # target error
delta = sp.Symbol("delta", positive=True)                # failure probability
p = sp.Symbol("p", nonnegative=True)                     # label-flip probability
eta_a = sp.Symbol("eta_a", positive=True)                # head step size
eta_w = sp.Symbol("eta_W", positive=True)                # representation step size
lam = sp.Symbol("lambda", positive=True)                 # ridge penalty of the probe
t = sp.Symbol("t", positive=True)                        # tail parameter of a quantile bound
E_out = sp.Symbol("E_out", nonnegative=True)             # out-of-span energy fraction

#: every model symbol by name
ALL: dict[str, sp.Symbol] = {s.name: s for s in (d, r, T, n1, n2, m, n, eps, delta, p, eta_a,
                                                   eta_w, lam, t, E_out)}
SIZES = (d, r, T, n1, n2, m, n)
