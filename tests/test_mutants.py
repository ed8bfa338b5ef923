"""Every deliberate mutant of the algorithm and the theory is caught by the quick checks:
mutation score 100%, and each kill comes from a decision, not a crash."""
import subprocess
import sys

import pytest

from mtlcheck.qa import mutants


def test_apply_and_undo_restore_the_originals():
    """Undo restores every patched object, and no memoised closed form keeps a value computed
    while the mutant was applied (a fresh process: nothing is cached before the first apply)."""
    code = ("from mtlcheck.qa import mutants\n"
            "from mtlcheck.sim import pretrain as PT\n"
            "from mtlcheck.theory import bounds as B\n"
            "before = (PT.head_step, PT.activation, PT.sample_split, PT.run_round)\n"
            "for name in mutants.MUTANTS:\n"
            "    undo = mutants.apply(name)\n"
            "    B.e_out_prediction_fn()(64, 3, 16, 64, 64)\n"
            "    undo()\n"
            "assert (PT.head_step, PT.activation, PT.sample_split, PT.run_round) == before\n"
            "print(B.e_out_prediction_fn()(64, 3, 16, 64, 64), B.derived_constants()['k_ind'])\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    fresh = subprocess.run([sys.executable, "-c", "from mtlcheck.theory import bounds as B\n"
                            "print(B.e_out_prediction_fn()(64, 3, 16, 64, 64), "
                            "B.derived_constants()['k_ind'])"], capture_output=True, text=True,
                           check=True)
    assert p.stdout == fresh.stdout


def test_unknown_mutant_is_a_parameter_error():
    from mtlcheck.theory.params import ParameterError
    with pytest.raises(ParameterError, match="'mutant' parameter of apply"):
        mutants.apply("nope")


@pytest.mark.parametrize("name", list(mutants.MUTANTS))
def test_mutant_is_killed_by_a_decision(name):
    r = mutants.run_mutant(name)
    assert r["killed"], f"mutant {name} survived:\n{r['output_tail']}"
    assert r["how"] and not any(h.startswith("error") for h in r["how"]), r
