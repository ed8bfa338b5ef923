"""The reference model of docs/model.md section 2 as frozen dataclasses.

theory/ and sim/ read the same spec: sim builds samplers and the training loop from it.
Every field is validated against the declared table of :mod:`.params` on construction.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .params import validate

__all__ = ["InputLaw", "GroundTruth", "TaskFamily", "LabelNoise", "Algorithm",
           "ReferenceModel"]


@dataclass(frozen=True)
class InputLaw:
    """x ~ N(0, I_d) (the only input law of the reference model)."""

    d: int
    name: str = "gaussian"

    def __post_init__(self):
        validate("InputLaw", d=self.d)
        if self.name != "gaussian":
            from .params import ParameterError
            raise ParameterError("name", "InputLaw", "one of {'gaussian'}", self.name)


@dataclass(frozen=True)
class GroundTruth:
    """M in R^{d x r} with orthonormal columns, Haar-random; z = M^T x."""

    d: int
    r: int

    def __post_init__(self):
        validate("GroundTruth", d=self.d, r=self.r)


@dataclass(frozen=True)
class LabelNoise:
    """Each label flipped independently with probability p in [0, 1/2] (p = 1/2: pure noise,
    the labels carry no information about x; used as a negative control)."""

    p: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "p", validate("LabelNoise", noise=self.p)["noise"])


@dataclass(frozen=True)
class TaskFamily:
    """How a task's labels depend on z = M^T x.

    - halfspace: v ~ Unif(S^{r-1}), y = sign(<v, z>);
    - clusters: n_clusters fixed centres in z-space; a task is a random +-1 labelling of the
      centres and y is the label of the nearest centre;
    - quadratic: y = sign(z^T Q z) with Q a random symmetric Gaussian matrix.
    """

    name: str = "halfspace"
    n_clusters: int = 8

    def __post_init__(self):
        validate("TaskFamily", family=self.name, n_clusters=self.n_clusters)


@dataclass(frozen=True)
class Algorithm:
    """Hyper-parameters of the alternating algorithm (docs/model.md section 2).

    variant 'one-step': one head step from a_t = 0 on n1 fresh samples, then one representation
    step on n2 fresh samples with weight decay 1/eta_w, so W1 = -eta_w grad.
    variant 'alternating': ``rounds`` rounds of ``head_steps`` head steps then one representation
    step (the "alternating SGD" of the paper's App. F).
    """

    T: int
    n1: int
    n2: int
    m: int
    variant: str = "one-step"
    eta_a: float = 1.0
    eta_w: float = 1.0
    loss: str = "correlation"
    head_steps: int = 1
    rounds: int = 1
    weight_decay: float | None = None     # None: 1/eta_w (the one-step choice)
    row_norm: bool = False
    task_pool: str = "fixed"
    single_task: bool = False

    def __post_init__(self):
        validate("Algorithm", T=self.T, n1=self.n1, n2=self.n2, m=self.m, variant=self.variant,
                 eta_a=self.eta_a, eta_w=self.eta_w, loss=self.loss, head_steps=self.head_steps,
                 rounds=self.rounds, row_norm=self.row_norm, task_pool=self.task_pool,
                 single_task=self.single_task)
        if self.weight_decay is not None:
            validate("Algorithm", weight_decay=self.weight_decay)
        if self.variant == "one-step":
            from .params import ParameterError
            if self.rounds != 1:
                raise ParameterError("rounds", "Algorithm(variant='one-step')", "1", self.rounds)
            if self.head_steps != 1:
                raise ParameterError("head_steps", "Algorithm(variant='one-step')", "1",
                                     self.head_steps)

    @property
    def effective_weight_decay(self) -> float:
        return 1.0 / self.eta_w if self.weight_decay is None else float(self.weight_decay)


@dataclass(frozen=True)
class ReferenceModel:
    """Input law, ground truth, task family and label noise together."""

    d: int
    r: int
    family: TaskFamily = field(default_factory=TaskFamily)
    noise: LabelNoise = field(default_factory=LabelNoise)

    def __post_init__(self):
        validate("ReferenceModel", d=self.d, r=self.r)
        if isinstance(self.family, str):
            object.__setattr__(self, "family", TaskFamily(self.family))
        if isinstance(self.noise, (int, float)):
            object.__setattr__(self, "noise", LabelNoise(self.noise))

    @property
    def input_law(self) -> InputLaw:
        return InputLaw(self.d)

    @property
    def ground_truth(self) -> GroundTruth:
        return GroundTruth(self.d, self.r)

    def to_dict(self) -> dict:
        return asdict(self)
