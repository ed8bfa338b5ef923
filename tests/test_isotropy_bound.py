"""Tests of theory/isotropy_bound.py (docs/derivations.md section 7): the single-task isotropy
bounds and their steps against the numpy one-step simulation, and that simulation against
sim.pretrain. Single-threaded."""
import math

import numpy as np
import pytest
import torch

from mtlcheck.sim.pretrain import PretrainConfig, pretrain
from mtlcheck.theory import isotropy_bound as IB
from mtlcheck.theory.model import Algorithm, ReferenceModel

torch.set_num_threads(1)


def _mc_quantile_ok(samples, bound, q):
    """The simulated q-quantile must lie below the bound (order statistic, no interpolation)."""
    x = np.sort(np.asarray(samples))
    return x[int(math.ceil(q * len(x))) - 1] <= bound


@pytest.fixture(scope="module")
def single_runs():
    return [IB.single_task_sim(16, 3, 128, 1024, 32, seed=s) for s in range(300)]


def test_single_task_isotropy_bounds_hold(single_runs):
    r, n2, dl = 3, 1024, 0.1
    val, info = IB.single_task_isotropy_tight(r, n2, dl, parts=True)
    stats = [IB.single_task_sim_stats(x) for x in single_runs]
    iso = [s["isotropy"] for s in stats]
    assert _mc_quantile_ok(iso, val, 1 - dl)
    assert _mc_quantile_ok([s["R_Ntilde"] for s in stats], 1 + info["s1"], 1 - IB.ISO_SPLIT * dl)
    assert max(s["ratio_weyl"] for s in stats) <= 1 + 1e-9
    assert max(s["ratio_sigma1"] for s in stats) <= 1 + 1e-9
    cond = [IB.single_task_isotropy_given_head(x["W0"], x["M"], x["a"], x["v"], n2, dl)
            for x in single_runs[:150]]
    assert _mc_quantile_ok(np.array(iso[:150]) / np.array(cond), 1.0, 1 - dl)


def test_single_task_sim_matches_project_pretraining():
    """The numpy single-task simulator and sim.pretrain agree in law (mean isotropy)."""
    a = [IB.single_task_sim_stats(IB.single_task_sim(16, 3, 128, 1024, 32, seed=s))["isotropy"]
         for s in range(60)]
    b = [pretrain(PretrainConfig(ReferenceModel(16, 3), Algorithm(1, 128, 1024, 32), seed=s,
                                 device="cpu", dtype="float64")).metrics()["isotropy"]
         for s in range(60)]
    assert abs(np.mean(a) - np.mean(b)) < 4 * math.hypot(np.std(a), np.std(b)) / math.sqrt(60)
