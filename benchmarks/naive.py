"""The naive reference implementation: a Python loop over tasks, autograd for every gradient.

This is the way most paper code is written; `mtlcheck bench` times the engine against it on
the same pre-sampled data. Written here for the benchmark (not adapted from any repository).
"""
from __future__ import annotations

import torch


def one_step_naive(W0: torch.Tensor, X1: torch.Tensor, y1: torch.Tensor, X2: torch.Tensor,
                   y2: torch.Tensor, eta_a: float = 1.0, eta_w: float = 1.0) -> torch.Tensor:
    """One-step update: per task, the head by autograd of the correlation loss at a = 0, then
    the representation gradient of the mean loss by autograd, weight decay 1/eta_W."""
    T = X1.shape[0]
    m = W0.shape[0]
    heads = []
    for t in range(T):
        a = torch.zeros(m, dtype=W0.dtype, device=W0.device, requires_grad=True)
        loss = -(y1[t] * (torch.relu(X1[t] @ W0.t()) @ a)).mean()
        (g,) = torch.autograd.grad(loss, a)
        heads.append((-eta_a * g).detach())
    W = W0.clone().requires_grad_(True)
    grad = torch.zeros_like(W0)
    for t in range(T):
        loss = -(y2[t] * (torch.relu(X2[t] @ W.t()) @ heads[t])).mean() / T
        (g,) = torch.autograd.grad(loss, W)
        grad += g
    # W1 = (1 - eta_W * (1/eta_W)) W0 - eta_W grad
    return -eta_w * grad
