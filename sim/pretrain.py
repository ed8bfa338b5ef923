"""Multi-task and single-task pretraining of the two-layer ReLU network (docs/model.md section 2).

The hot path works on chunks of tasks with batched GEMMs: for a chunk of c tasks it forms
sigma(X W^T) for c*n samples at once (one GEMM), the heads by a batched reduction, and the
representation gradient as one GEMM coef^T X of size m x (c n) x d, accumulated over chunks.
No Python loop over tasks, and never a T x n x d tensor: only c x n x d at a time. Where
m + r < d a round draws only the k = m + r coordinates Q^T x of each input that it uses and the
rest of the gradient in closed form (exact in law: docs/derivations.md section 13). Under the
correlation loss the neurons of a chunk are further taken in blocks (default_block), so that the
elementwise passes over c n x block pre-activations stay in cache when m is large.

Variants (theory/model.py: Algorithm):
- one-step: heads from zero by one step on n1 fresh samples per task, then one representation
  step on n2 fresh samples per task with weight decay 1/eta_W, so W1 = -eta_W grad;
- alternating: rounds of head_steps head steps then one representation step (correlation,
  hinge or logistic loss; weight decay or row normalisation; a fixed pool of T tasks or fresh
  tasks each round); metrics after every round.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from ..theory.model import Algorithm, ReferenceModel
from ..theory.params import ParameterError, validate
from . import metrics as MET
from .device import describe, resolve_device, resolve_dtype
from .footprint import check_fits, pretrain_bytes
from .samplers import FamilySampler, GaussianBuffer, TaskSet, gaussian, generator, haar, sphere

__all__ = ["PretrainConfig", "PretrainResult", "pretrain", "activation", "activation_grad",
           "default_chunk", "default_block", "run_round", "one_step_from_data", "Projection",
           "projection_applies", "span_basis"]

#: most bytes of working memory per chunk (inputs, pre-activations, coefficients) per device
CHUNK_BYTES = {"cpu": 192 * 2 ** 20, "cuda": 2 * 2 ** 30}
#: sample rows per chunk: on the CPU, rows * max(m, d) of about 4M elements (clamped to 512..4096
#: rows) keep a chunk's elementwise passes in cache and its GEMMs fast, also for the small-K
#: forward GEMM of wide layers (measured with `mtlcheck bench`); a GPU wants many more rows
CHUNK_ROWS = {"cpu": 4096, "cuda": 65536}
CHUNK_ELEMS = {"cpu": 2 ** 22, "cuda": 2 ** 30}
#: neurons per block within a chunk (correlation loss only, where neurons do not interact): the
#: elementwise passes (ReLU, head reduction, 1{z > 0} * a) run over rows x block pre-activations
#: of at most BLOCK_BYTES, which on the CPU keeps them in cache when m is large (the wide regime
#: of `mtlcheck bench`: 4.6 s -> 3.7 s for one step, with 4 MiB blocks); a GPU needs no blocking
BLOCK_BYTES = {"cpu": 4 * 2 ** 20, "cuda": 2 ** 40}


@dataclass(frozen=True)
class PretrainConfig:
    """One pretraining run: the model, the algorithm, and how to run it."""

    model: ReferenceModel
    algo: Algorithm
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    chunk: int | None = None
    #: "projected": draw the k = m + r coordinates of each input that the round uses, and the
    #: rest of the gradient in closed form, when k < d (exact in law, section 13); "full":
    #: draw every input in R^d
    sampler: str = "projected"

    def __post_init__(self):
        validate("pretrain", seed=self.seed, device=self.device, dtype=self.dtype)
        if self.sampler not in ("projected", "full"):
            raise ParameterError("sampler", "PretrainConfig", "'projected' or 'full'",
                                 self.sampler)
        if self.chunk is not None:
            validate("pretrain", chunk=self.chunk)

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "algo": asdict(self.algo), "seed": self.seed,
                "device": self.device, "dtype": self.dtype, "chunk": self.chunk,
                "sampler": self.sampler}


@dataclass
class PretrainResult:
    config: PretrainConfig
    M: torch.Tensor
    W0: torch.Tensor
    W: torch.Tensor
    tasks: TaskSet
    rounds: list = field(default_factory=list)   # metrics after each round
    wall_s: float = 0.0
    device: str = ""
    chunk: int = 0                               # tasks per chunk actually used
    heads: torch.Tensor | None = None            # the heads a_t (T x m) after the last round

    def metrics(self) -> dict:
        return MET.summary(self.W, self.M)


# --- the pieces of one round (module-level so that mutation tests can replace one) ----------

def activation(t: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """sigma = ReLU (in place when asked: the hot path overwrites its GEMM output)."""
    return t.relu_() if inplace else torch.relu(t)


def activation_grad(t: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """sigma'(t) = 1{t > 0} in the dtype of t (in place: t becomes 0/1)."""
    return t.gt_(0) if inplace else (t > 0).to(t.dtype)


