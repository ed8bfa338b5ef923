"""The claims C1..C6 of docs/model.md section 4 as frozen dataclasses, and the symbolic test of
d-independence (three-valued: True / False / None = undecided; undecided never passes).

Provenance is one of
  "paper abstract (v5), verbatim: ..." / "paper abstract (v1/v2), verbatim: ..."  - the paper's words;
  "derived here: docs/derivations.md section ..."                                 - our own result;
  "checkable form: docs/model.md section 4"                                            - this project's reading.
Nothing derived here is presented as the paper's theorem.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

from . import symbols as S

__all__ = ["Claim", "CLAIMS", "claim", "independent_of", "bound_admissible", "passes"]

ABSTRACT_V5 = "paper abstract (v5), verbatim: "
ABSTRACT_V1 = "paper abstract (v1/v2), verbatim: "


@dataclass(frozen=True)
class Claim:
    """A checkable claim: what is measured, what a bound may depend on, where it comes from."""

    id: str
    title: str
    statement: str
    provenance: tuple[str, ...]
    bound_symbols: frozenset[str]          # symbols a bound for this claim may depend on
    excluded_symbols: frozenset[str] = frozenset()   # symbols it must not depend on
    statistic: str = ""
    latex: str = ""                        # the statement typeset (reports)

    def as_record(self) -> dict:
        return {"id": self.id, "title": self.title, "statement": self.statement,
                "statement_latex": self.latex,
                "provenance": list(self.provenance),
                "bound_symbols": sorted(self.bound_symbols),
                "excluded_symbols": sorted(self.excluded_symbols)}


_Q_RECOVER = ("a simple gradient-based multitask learning algorithm on a two-layer ReLU NN "
              "recovers this projection")
_Q_COMPLEXITY = ("allowing for generalization to downstream tasks with sample and neuron "
                 "complexity independent of d")
_Q_SINGLE = ("with high probability over the draw of a single task, training on this single "
             "task cannot guarantee to learn all r ground-truth features")
_Q_RF = ("while a random feature model requires exponential complexity in d for such a "
         "guarantee")
_Q_PC = ("multi-task pretraining induces a pseudo-contrastive loss that favors representations "
         "that align points that typically have the same label across tasks")

CLAIMS: tuple[Claim, ...] = (
    Claim("C1", "recovery",
          "Multi-task training puts the energy of W into span(M): E_out(W) = ||W(I - MM^T)||_F^2 "
          "/ ||W||_F^2 falls as T (and n1, n2) grow, and the learned subspace covers all r "
          "directions (isotropy sigma_r(WM)/sigma_1(WM) bounded away from 0).",
          (ABSTRACT_V5 + _Q_RECOVER, "checkable form: docs/model.md section 4 (C1)",
           "derived here: docs/derivations.md section 4 (leading-order E[E_out])"),
          frozenset({"d", "r", "T", "n1", "n2", "m", "delta"}), frozenset(),
          "slope of log E_out against log T; isotropy at the largest T",
          latex='Multi-task training puts the energy of $W$ into $\\mathrm{span}(M)$: $E_{\\mathrm{out}}(W) = \\|W(I - MM^\\top)\\|_F^2 / \\|W\\|_F^2$ falls as $T$ (and $n_1, n_2$) grow, and the learned subspace covers all $r$ directions (isotropy $\\sigma_r(WM)/\\sigma_1(WM)$ bounded away from $0$).'),
    Claim("C2", "downstream sample complexity",
          "The number n*(d, eps) of downstream samples a linear probe on the learned features "
          "needs to reach error eps does not grow with d (pretraining cost may).",
          (ABSTRACT_V5 + _Q_COMPLEXITY, "checkable form: docs/model.md section 4 (C2)",
           "derived here: docs/derivations.md section 6 (d-free probe bound)"),
          frozenset({"epsilon", "delta", "r", "m", "E_out", "lambda", "t", "n"}),
          frozenset({"d"}), "upper confidence bound of the slope of log n* against log d",
          latex='The number $n^*(d, \\epsilon)$ of downstream samples a linear probe on the learned features needs to reach error $\\epsilon$ does not grow with $d$ (pretraining cost may).'),
    Claim("C3", "downstream neuron complexity",
          "The width m*(d, eps) a linear probe on the learned features needs to reach error eps "
          "does not grow with d.",
          (ABSTRACT_V5 + _Q_COMPLEXITY, "checkable form: docs/model.md section 4 (C3)",
           "derived here: docs/derivations.md section 6 (d-free probe bound)"),
          frozenset({"epsilon", "delta", "r", "n", "E_out", "lambda", "t", "m"}),
          frozenset({"d"}), "upper confidence bound of the slope of log m* against log d",
          latex='The width $m^*(d, \\epsilon)$ a linear probe on the learned features needs to reach error $\\epsilon$ does not grow with $d$.'),
    Claim("C4", "single-task failure",
          "With high probability over the draw of the task, one task's training leaves some of "
          "the r directions unlearned (isotropy near 0; downstream tasks along the missed "
          "directions fail).",
          (ABSTRACT_V5 + _Q_SINGLE, "checkable form: docs/model.md section 4 (C4)",
           "derived here: docs/derivations.md section 7 (single-task isotropy)"),
          frozenset({"r", "n1", "n2", "m", "delta"}), frozenset(),
          "lower confidence bound of the fraction of single-task runs that miss a direction",
          latex="With high probability over the draw of the task, one task's training leaves some of the $r$ directions unlearned (isotropy $\\sigma_r(WM)/\\sigma_1(WM)$ near $0$; downstream tasks along the missed directions fail)."),
    Claim("C5", "random features need more",
          "A random-feature model needs a width that grows with d for the downstream guarantee "
          "that the pretrained features meet with d-independent width: for a fixed error eps, "
          "polynomially like d^K(eps), K(eps) the Hermite degree the target must be learned to "
          "(the abstract: 'exponential in d'; the record says which reading the data support).",
          (ABSTRACT_V1 + _Q_RF, "checkable form: docs/model.md section 4 (C5)",
           "derived here: docs/derivations.md section 8 (degree floors and the random-feature "
           "lower bound by Hermite degree)"),
          frozenset({"d", "epsilon", "r"}), frozenset(),
          "lower confidence bound of the exponent of m*_RF in d on the highest degree floor",
          latex=r"A random-feature model needs a width that grows with $d$ for the downstream "
                r"guarantee that the pretrained features meet with $d$-independent width: for a "
                r"fixed error $\epsilon$, polynomially like $d^{K(\epsilon)}$, $K(\epsilon)$ "
                r"the Hermite degree the target must be learned to (the abstract: "
                r"``exponential in $d$''; the record says which reading the data support)."),
    Claim("C6", "pseudo-contrastive mechanism",
          "The representation step after the head step equals a gradient step on the "
          "pseudo-contrastive loss: exactly in the sample-split form, and in population up to "
          "the factor 1/2 from differentiating one side of the pair.",
          (ABSTRACT_V5 + _Q_PC, "checkable form: docs/model.md sections 3 and 4 (C6)",
           "derived here: docs/derivations.md sections 2.8-2.9 and 5"),
          frozenset({"eta_a", "eta_W", "r", "p"}), frozenset(),
          "max relative difference between the two gradients",
          latex="The representation step after the head step equals a gradient step on the pseudo-contrastive loss $L_{\\mathrm{PC}}(W) = -\\mathrm{E}_{x,x'}[K(x,x')\\langle\\sigma(Wx),\\sigma(Wx')\\rangle]$: exactly in the sample-split form, and in population up to the factor $\\frac{1}{2}$ from differentiating one side of the pair."),
)


def claim(cid: str, param: str = "claim", where: str = "claim") -> Claim:
    """The registered claim with this id ('C1'..'C6'); an unknown id is reported as the value of
    parameter ``param`` of ``where``."""
    for c in CLAIMS:
        if c.id == cid:
            return c
    from .params import ParameterError
    raise ParameterError(param, where, "one of {" + ", ".join(repr(c.id) for c in CLAIMS)
                         + "}", cid)


def _sample_point(expr: sp.Expr, rng: random.Random) -> dict:
    """Exact rational values for every free symbol, respecting its assumptions."""
    point = {}
    for s in expr.free_symbols:
        if s.is_integer:
            point[s] = sp.Integer(rng.randint(2, 60))
        elif s.is_positive or s.is_nonnegative:
            point[s] = sp.Rational(rng.randint(1, 97), rng.randint(2, 101))
        else:
            point[s] = sp.Rational(rng.randint(-97, 97), rng.randint(2, 101))
    return point


def independent_of(expr, sym: sp.Symbol = S.d, trials: int = 8, seed: int = 0) -> bool | None:
    """Is ``expr`` free of ``sym``? True / False / None (undecided).

    True when ``sym`` is not a free symbol or sympy simplifies the derivative to 0; False when
    sympy decides the derivative is nonzero, or an exact rational point gives a nonzero exact
    derivative (a certificate); None otherwise. None is never a pass (see :func:`passes`).
    """
    expr = sp.sympify(expr)
    if sym not in expr.free_symbols:
        return True
    deriv = sp.simplify(sp.diff(expr, sym))
    if deriv == 0:
        return True
    if deriv.is_zero is False:
        return False
    rng = random.Random(seed)
    for _ in range(trials):
        val = deriv.subs(_sample_point(deriv, rng))
        val = sp.nsimplify(val) if val.is_number and not val.is_Rational else val
        if val.is_number and val.is_zero is False:
            return False
    return None


def bound_admissible(c: Claim, expr) -> bool | None:
    """Does a bound ``expr`` respect claim ``c``: only allowed symbols, independent of excluded ones?

    False if it uses a symbol outside ``c.bound_symbols`` that it really depends on; the
    three-valued :func:`independent_of` for every excluded symbol otherwise.
    """
    expr = sp.sympify(expr)
    verdicts = []
    for s in expr.free_symbols:
        if s.name in c.excluded_symbols or s.name not in c.bound_symbols:
            verdicts.append(independent_of(expr, s))
    if any(v is False for v in verdicts):
        return False
    if any(v is None for v in verdicts):
        return None
    return True


def passes(verdict: bool | None) -> bool:
    """Only True passes; an undecided (None) symbolic check is never a pass."""
    return verdict is True
