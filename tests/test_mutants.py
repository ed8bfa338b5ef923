"""Every deliberate mutant of the algorithm and the theory is caught by the quick checks
(issues 4 and 7): mutation score 100%, and each kill comes from a decision, not a crash."""
import pytest

from mtlcheck.qa import mutants


def test_apply_and_undo_restore_the_originals():
    from mtlcheck.sim import pretrain as PT
    before = (PT.head_step, PT.activation, PT.sample_split)
    for name in mutants.MUTANTS:
        undo = mutants.apply(name)
        undo()
    assert (PT.head_step, PT.activation, PT.sample_split) == before


def test_unknown_mutant_is_a_parameter_error():
    from mtlcheck.theory.params import ParameterError
    with pytest.raises(ParameterError, match="'mutant' parameter of apply"):
        mutants.apply("nope")


@pytest.mark.parametrize("name", list(mutants.MUTANTS))
def test_mutant_is_killed_by_a_decision(name):
    r = mutants.run_mutant(name)
    assert r["killed"], f"mutant {name} survived:\n{r['output_tail']}"
    assert r["how"] and not any(h.startswith("error") for h in r["how"]), r