def loss_slope(loss: str, y: torch.Tensor, f: torch.Tensor | None) -> torch.Tensor:
    # f is needed (and computed by the callers) for every loss but the correlation loss
    """d l(y, f) / d f for l = correlation (-y f), hinge (max(0, 1 - y f)), logistic."""
    if loss == "correlation":
        return -y
    if loss == "hinge":
        return -y * (y * f < 1).to(y.dtype)
    return -y * torch.sigmoid(-y * f)


def sample_split(tasks: TaskSet, M: torch.Tensor, n1: int, n2: int, gen: torch.Generator,
                 bufs: tuple[GaussianBuffer, GaussianBuffer] | None = None):
    """Fresh, independent samples S1 (head step) and S2 (representation step) for a chunk.
    With ``bufs`` the inputs are drawn into reused storage (:class:`GaussianBuffer`: the numbers
    of :func:`gaussian` unless the buffers draw from a second stream; the returned X1, X2 are
    overwritten by the next call with the same buffers)."""
    c, d = len(tasks), M.shape[0]
    draw1, draw2 = bufs if bufs is not None else (gaussian, gaussian)
    X1 = draw1((c, n1, d), gen, M.dtype)
    y1 = tasks.labels(X1 @ M, gen)
    X2 = draw2((c, n2, d), gen, M.dtype)
    y2 = tasks.labels(X2 @ M, gen)
    return X1, y1, X2, y2


def head_step(H1: torch.Tensor, y1: torch.Tensor, A: torch.Tensor, eta_a: float, loss: str,
              steps: int) -> torch.Tensor:
    """``steps`` gradient steps on the heads A (c x m) with features H1 = sigma(X1 W^T) (c x n1 x m).

    For the correlation loss from A = 0 this is A = eta_a * mean_j y_j sigma(W x_j).
    """
    n1 = H1.shape[1]
    for _ in range(steps):
        f = None
        if loss != "correlation":
            f = torch.bmm(H1, A.unsqueeze(2)).squeeze(2)               # (c, n1)
        g = loss_slope(loss, y1, f)                                    # dl/df, (c, n1)
        A = A - (eta_a / n1) * torch.bmm(g.unsqueeze(1), H1).squeeze(1)
    return A


