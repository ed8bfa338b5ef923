"""Downstream evaluation: freeze W, fit a linear head on sigma(W x + b), measure test error.

The ridge probe minimises (1/n) sum_j (y_j - beta . phi_j)^2 + lam |beta|^2 (closed form, solved
in float64). Its predictions are clipped to [-1, 1] (this never changes a sign, so the 0-1 error
is that of the raw predictor, and it is the probe that docs/derivations.md section 6 bounds).
Reported errors: the test squared error of the clipped prediction ("mse") and the test 0-1
error of its sign ("err01").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..theory.params import validate
from .pretrain import activation, span_basis
from .samplers import Target, gaussian

__all__ = ["features", "ridge_fit", "logistic_fit", "FeatureMap", "fit_and_score",
           "fit_and_score_prefixes", "probe_curve",
           "width_curve", "labelled_draws", "empty_curves"]


def features(W: torch.Tensor, X: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """sigma(X W^T + b) for rows of X."""
    Z = X @ W.t()
    if b is not None:
        Z = Z + b
    return activation(Z)


def ridge_fit(F: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """argmin_beta (1/n)|y - F beta|^2 + lam |beta|^2, in float64."""
    F = F.double()
    n, m = F.shape
    G = F.t() @ F / n
    G.diagonal().add_(lam)
    rhs = F.t() @ y.double() / n
    return torch.linalg.solve(G, rhs)


def logistic_fit(F: torch.Tensor, y: torch.Tensor, lam: float, iters: int = 50) -> torch.Tensor:
    """L2-regularised logistic regression by Newton's method (labels +-1), float64."""
    F = F.double()
    y = y.double()
    n, m = F.shape
    beta = torch.zeros(m, dtype=torch.float64, device=F.device)
    for _ in range(iters):
        s = torch.sigmoid(-y * (F @ beta))
        grad = -(F.t() @ (y * s)) / n + 2 * lam * beta
        w = s * (1 - s)
        H = (F.t() * w) @ F / n
        H.diagonal().add_(2 * lam)
        step = torch.linalg.solve(H, grad)
        beta = beta - step
        if float(step.abs().max()) < 1e-10:
            break
    return beta


@dataclass
class FeatureMap:
    """x -> features for the probe: learned / random-feature W (optionally with biases), or raw x."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    width: int
    #: the rows (and biases) of a network map: its features depend on x through rows @ x only
    rows: torch.Tensor | None = None
    biases: torch.Tensor | None = None

    @staticmethod
    def network(name: str, W: torch.Tensor, normalise: bool = True,
                biases: torch.Tensor | None = None) -> "FeatureMap":
        Wn = W / W.norm(dim=1, keepdim=True).clamp_min(1e-30) if normalise else W
        return FeatureMap(name, lambda X: features(Wn, X, biases), W.shape[0], Wn, biases)

    def projected(self, M: torch.Tensor):
        """Exact projected sampling for a probe (docs/derivations.md section 13.4): a network
        map's features depend on x only through rows @ x and the labels through M^T x, so with
        Q (d x k) an orthonormal basis of the span of the rows and of M's columns, x ~ N(0, I_d)
        and Q u, u ~ N(0, I_k), give the same joint law of (features, labels). Returns (the map
        on u, Q^T M) when k = width + r < d, else None (raw x, or nothing to save)."""
        if self.rows is None or self.width + M.shape[1] >= M.shape[0]:
            return None
        dtype = self.rows.dtype
        Q = span_basis(self.rows.double(), M.to(dtype).double()).to(dtype)   # QR in float64
        Wq, b = self.rows @ Q, self.biases
        return (FeatureMap(self.name, lambda U: features(Wq, U, b), self.width, Wq, b),
                (Q.t() @ M.to(dtype)).to(M.dtype))

    @staticmethod
    def raw(d: int) -> "FeatureMap":
        return FeatureMap("raw-linear", lambda X: X, d)


def fit_and_score(Ftr: torch.Tensor, ytr: torch.Tensor, Fte: torch.Tensor, yte: torch.Tensor,
                  lam: float, classification: bool = True, probe: str = "ridge"
                  ) -> tuple[float, float]:
    """Fit the probe on (Ftr, ytr), score on (Fte, yte): (squared error of the clipped
    prediction, 0-1 error of its sign); for regression targets the prediction is not clipped
    and the 0-1 error is NaN."""
    fit = ridge_fit if probe == "ridge" else logistic_fit
    mse, err = _score(Fte, yte, fit(Ftr, ytr, lam).unsqueeze(0), classification)
    return float(mse[0]), float(err[0])


def _score(Fte: torch.Tensor, yte: torch.Tensor, betas: torch.Tensor, classification: bool
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Test errors of the probes ``betas`` (... x K x m, float64), one product: (squared error
    of the clipped prediction, 0-1 error of its sign), CPU float64 tensors of shape ... x K
    (leading dimensions: a batch of repetitions, each with its own Fte, yte); for regression
    targets the prediction is not clipped and the 0-1 error is NaN."""
    raw = Fte.double() @ betas.transpose(-1, -2)          # ... x n_test x K
    yte = yte.double().unsqueeze(-1)
    pred = raw.clamp(-1.0, 1.0) if classification else raw
    mse = ((pred - yte) ** 2).mean(dim=-2).cpu()
    if not classification:
        return mse, torch.full_like(mse, float("nan"))
    return mse, (torch.where(raw >= 0, 1.0, -1.0).double() != yte).double().mean(dim=-2).cpu()


