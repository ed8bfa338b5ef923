"""Baselines (docs/model.md section 2): random features (W at its initialisation), a linear
classifier on raw x (probes.FeatureMap.raw), and a two-layer ReLU net trained from scratch on
the downstream task alone."""
from __future__ import annotations

from typing import Callable

import torch

from ..theory.params import validate
from .pretrain import activation
from .probes import empty_curves, labelled_draws
from .samplers import Target, gaussian, sphere

__all__ = ["scratch_curve"]


def _train_scratch(X: torch.Tensor, y: torch.Tensor, m: int, gen: torch.Generator, steps: int,
                   lr: float, wd: float):
    """Full-batch Adam on the squared loss of a(relu(W x)) with both layers trained."""
    n, d = X.shape
    W = sphere(m, d, gen, X.dtype).requires_grad_(True)
    a = (gaussian((m,), gen, X.dtype) / m ** 0.5).requires_grad_(True)
    opt = torch.optim.Adam([W, a], lr=lr, weight_decay=wd)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = ((activation(X @ W.t()) @ a - y) ** 2).mean()
        loss.backward()
        opt.step()
    return W.detach(), a.detach()


def scratch_curve(M: torch.Tensor, target_sampler: Callable[[torch.Generator], Target],
                  n_grid: list[int], reps: int, n_test: int, m: int, gen: torch.Generator,
                  steps: int = 300, lr: float = 1e-2, wd: float = 1e-4) -> dict:
    """Test errors of a from-scratch two-layer net for each n (same layout as probe_curve)."""
    validate("scratch_curve", reps=reps, n_test=n_test, m=m)
    nmax = max(n_grid)
    mse, err = empty_curves(reps, len(n_grid))
    for rep, (target, X, y) in enumerate(labelled_draws(M, target_sampler, reps, nmax + n_test,
                                                         gen)):
        Xte, yte = X[nmax:], y[nmax:].double()
        for k, n in enumerate(n_grid):
            W, a = _train_scratch(X[:n], y[:n], m, gen, steps, lr, wd)
            raw = (activation(Xte @ W.t()) @ a).double()
            mse[rep, k] = float(((raw.clamp(-1, 1) - yte) ** 2).mean())
            err[rep, k] = float((torch.where(raw >= 0, 1.0, -1.0).double() != yte).double().mean())
    return {"mse": mse, "err01": err}