def representation_coef(Z2: torch.Tensor, y2: torch.Tensor, A: torch.Tensor, loss: str
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """The representation gradient is grad_W = -(1/(T n2)) sum_k s_k (A_t * sigma'(z_k)) x_k^T
    with s_k = -dl/df at sample k. Returns (coef, s): coef = A_t * sigma'(Z2) as a (c*n2) x m
    matrix (computed in place over Z2) and s (c*n2,), to be folded into whichever of coef or X2
    is smaller."""
    c, n2, m = Z2.shape
    if loss == "correlation":
        s = -loss_slope(loss, y2, None)                                # = y2
    else:
        f = torch.bmm(activation(Z2), A.unsqueeze(2)).squeeze(2)
        s = -loss_slope(loss, y2, f)
    coef = activation_grad(Z2, inplace=True)
    coef.mul_(A.unsqueeze(1))
    return coef.reshape(c * n2, m), s.reshape(c * n2)


def default_chunk(algo: Algorithm, d: int, device: torch.device, dtype: torch.dtype) -> int:
    """Tasks per chunk: about min(CHUNK_ROWS, CHUNK_ELEMS / max(m, d)) sample rows (at least
    512), with the working set c * n * (2d + 2m) elements within CHUNK_BYTES."""
    kind = device.type if device.type in CHUNK_ROWS else "cpu"
    n = max(algo.n1, algo.n2)
    elem = torch.finfo(dtype).bits // 8
    per_task = n * (2 * d + 2 * algo.m) * elem
    rows = min(CHUNK_ROWS[kind], max(512, CHUNK_ELEMS[kind] // max(algo.m, d)))
    by_rows = max(1, rows // n)
    by_bytes = max(1, CHUNK_BYTES[kind] // per_task)
    return max(1, min(algo.T, by_rows, by_bytes))


def default_block(algo: Algorithm, chunk: int, device: torch.device, dtype: torch.dtype) -> int:
    """Neurons per block: all m unless the loss is the correlation loss (the only one under which
    neurons do not interact within a round); then at most BLOCK_BYTES of chunk rows x block
    pre-activations, and at least 128 neurons (so the GEMMs keep a useful width)."""
    if algo.loss != "correlation":
        return algo.m
    kind = device.type if device.type in BLOCK_BYTES else "cpu"
    rows = chunk * max(algo.n1, algo.n2)
    elem = torch.finfo(dtype).bits // 8
    return max(1, min(algo.m, max(128, BLOCK_BYTES[kind] // (rows * elem))))


def span_basis(W: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """Q (d x k, k = rows of W + columns of M) with orthonormal columns whose span holds the
    rows of W and the columns of M: the reduced QR factor of [W^T, M] (section 13)."""
    return torch.linalg.qr(torch.cat([W.t(), M], dim=1))[0]


@dataclass
class Projection:
    """Exact projected sampling of a round's inputs (docs/derivations.md section 13): Q (d x k)
    has orthonormal columns whose span holds the rows of W and the columns of M; the source
    yields the coordinates u = Q^T x (k of them, not d), and the part of the gradient from the
    orthogonal complement is drawn at the end of the round as L E (I - Q Q^T), L L^T = C =
    sum coef^T coef, E an m x d standard normal matrix from ``gen``."""

    Q: torch.Tensor
    gen: torch.Generator

    @staticmethod
    def for_round(W: torch.Tensor, M: torch.Tensor, gen: torch.Generator) -> "Projection":
        return Projection(span_basis(W, M), gen)

    def complete(self, Gk: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
        """G = Gk Q^T + L E (I - Q Q^T), the round's gradient accumulator in R^{m x d}."""
        Q = self.Q
        lam, V = torch.linalg.eigh(C.double())
        L = (V * lam.clamp_min(0.0).sqrt()).to(Q.dtype)              # L L^T = C
        E = gaussian((C.shape[0], Q.shape[0]), self.gen, Q.dtype)
        E = E - (E @ Q) @ Q.t()
        return Gk @ Q.t() + L @ E


def projection_applies(algo: Algorithm, d: int, r: int) -> bool:
    """The projected sampler draws k = m + r coordinates per sample instead of d: used where
    that is fewer (section 13)."""
    return algo.m + r < d


def run_round(W: torch.Tensor, A: torch.Tensor, T: int, algo: Algorithm, chunk: int, source,
              block: int | None = None, proj: Projection | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """One round over T tasks in chunks: head steps, then the accumulated representation
    gradient G = sum coef^T X2 (so grad_W = -G / (T n2)). Returns (A_new, G).

    ``source(c0, c1)`` returns (X1, y1, X2, y2) for tasks c0..c1-1: fresh samples in training,
    pre-sampled tensors in the benchmark. Within a chunk, the neurons are processed in blocks
    of ``block`` (default: ``default_block``); blocks other than all m need the correlation loss,
    under which a neuron's head and gradient depend on no other neuron. With ``proj`` the source
    yields the coordinates Q^T x of the samples (section 13): the round runs in R^k, also
    accumulates C = sum coef^T coef, and G is completed by ``proj.complete``.
    """
    Wt = W.t().contiguous() if proj is None else (W @ proj.Q).t().contiguous()
    m, d = W.shape[0], Wt.shape[0]
    G = torch.zeros(m, d, device=W.device, dtype=W.dtype)
    C = torch.zeros(m, m, device=W.device, dtype=W.dtype) if proj is not None else None
    A_new = torch.empty_like(A)
    if block is None:
        block = default_block(algo, chunk, W.device, W.dtype)
    if proj is not None:
        block = m                    # C couples the neurons: no blocks
    if block < m and algo.loss != "correlation":
        raise ValueError("neuron blocks need the correlation loss (other losses couple neurons)")
    for c0 in range(0, T, chunk):
        c1 = min(T, c0 + chunk)
        X1, y1, X2, y2 = source(c0, c1)
        c = c1 - c0
        X1f, X2f = X1.reshape(-1, d), X2.reshape(-1, d)
        X2s = None
        for j0 in range(0, m, block):
            j1 = min(m, j0 + block)
            H1 = activation(X1f @ Wt[:, j0:j1], inplace=True).reshape(c, algo.n1, -1)
            A_c = head_step(H1, y1, A[c0:c1, j0:j1], algo.eta_a, algo.loss, algo.head_steps)
            del H1
            A_new[c0:c1, j0:j1] = A_c
            Z2 = (X2f @ Wt[:, j0:j1]).reshape(c, algo.n2, -1)
            coef, s = representation_coef(Z2, y2, A_c, algo.loss)
            del Z2
            # fold the per-sample factor into the smaller operand (into coef always when
            # projecting: C needs it there)
            if proj is not None or m <= d:
                coef.mul_(s.unsqueeze(1))
                G[j0:j1].addmm_(coef.t(), X2f)
                if proj is not None:
                    C.addmm_(coef.t(), coef)
            else:
                if X2s is None:
                    X2s = X2f * s.unsqueeze(1)
                G[j0:j1].addmm_(coef.t(), X2s)
    if proj is not None:
        G = proj.complete(G, C)
    return A_new, G


def pretrain(cfg: PretrainConfig, progress=None) -> PretrainResult:
    """Run one pretraining configuration; all randomness from ``cfg.seed``.

    Draw order (fixed): M, W0, cluster centres, tasks, on the CPU the seed of the second input
    stream, then per round and chunk S1 then S2 (each input draw: first half from the run's
    generator, second half from the second stream). So a run is determined by (config, seed,
    device, chunk); the chunk actually used is returned
    (``result.chunk``) and defaults to a deterministic function of the config and device.
    """
    device = resolve_device(cfg.device, "pretrain")
    dtype = resolve_dtype(cfg.dtype, "pretrain")
    model, algo = cfg.model, cfg.algo
    d, r = model.d, model.r
    chunk = cfg.chunk or default_chunk(algo, d, device, dtype)
    check_fits(pretrain_bytes(d, r, algo.T, algo.n1, algo.n2, algo.m, chunk,
                              default_block(algo, chunk, device, dtype), dtype),
               device, f"pretraining with d={d}, T={algo.T}, n1={algo.n1}, n2={algo.n2}, m={algo.m}")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    gen = generator(cfg.seed, device)
    M = haar(d, r, gen, dtype)
    W0 = sphere(algo.m, d, gen, dtype)
    family = FamilySampler(model, gen, dtype)

    def draw_tasks():
        if algo.single_task:
            one = family.sample(1, gen)
            return TaskSet(one.family, one.params.expand(algo.T, *one.params.shape[1:]),
                           one.centers, one.noise)
        return family.sample(algo.T, gen)

    tasks = draw_tasks()
    # a chunk's samples are used before the next; on the CPU each draw comes from two streams,
    # the second seeded from the first (after the tasks), filled in two threads
    split = (generator(int(torch.randint(0, 2 ** 62, (1,), generator=gen)))
             if device.type == "cpu" else None)
    bufs = (GaussianBuffer(split), GaussianBuffer(split))
    project = cfg.sampler == "projected" and projection_applies(algo, d, r)
    W = W0.clone()
    A = torch.zeros(algo.T, algo.m, device=device, dtype=dtype)
    wd = algo.effective_weight_decay
    history = []
    for rnd in range(algo.rounds):
        if rnd > 0 and algo.task_pool == "fresh":
            tasks = draw_tasks()
            A.zero_()
        if project:          # section 13: the round's inputs in the coordinates Q^T x
            proj = Projection.for_round(W, M, gen)
            Mr = proj.Q.t() @ M
        else:
            proj, Mr = None, M
        A, G = run_round(W, A, algo.T, algo, chunk,
                         lambda c0, c1: sample_split(tasks.select(c0, c1), Mr, algo.n1, algo.n2,
                                                     gen, bufs), proj=proj)
        # W <- (1 - eta_W wd) W - eta_W grad,  grad = -G / (T n2)
        W = (1.0 - algo.eta_w * wd) * W + (algo.eta_w / (algo.T * algo.n2)) * G
        if algo.row_norm:
            W = W / W.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
        if algo.variant == "alternating":
            history.append({"round": rnd + 1, **MET.summary(W, M)})
            if progress:
                progress(f"round {rnd + 1}/{algo.rounds}: E_out={history[-1]['E_out']:.4g} "
                         f"isotropy={history[-1]['isotropy']:.3g}")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - t0
    return PretrainResult(cfg, M, W0, W, tasks, history, wall, describe(device), chunk, A)


def one_step_from_data(W0: torch.Tensor, X1: torch.Tensor, y1: torch.Tensor, X2: torch.Tensor,
                       y2: torch.Tensor, eta_a: float = 1.0, eta_w: float = 1.0,
                       chunk: int | None = None) -> torch.Tensor:
    """The one-step update on given data X1 (T, n1, d), y1 (T, n1), X2 (T, n2, d), y2 (T, n2):
    W1 = (eta_W / (T n2)) sum_t sum_j y a_t * 1{W0 x > 0} x^T (benchmark entry point)."""
    T, n1, d = X1.shape
    n2 = X2.shape[1]
    algo = Algorithm(T, n1, n2, W0.shape[0], eta_a=eta_a, eta_w=eta_w)
    chunk = chunk or default_chunk(algo, d, W0.device, W0.dtype)
    A = torch.zeros(T, W0.shape[0], device=W0.device, dtype=W0.dtype)
    _, G = run_round(W0, A, T, algo, chunk,
                     lambda c0, c1: (X1[c0:c1], y1[c0:c1], X2[c0:c1], y2[c0:c1]))
    return (eta_w / (T * n2)) * G