def fit_and_score_prefixes(F: torch.Tensor, y: torch.Tensor, ns: list[int], Fte: torch.Tensor,
                           yte: torch.Tensor, lam: float, classification: bool = True,
                           probe: str = "ridge") -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`fit_and_score` for the fits on the first n rows of (F, y), for every n in ``ns``:
    (mse, err01), float64 tensors of len(ns). The ridge probe is solved for all n at once: the
    Gram matrices of the prefixes are accumulated block by block over the sorted n, the systems
    solved as one batch (Cholesky) and scored with one product (the same fits as
    :func:`fit_and_score` up to float64 rounding: ~1e-13 relative). Leading dimensions of F,
    y, Fte, yte (ridge only) are a batch of independent repetitions: results ... x len(ns).
    Other probes are fitted one n at a time."""
    K = len(ns)
    if probe != "ridge":
        errs = [fit_and_score(F[:n], y[:n], Fte, yte, lam, classification, probe) for n in ns]
        return tuple(torch.tensor(col, dtype=torch.float64) for col in zip(*errs))
    F = F.double()
    y = y.double().unsqueeze(-1)                          # ... x n x 1
    batch, m = F.shape[:-2], F.shape[-1]
    order = sorted(range(K), key=lambda k: ns[k])
    G = torch.empty(*batch, K, m, m, dtype=torch.float64, device=F.device)
    rhs = torch.empty(*batch, K, m, dtype=torch.float64, device=F.device)
    g = torch.zeros(*batch, m, m, dtype=torch.float64, device=F.device)
    r = torch.zeros(*batch, m, 1, dtype=torch.float64, device=F.device)
    lo = 0
    for k in order:
        n = ns[k]
        if n > lo:
            blk = F[..., lo:n, :]
            bt = blk.transpose(-1, -2)
            g = g + bt @ blk
            r = r + bt @ y[..., lo:n, :]
            lo = n
        G[..., k, :, :] = g / n
        rhs[..., k, :] = r[..., 0] / n
    G.diagonal(dim1=-2, dim2=-1).add_(lam)
    # Cholesky, not torch.linalg.solve: G is positive definite (lam > 0), and torch 2.13's CPU
    # build (MKL) returns invalid pivots from a batched LU after torch.set_num_threads(2)
    # ("Pivots given to lu_solve must all be >= 1", DLASWP errors), measured on this machine
    L, info = torch.linalg.cholesky_ex(G)
    if int(info.max()) == 0:
        beta = torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)   # ... x K x m
    else:                                    # not numerically positive definite: one by one
        Gf, rf = G.reshape(-1, m, m), rhs.reshape(-1, m)
        beta = torch.stack([torch.linalg.solve(Gf[i], rf[i])
                            for i in range(Gf.shape[0])]).reshape(rhs.shape)
    return _score(Fte, yte, beta, classification)


#: the most bytes of float64 features a batch of probe-curve repetitions holds (CPU)
REP_BATCH_BYTES = 64 * 2 ** 20


def labelled_draws(M: torch.Tensor, target_sampler: Callable[[torch.Generator], Target],
                   reps: int, n_rows: int, gen: torch.Generator):
    """For each repetition: a fresh target, n_rows Gaussian inputs X and their labels, drawn in
    this order from ``gen`` (the error curves' shared sampling loop)."""
    for _ in range(reps):
        target = target_sampler(gen)
        X = gaussian((n_rows, M.shape[0]), gen, M.dtype)
        yield target, X, target(X @ M)


def empty_curves(reps: int, points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mse, err01) tensors of shape reps x points, float64, to be filled."""
    mse = torch.empty(reps, points, dtype=torch.float64)
    return mse, torch.empty_like(mse)


def probe_curve(fmap: FeatureMap, M: torch.Tensor, target_sampler: Callable[[torch.Generator], Target],
                n_grid: list[int], reps: int, n_test: int, lam: float, gen: torch.Generator,
                probe: str = "ridge", projected: bool = True) -> dict:
    """Test errors of the probe for every n in ``n_grid`` and every repetition.

    Each repetition draws a fresh target, max(n_grid) training and n_test test samples; the fit
    with n samples uses the first n. With ``projected`` (default) a network map whose width + r
    is below d draws the inputs' k = width + r coordinates that its features and the labels
    read (FeatureMap.projected: the same law, other numbers than projected=False). Returns
    {"mse": reps x len(n_grid), "err01": ...} (CPU float64 tensors).
    """
    validate("probe_curve", reps=reps, n_test=n_test, ridge=lam, probe=probe)
    for n in n_grid:
        validate("probe_curve", n=n)
    nmax = max(n_grid)
    mse, err = empty_curves(reps, len(n_grid))
    proj = fmap.projected(M) if projected else None
    if proj is not None:                  # draws in k < d coordinates, exact in law
        fmap, M = proj
    draws = labelled_draws(M, target_sampler, reps, nmax + n_test, gen)
    # the repetitions' features in batches (same draws, in the same order); a ridge batch is
    # fitted and scored at once (fewer, larger products), other probes one repetition at a time
    per = (max(1, REP_BATCH_BYTES // ((nmax + n_test) * fmap.width * 8)) if probe == "ridge"
           else 1)
    rep = 0
    while rep < reps:
        batch = []
        for _ in range(min(per, reps - rep)):       # features at once: X is not kept
            t, X, yy = next(draws)
            batch.append((t, fmap.fn(X), yy))
        kinds = {t.classification for t, _, _ in batch}
        F = torch.stack([f for _, f, _ in batch])
        y = torch.stack([yy for _, _, yy in batch])
        if probe == "ridge" and len(kinds) == 1:
            sl = slice(rep, rep + len(batch))
            mse[sl], err[sl] = fit_and_score_prefixes(F[:, :nmax], y[:, :nmax], n_grid,
                                                      F[:, nmax:], y[:, nmax:], lam,
                                                      kinds.pop())
        else:                         # another probe, or mixed target kinds: one at a time
            for i, (t, _, _) in enumerate(batch):
                mse[rep + i], err[rep + i] = fit_and_score_prefixes(
                    F[i, :nmax], y[i, :nmax], n_grid, F[i, nmax:], y[i, nmax:], lam,
                    t.classification, probe)
        rep += len(batch)
    return {"mse": mse, "err01": err}


def width_curve(W: torch.Tensor, M: torch.Tensor,
                target_sampler: Callable[[torch.Generator], Target], widths: list[int], n: int,
                reps: int, n_test: int, lam: float, gen: torch.Generator) -> dict:
    """Test errors of the ridge probe on the first m rows of W (unit-normalised), for every m in
    ``widths``, with n training samples; features computed once for the largest width."""
    validate("width_curve", reps=reps, n=n, n_test=n_test, ridge=lam)
    Wn = W[:max(widths)]
    Wn = Wn / Wn.norm(dim=1, keepdim=True).clamp_min(1e-30)
    mse, err = empty_curves(reps, len(widths))
    for rep, (target, X, y) in enumerate(labelled_draws(M, target_sampler, reps, n + n_test, gen)):
        F = features(Wn, X)
        for k, m in enumerate(widths):
            mse[rep, k], err[rep, k] = fit_and_score(F[:n, :m], y[:n], F[n:, :m], y[n:], lam,
                                                     target.classification)
    return {"mse": mse, "err01": err}
