"""Samplers driven by an explicit torch.Generator (never the global RNG state).

Gaussian inputs, Haar M, uniform directions, and the task families of docs/model.md section 2:
halfspace (+ label noise), random +-1 labelings of clusters in z-space, and the sign of a random
quadratic form in z. Any function g(z) can serve as a downstream target (:class:`Target`).
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import torch

from ..theory.model import ReferenceModel

__all__ = ["generator", "gaussian", "GaussianBuffer", "uniform", "haar", "sphere", "TaskSet", "FamilySampler", "Target",
           "make_target"]


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def gaussian(shape, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """Standard normals, drawn in float32 and then cast, so that float32 and float64 runs of one
    seed see the same samples (the dtype changes the arithmetic only)."""
    x = torch.randn(*shape, generator=gen, device=gen.device, dtype=torch.float32)
    return x if dtype == torch.float32 else x.to(dtype)


#: draws of at least this many numbers are split between two threads (GaussianBuffer)
PARALLEL_MIN = 1 << 16


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """One worker thread for the second half of a split draw (torch releases the GIL)."""
    return ThreadPoolExecutor(1, thread_name_prefix="mtlcheck-rng")


class GaussianBuffer:
    """:func:`gaussian` into reused storage, without allocating and first touching a new tensor
    per draw (on CPU that was 40% of the time of a draw of pretraining's size). A draw is a view
    of the storage, valid until the next draw from this buffer.

    With ``split`` (a second CPU generator) the first half of each draw comes from ``gen`` and
    the second half from ``split``, the halves filled at once in two threads: the CPU generator
    is sequential, and it was half of pretraining's time on this 2-core machine (two streams:
    11.6 -> 6.2 ms for 3.3M numbers). Which numbers land where depends only on the draw's size,
    never on the thread count or the timing, so a run stays determined by its seed."""

    def __init__(self, split: torch.Generator | None = None):
        self._store: torch.Tensor | None = None
        self._split = split

    def __call__(self, shape, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
        need = 1
        for k in shape:
            need *= int(k)
        s = self._store
        if s is None or s.numel() < need or s.device != gen.device:
            s = self._store = torch.empty(need, device=gen.device, dtype=torch.float32)
        x = s[:need]
        if self._split is None:
            x.normal_(generator=gen)
        else:
            h = need // 2
            if need >= PARALLEL_MIN:
                job = _pool().submit(x[h:].normal_, generator=self._split)
                x[:h].normal_(generator=gen)
                job.result()
            else:
                x[:h].normal_(generator=gen)
                x[h:].normal_(generator=self._split)
        x = x.view(*shape)
        return x if dtype == torch.float32 else x.to(dtype)


def uniform(shape, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """Uniform(0, 1) draws, float32 then cast (as :func:`gaussian`)."""
    x = torch.rand(*shape, generator=gen, device=gen.device, dtype=torch.float32)
    return x if dtype == torch.float32 else x.to(dtype)


def haar(d: int, r: int, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """M in R^{d x r} with orthonormal columns, Haar-distributed (QR with sign correction)."""
    g = gaussian((d, r), gen, torch.float64)
    q, rr = torch.linalg.qr(g)
    diag = torch.diagonal(rr)
    q = q * torch.where(diag < 0, -1.0, 1.0).to(q.dtype)
    return q.to(dtype)


def sphere(k: int, dim: int, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """k rows uniform on S^{dim-1}."""
    g = gaussian((k, dim), gen, dtype)
    return g / g.norm(dim=1, keepdim=True)


def _sign(t: torch.Tensor) -> torch.Tensor:
    """sign with sign(0) = +1 (a measure-zero event for continuous inputs)."""
    return torch.where(t >= 0, 1.0, -1.0).to(t.dtype)


@dataclass
class TaskSet:
    """Parameters of a set of tasks of one family; ``labels(z)`` for z of shape (c, n, r)."""

    family: str
    params: torch.Tensor          # halfspace (c, r); clusters (c, K) signs; quadratic (c, r, r)
    centers: torch.Tensor | None  # clusters only (K, r)
    noise: float

    def __len__(self) -> int:
        return self.params.shape[0]

    def select(self, i0: int, i1: int) -> "TaskSet":
        return TaskSet(self.family, self.params[i0:i1], self.centers, self.noise)

    def clean_labels(self, z: torch.Tensor) -> torch.Tensor:
        if self.family == "halfspace":
            return _sign(torch.einsum("cnr,cr->cn", z, self.params))
        if self.family == "clusters":
            # nearest centre in z-space, then that centre's +-1 label in each task
            dist = (z.unsqueeze(2) - self.centers).pow(2).sum(-1)   # (c, n, K)
            idx = dist.argmin(dim=2)
            return torch.gather(self.params, 1, idx)
        # quadratic: sign(z^T Q z)
        return _sign(torch.einsum("cnr,crs,cns->cn", z, self.params, z))

    def labels(self, z: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        y = self.clean_labels(z)
        if self.noise > 0:
            flip = uniform(y.shape, gen, y.dtype) < self.noise
            y = torch.where(flip, -y, y)
        return y


class FamilySampler:
    """Draws tasks of the model's family. Cluster centres are drawn once, at construction."""

    def __init__(self, model: ReferenceModel, gen: torch.Generator, dtype=torch.float32):
        self.model = model
        self.dtype = dtype
        self.family = model.family.name
        self.noise = float(model.noise.p)
        r = model.r
        self.centers = (gaussian((model.family.n_clusters, r), gen, dtype)
                        if self.family == "clusters" else None)

    def sample(self, T: int, gen: torch.Generator) -> TaskSet:
        r = self.model.r
        if self.family == "halfspace":
            params = sphere(T, r, gen, self.dtype)
        elif self.family == "clusters":
            K = self.centers.shape[0]
            params = _sign(gaussian((T, K), gen, self.dtype))
        else:
            g = gaussian((T, r, r), gen, self.dtype)
            params = (g + g.transpose(1, 2)) / 2
        return TaskSet(self.family, params, self.centers, self.noise)


@dataclass
class Target:
    """A downstream target y = g(z) (classification +-1 or regression), for any g."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    classification: bool = True

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)


def make_target(name: str, r: int, gen: torch.Generator, dtype=torch.float32) -> Target:
    """'halfspace' (fresh v), 'xor' (sign(z1 z2)), 'relu' (relu(v.z), regression)."""
    if name == "halfspace":
        v = sphere(1, r, gen, dtype)[0]
        return Target("halfspace", lambda z: _sign(z @ v))
    if name == "xor":
        if r < 2:
            from ..theory.params import ParameterError
            raise ParameterError("r", "make_target('xor')", "an int >= 2", r)
        return Target("xor", lambda z: _sign(z[..., 0] * z[..., 1]))
    if name == "relu":
        v = sphere(1, r, gen, dtype)[0]
        return Target("relu", lambda z: torch.relu(z @ v), classification=False)
    from ..theory.params import ParameterError
    raise ParameterError("target", "make_target", "one of {'halfspace', 'xor', 'relu'}", name)
