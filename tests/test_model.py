"""The reference model's dataclasses validate on construction and are frozen."""
import dataclasses

import pytest

from mtlcheck.theory.model import (Algorithm, GroundTruth, InputLaw, LabelNoise, ReferenceModel,
                                   TaskFamily)
from mtlcheck.theory.params import ParameterError


def test_reference_model_defaults_and_frozen():
    rm = ReferenceModel(d=16, r=2)
    assert rm.family.name == "halfspace" and rm.noise.p == 0.0
    assert rm.input_law == InputLaw(16) and rm.ground_truth == GroundTruth(16, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rm.d = 3
    assert ReferenceModel(8, 2, family="quadratic", noise=0.1).family == TaskFamily("quadratic")


@pytest.mark.parametrize("ctor, message", [
    (lambda: ReferenceModel(d=2, r=3), "The 'd' parameter of ReferenceModel must be an int >= r=3. Got 2 instead."),
    (lambda: ReferenceModel(d=4, r=0), "The 'r' parameter of ReferenceModel must be an int in [1, d=4]. Got 0 instead."),
    (lambda: GroundTruth(d=0, r=1), "The 'd' parameter of GroundTruth must be an int >= r=1. Got 0 instead."),
    (lambda: TaskFamily("spiral"), "The 'family' parameter of TaskFamily must be one of {'halfspace', 'clusters', 'quadratic'}. Got 'spiral' instead."),
    (lambda: TaskFamily("clusters", n_clusters=1), "The 'n_clusters' parameter of TaskFamily must be an int >= 2. Got 1 instead."),
    (lambda: LabelNoise(0.7), "The 'noise' parameter of LabelNoise must be a finite float in [0, 0.5]. Got 0.7 instead."),
    (lambda: Algorithm(T=0, n1=1, n2=1, m=1), "The 'T' parameter of Algorithm must be an int >= 1. Got 0 instead."),
    (lambda: Algorithm(T=1, n1=1, n2=1, m=1, loss="mse"), "The 'loss' parameter of Algorithm must be one of {'correlation', 'hinge', 'logistic'}. Got 'mse' instead."),
    (lambda: Algorithm(T=1, n1=1, n2=1, m=1, rounds=3), "The 'rounds' parameter of Algorithm(variant='one-step') must be 1. Got 3 instead."),
])
def test_bad_parameters(ctor, message):
    with pytest.raises(ParameterError) as e:
        ctor()
    assert str(e.value) == message


def test_algorithm_weight_decay_default_is_one_step():
    a = Algorithm(T=4, n1=8, n2=8, m=16, eta_w=0.5)
    assert a.effective_weight_decay == 2.0
    b = Algorithm(T=4, n1=8, n2=8, m=16, variant="alternating", rounds=3, weight_decay=0.1)
    assert b.effective_weight_decay == 0.1
