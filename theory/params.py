"""Declared parameter table and the one validation message template.

Every public function and CLI verb of mtlcheck validates its parameters here (scikit-learn
style, docs/design.md section 6): a bad value raises :class:`ParameterError` whose message is

    The '<name>' parameter of <where> must be <constraint>. Got <value> instead.

Bounds may refer to other parameters by name (``r`` must be ``<= d``); the constraint text then
shows the value it was checked against, e.g. "an int in [1, d=3]".
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["MtlcheckError", "ParameterError", "Param", "PARAMS", "validate", "check_matrix",
           "check_orthonormal", "Described"]

MESSAGE = "The {name!r} parameter of {where} must be {constraint}. Got {value} instead."


class MtlcheckError(Exception):
    """A user-facing failure that is not a parameter range (e.g. a configuration that does not
    fit in memory): the CLI prints it in one line and exits with status 2."""


class ParameterError(ValueError):
    """A parameter value outside its declared range (one line, names parameter, range, value)."""

    def __init__(self, name: str, where: str, constraint: str, value: Any):
        self.parameter = name
        self.where = where
        self.constraint = constraint
        self.value = value
        super().__init__(MESSAGE.format(name=name, where=where, constraint=constraint,
                                        value=repr(value)))


class Described(str):
    """A description of a value (e.g. 'an array of shape (5, 2)'), shown without quotes."""

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Param:
    """One declared parameter: kind ('int', 'float', 'choice', 'bool'), bounds and choices.

    ``low``/``high`` are numbers or the name of another parameter; ``open_low``/``open_high``
    make the bound strict.
    """

    name: str
    kind: str
    low: float | str | None = None
    high: float | str | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple = ()
    doc: str = ""
    fallback_low: float | None = None   # used when ``low`` names a parameter that is not given

    def _bound(self, bound, context: Mapping[str, Any]):
        if isinstance(bound, str):
            if bound in context and context[bound] is not None:
                return bound, context[bound]
            if bound == self.low and self.fallback_low is not None:
                return None, self.fallback_low
            return bound, None
        return None, bound

    def constraint(self, context: Mapping[str, Any] | None = None) -> str:
        context = context or {}
        if self.kind == "choice":
            return "one of {" + ", ".join(repr(c) for c in self.choices) + "}"
        if self.kind == "bool":
            return "a bool"
        noun = "an int" if self.kind == "int" else "a finite float"
        (lname, lval), (hname, hval) = self._bound(self.low, context), self._bound(self.high, context)

        def fmt(name, val):
            if name is None:
                return _num(val)
            return f"{name}={_num(val)}" if val is not None else name

        lo = None if self.low is None else fmt(lname, lval)
        hi = None if self.high is None else fmt(hname, hval)
        if lo is not None and hi is not None:
            left = "(" if self.open_low else "["
            right = ")" if self.open_high else "]"
            return f"{noun} in {left}{lo}, {hi}{right}"
        if lo is not None:
            return f"{noun} {'>' if self.open_low else '>='} {lo}"
        if hi is not None:
            return f"{noun} {'<' if self.open_high else '<='} {hi}"
        return noun

    def check(self, value: Any, where: str, context: Mapping[str, Any] | None = None):
        """Return the normalised value or raise :class:`ParameterError`."""
        context = context or {}
        fail = ParameterError(self.name, where, self.constraint(context), value)
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise fail
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise fail
        if isinstance(value, bool):
            raise fail
        if self.kind == "int":
            if isinstance(value, numbers.Integral):
                value = int(value)
            elif isinstance(value, float) and value.is_integer():
                raise fail  # 3.0 is not an int: refuse rather than silently coerce
            else:
                raise fail
        else:
            if not isinstance(value, numbers.Real):
                raise fail
            value = float(value)
            if not math.isfinite(value):
                raise fail
        _, lval = self._bound(self.low, context)
        _, hval = self._bound(self.high, context)
        if lval is not None and (value < lval or (self.open_low and value == lval)):
            raise fail
        if hval is not None and (value > hval or (self.open_high and value == hval)):
            raise fail
        return value


def _num(v) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    if isinstance(v, float) and v == 2.0 ** 63:
        return "2**63"
    return str(v)


def _p(name, kind, low=None, high=None, **kw) -> tuple[str, Param]:
    return name, Param(name, kind, low, high, **kw)


#: The declared table: every parameter any public function or verb takes.
PARAMS: dict[str, Param] = dict([
    _p("d", "int", "r", None, fallback_low=1, doc="input dimension"),
    _p("r", "int", 1, "d", doc="dimension of the ground-truth subspace span(M)"),
    _p("T", "int", 1, None, doc="number of pretraining tasks"),
    _p("n1", "int", 1, None, doc="samples per task for the head step"),
    _p("n2", "int", 1, None, doc="samples per task for the representation step"),
    _p("m", "int", 1, None, doc="number of hidden neurons (width)"),
    _p("n", "int", 1, None, doc="downstream samples"),
    _p("n_test", "int", 1, None, doc="downstream test samples"),
    _p("eps", "float", 0.0, 1.0, open_low=True, open_high=True, doc="target error"),
    _p("delta", "float", 0.0, 1.0, open_low=True, open_high=True, doc="failure probability"),
    _p("alpha", "float", 0.0, 0.5, open_low=True, open_high=True, doc="false-alarm probability"),
    _p("noise", "float", 0.0, 0.5, doc="label-flip probability p (1/2: labels carry no signal)"),
    _p("eta_a", "float", 0.0, None, open_low=True, doc="head step size"),
    _p("eta_w", "float", 0.0, None, open_low=True, doc="representation step size"),
    _p("weight_decay", "float", 0.0, None, doc="weight decay lambda (one-step: 1/eta_w)"),
    _p("head_steps", "int", 1, None, doc="head steps per round"),
    _p("rounds", "int", 1, None, doc="rounds of the alternating algorithm"),
    _p("n_clusters", "int", 2, None, doc="clusters of the 'clusters' task family"),
    _p("ridge", "float", 0.0, None, open_low=True, doc="ridge penalty of the linear probe"),
    _p("chunk", "int", 1, None, doc="tasks per batched chunk"),
    _p("seed", "int", 0, 2.0 ** 63, open_high=True, doc="random seed"),
    _p("reps", "int", 1, None, doc="repetitions"),
    _p("family", "choice", choices=("halfspace", "clusters", "quadratic"), doc="task family"),
    _p("variant", "choice", choices=("one-step", "alternating"), doc="pretraining algorithm"),
    _p("loss", "choice", choices=("correlation", "hinge", "logistic"), doc="training loss"),
    _p("task_pool", "choice", choices=("fixed", "fresh"), doc="tasks fixed across rounds or fresh"),
    _p("device", "choice", choices=("auto", "cpu", "cuda"), doc="torch device"),
    _p("dtype", "choice", choices=("float32", "float64"), doc="floating-point precision"),
    _p("profile", "choice", choices=("quick", "full"), doc="checks profile"),
    _p("probe", "choice", choices=("ridge", "logistic"), doc="downstream linear head"),
    _p("tasks", "choice", choices=("halfspace", "clusters", "quadratic"),
       doc="task family of pretraining (the CLI's --tasks)"),
    _p("repeats", "int", 1, None, doc="timed repetitions (bench)"),
    _p("scale", "float", 0.0, 1.0, open_low=True, doc="fraction of the benchmark's task counts"),
    _p("executor", "choice", choices=("local", "ray"), doc="where sweep cells run"),
    _p("threads", "int", 1, 4096, doc="torch intra-op threads"),
    _p("max_replicates", "int", 2, None, doc="cap of the claims decided in rounds"),
    _p("rerun", "int", 1, None, doc="cells re-executed per claim (verify --rerun)"),
    _p("budget", "float", 0.0, 604800.0, open_low=True, doc="seconds an audit may spend"),
    _p("single_task", "bool", doc="train every task slot on one task"),
    _p("row_norm", "bool", doc="normalise rows of W after each representation step"),
    _p("biases", "bool", doc="random biases in the downstream features"),
])


def validate(where: str, **values: Any) -> dict[str, Any]:
    """Validate ``values`` (all must be in :data:`PARAMS`); returns them normalised.

    Bounds that refer to other parameters (r <= d) are checked against the given values; r > d
    is reported on 'd' ("must be an int >= r=5").
    """
    unknown = [k for k in values if k not in PARAMS]
    if unknown:
        raise TypeError(f"{where}: no declared parameter {unknown[0]!r}")
    out: dict[str, Any] = {}

    def ref(key: str):
        # a bound that names another parameter uses its validated value, else its raw value
        # when that value passes its own context-free check, else no bound (reported later)
        if key in out:
            return out[key]
        if key in values:
            try:
                return PARAMS[key].check(values[key], where, {})
            except ParameterError:
                return None
        return None

    # 'd' first, so that r > d is reported on 'd' against r (docs/design.md's example message)
    for k in sorted(values, key=lambda k: k != "d"):
        p = PARAMS[k]
        context = {key: ref(key) for key in (p.low, p.high) if isinstance(key, str)}
        out[k] = p.check(values[k], where, context)
    return {k: out[k] for k in values}


def check_matrix(name: str, value: Any, where: str, shape_doc: str, ndim: int = 2,
                 rows: int | None = None, cols: int | None = None):
    """Validate a finite real numpy array of the given rank (and sizes, when given)."""
    import numpy as np

    def fail(got):
        raise ParameterError(name, where, f"a finite real array of shape {shape_doc}",
                             Described(got))

    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        fail(type(value).__name__)
    if arr.ndim != ndim:
        fail(f"an array of shape {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        fail(f"an array of shape {arr.shape}")
    if cols is not None and arr.shape[-1] != cols:
        fail(f"an array of shape {arr.shape}")
    if arr.size == 0 or 0 in arr.shape:
        fail(f"an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        fail("an array with non-finite entries")
    return arr


def check_orthonormal(name: str, value: Any, where: str, d: int | None = None, tol: float = 1e-6):
    """Validate M (d x r, r <= d) with orthonormal columns: ||M^T M - I||_max <= tol (1e-6:
    a float32 M is orthonormal to about 1e-7)."""
    import numpy as np

    M = check_matrix(name, value, where, "(d, r) with r <= d" if d is None else f"({d}, r)",
                     rows=d)
    if M.shape[1] > M.shape[0]:
        raise ParameterError(name, where, "a (d, r) array with r <= d",
                             Described(f"an array of shape {M.shape}"))
    err = float(np.max(np.abs(M.T @ M - np.eye(M.shape[1]))))
    if err > tol:
        raise ParameterError(name, where, f"an array with orthonormal columns (|M^T M - I| <= {tol:g})",
                             Described(f"an array with |M^T M - I| = {err:.3g}"))
    return M
