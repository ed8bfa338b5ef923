"""The declared parameter table and its one message template."""
import numpy as np
import pytest

from mtlcheck.theory.params import PARAMS, ParameterError, check_matrix, check_orthonormal, validate


@pytest.mark.parametrize("kwargs, message", [
    (dict(d=3, r=5), "The 'd' parameter of pretrain must be an int >= r=5. Got 3 instead."),
    (dict(d=10, r=0), "The 'r' parameter of pretrain must be an int in [1, d=10]. Got 0 instead."),
    (dict(d=0), "The 'd' parameter of pretrain must be an int >= 1. Got 0 instead."),
    (dict(d=-4, r=1), "The 'd' parameter of pretrain must be an int >= r=1. Got -4 instead."),
    (dict(T=0), "The 'T' parameter of pretrain must be an int >= 1. Got 0 instead."),
    (dict(n1=-1), "The 'n1' parameter of pretrain must be an int >= 1. Got -1 instead."),
    (dict(m=2.0), "The 'm' parameter of pretrain must be an int >= 1. Got 2.0 instead."),
    (dict(T=True), "The 'T' parameter of pretrain must be an int >= 1. Got True instead."),
    (dict(seed=1.5), "The 'seed' parameter of pretrain must be an int in [0, 2**63). Got 1.5 instead."),
    (dict(seed=-1), "The 'seed' parameter of pretrain must be an int in [0, 2**63). Got -1 instead."),
    (dict(seed="abc"), "The 'seed' parameter of pretrain must be an int in [0, 2**63). Got 'abc' instead."),
    (dict(family="foo"), "The 'family' parameter of pretrain must be one of {'halfspace', "
                         "'clusters', 'quadratic'}. Got 'foo' instead."),
    (dict(device="tpu"), "The 'device' parameter of pretrain must be one of {'auto', 'cpu', "
                         "'cuda'}. Got 'tpu' instead."),
    (dict(profile="slow"), "The 'profile' parameter of pretrain must be one of {'quick', 'full'}. "
                           "Got 'slow' instead."),
    (dict(eps=1.0), "The 'eps' parameter of pretrain must be a finite float in (0, 1). Got 1.0 instead."),
    (dict(noise=0.7), "The 'noise' parameter of pretrain must be a finite float in [0, 0.5]. "
                      "Got 0.7 instead."),
    (dict(eta_a=float("nan")), "The 'eta_a' parameter of pretrain must be a finite float > 0. "
                               "Got nan instead."),
])
def test_messages(kwargs, message):
    with pytest.raises(ParameterError) as e:
        validate("pretrain", **kwargs)
    assert str(e.value) == message
    assert e.value.parameter == message.split("'")[1]


def test_valid_values_pass_and_normalise():
    out = validate("x", d=np.int64(10), r=2, eps=np.float32(0.25), noise=0, family="clusters")
    assert out == {"d": 10, "r": 2, "eps": 0.25, "noise": 0.0, "family": "clusters"}
    assert type(out["d"]) is int and type(out["eps"]) is float


def test_every_declared_parameter_has_doc_and_constraint():
    for name, p in PARAMS.items():
        assert p.doc, name
        assert p.constraint({}), name


def test_unknown_parameter_is_a_type_error():
    with pytest.raises(TypeError):
        validate("x", dee=3)


def test_matrix_checks():
    with pytest.raises(ParameterError, match=r"Got an array of shape \(3,\) instead"):
        check_matrix("W", np.ones(3), "f", "(m, d)")
    with pytest.raises(ParameterError, match="non-finite"):
        check_matrix("W", np.array([[1.0, np.inf]]), "f", "(m, d)")
    with pytest.raises(ParameterError, match=r"orthonormal columns.*Got an array with \|M\^T M - I\|"):
        check_orthonormal("M", np.ones((4, 2)), "f")
    with pytest.raises(ParameterError, match=r"r <= d"):
        check_orthonormal("M", np.ones((2, 3)), "f")
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 2)))
    assert check_orthonormal("M", q, "f").shape == (5, 2)
