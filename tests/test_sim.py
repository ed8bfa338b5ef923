"""The simulation engine: agreement with theory, single vs multi task, dtypes, determinism."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from mtlcheck.benchmarks.naive import one_step_naive
from mtlcheck.sim import metrics as MET
from mtlcheck.sim.pretrain import PretrainConfig, one_step_from_data, pretrain
from mtlcheck.sim.samplers import FamilySampler, generator, haar, make_target, sphere
from mtlcheck.theory import population as P
from mtlcheck.theory.bounds import e_out_prediction_fn
from mtlcheck.theory.model import Algorithm, ReferenceModel, TaskFamily
from mtlcheck.theory.params import ParameterError


def run(d, r, T, n1, n2, m, seed=0, **kw):
    model_kw = {k: kw.pop(k) for k in ("family", "noise") if k in kw}
    opts = {k: kw.pop(k) for k in ("dtype", "chunk", "device", "sampler") if k in kw}
    return pretrain(PretrainConfig(ReferenceModel(d, r, **model_kw), Algorithm(T, n1, n2, m, **kw),
                                   seed=seed, **opts))


def test_engine_equals_naive_autograd_loop_float64():
    g = torch.Generator().manual_seed(3)
    T, n, d, m = 9, 17, 11, 13
    X1, X2 = torch.randn(T, n, d, generator=g, dtype=torch.float64), torch.randn(T, n + 3, d, generator=g, dtype=torch.float64)
    y1, y2 = torch.sign(torch.randn(T, n, generator=g, dtype=torch.float64)), torch.sign(torch.randn(T, n + 3, generator=g, dtype=torch.float64))
    W0 = torch.randn(m, d, generator=g, dtype=torch.float64)
    for chunk in (1, 4, 9):
        a = one_step_from_data(W0, X1, y1, X2, y2, 0.3, 1.7, chunk=chunk)
        b = one_step_naive(W0, X1, y1, X2, y2, 0.3, 1.7)
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)


def test_one_step_large_n_matches_population_update():
    """With many tasks and samples, W1 -> eta_a eta_W/(2 pi r) W0 M M^T (section 2.9)."""
    res = run(12, 2, 1024, 2048, 2048, 6, seed=1, eta_a=2.0, eta_w=0.5, dtype="float64")
    pop = P.one_step_update(res.W0.numpy(), res.M.numpy(), eta_a=2.0, eta_w=0.5)
    rel = np.linalg.norm(res.W.numpy() - pop) / np.linalg.norm(pop)
    assert rel < 0.12, rel


@pytest.mark.parametrize("d, r, T, n1, n2", [(32, 2, 8, 64, 128), (64, 3, 32, 256, 256)])
def test_one_step_e_out_matches_prediction(d, r, T, n1, n2):
    """Mean E_out over seeds agrees with the leading-order prediction (a) within 4 SE + 5%."""
    vals = np.array([run(d, r, T, n1, n2, 128, seed=s).metrics()["E_out"] for s in range(8)])
    pred = e_out_prediction_fn()(d, r, T, n1, n2)
    se = vals.std(ddof=1) / math.sqrt(len(vals))
    assert abs(vals.mean() - pred) <= 4 * se + 0.05 * pred, (vals.mean(), pred, se)


def test_single_task_isotropy_near_zero_multi_task_grows_with_T():
    single = [run(32, 3, 1, 256, 1024, 128, seed=s).metrics()["isotropy"] for s in range(3)]
    assert max(single) < 0.15, single
    iso = [np.mean([run(32, 3, T, 256, 256, 128, seed=s).metrics()["isotropy"] for s in range(3)])
           for T in (4, 32, 256)]
    assert iso[0] < iso[1] < iso[2] and iso[2] > 0.7, iso
    repeated = run(32, 3, 64, 256, 256, 128, single_task=True).metrics()["isotropy"]
    assert repeated < 0.15


def test_same_seed_identical_and_other_seed_different():
    a, b = run(24, 2, 10, 32, 32, 16, seed=5), run(24, 2, 10, 32, 32, 16, seed=5)
    assert torch.equal(a.W, b.W) and torch.equal(a.M, b.M)
    c = run(24, 2, 10, 32, 32, 16, seed=6)
    assert not torch.equal(a.W, c.W)


def test_chunk_is_recorded_and_only_reorders_draws():
    """The chunk changes the order of the draws (so the numbers), not their law."""
    a = run(24, 2, 10, 32, 32, 16, seed=5, chunk=3)
    assert a.chunk == 3 and run(24, 2, 10, 32, 32, 16, seed=5).chunk == 10
    assert torch.equal(a.W, run(24, 2, 10, 32, 32, 16, seed=5, chunk=3).W)
    e3 = np.mean([run(32, 2, 16, 64, 64, 64, seed=s, chunk=3).metrics()["E_out"] for s in range(6)])
    e16 = np.mean([run(32, 2, 16, 64, 64, 64, seed=s, chunk=16).metrics()["E_out"] for s in range(6)])
    assert abs(e3 - e16) < 0.1 * e16


def test_float32_and_float64_agree():
    a = run(48, 3, 64, 128, 128, 64, seed=2, dtype="float32")
    b = run(48, 3, 64, 128, 128, 64, seed=2, dtype="float64")
    assert torch.allclose(a.W.double(), b.W, rtol=1e-4, atol=1e-6 * float(b.W.abs().max()))
    assert abs(a.metrics()["E_out"] - b.metrics()["E_out"]) < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cpu_and_cuda_agree_statistically():
    cpu = [run(64, 2, 64, 256, 256, 128, seed=s).metrics()["E_out"] for s in range(4)]
    gpu = [run(64, 2, 64, 256, 256, 128, seed=s, device="cuda").metrics()["E_out"] for s in range(4)]
    assert abs(np.mean(cpu) - np.mean(gpu)) < 0.15 * np.mean(cpu)
    g = torch.Generator().manual_seed(0)
    X1, X2 = torch.randn(32, 64, 20, generator=g), torch.randn(32, 64, 20, generator=g)
    y1, y2 = torch.sign(X1[..., 0]), torch.sign(X2[..., 1])
    W0 = torch.randn(16, 20, generator=g)
    a = one_step_from_data(W0, X1, y1, X2, y2)
    b = one_step_from_data(W0.cuda(), X1.cuda(), y1.cuda(), X2.cuda(), y2.cuda()).cpu()
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_alternating_variant_runs_and_reports_rounds():
    res = run(32, 2, 64, 64, 64, 64, variant="alternating", rounds=4, head_steps=2,
              loss="hinge", eta_a=2.0, eta_w=0.3, weight_decay=0.0, row_norm=True)
    assert [h["round"] for h in res.rounds] == [1, 2, 3, 4]
    assert torch.allclose(res.W.norm(dim=1), torch.ones(64), atol=1e-5)
    e = [h["E_out"] for h in res.rounds]
    assert e[-1] < e[0]
    fresh = run(32, 2, 16, 64, 64, 32, variant="alternating", rounds=3, task_pool="fresh",
                loss="logistic", eta_a=2.0, eta_w=0.3, weight_decay=0.0, row_norm=True)
    assert len(fresh.rounds) == 3 and all(np.isfinite(h["E_out"]) for h in fresh.rounds)


@pytest.mark.parametrize("family", ["halfspace", "clusters", "quadratic"])
def test_families_give_pm1_labels_and_learning_enters_span(family):
    gen = generator(0)
    model = ReferenceModel(16, 3, family=TaskFamily(family), noise=0.1)
    fs = FamilySampler(model, gen)
    tasks = fs.sample(5, gen)
    z = torch.randn(5, 100, 3, generator=gen)
    y = tasks.labels(z, gen)
    assert set(torch.unique(y).tolist()) <= {-1.0, 1.0}
    res = run(16, 3, 128, 256, 256, 32, family=TaskFamily(family))
    assert res.metrics()["E_out"] < 0.9  # a random W has E_out = 1 - 3/16 ~ 0.81


def test_clusters_label_is_nearest_centre_label():
    gen = generator(1)
    fs = FamilySampler(ReferenceModel(8, 2, family=TaskFamily("clusters", n_clusters=4)), gen)
    tasks = fs.sample(2, gen)
    z = fs.centers.unsqueeze(0).expand(2, 4, 2) + 1e-3
    assert torch.equal(tasks.clean_labels(z), tasks.params)


def test_metrics_on_known_matrices():
    M = haar(10, 2, generator(0), torch.float64)
    W = torch.cat([M.t(), M.t() * 0.5], 0)        # rows in span(M), directions e1, e2
    assert MET.e_out(W, M) < 1e-20
    assert abs(MET.isotropy(W, M) - 1.0) < 1e-12
    assert max(MET.principal_angles(W, M)) < 1e-6
    W1 = torch.stack([M[:, 0], M[:, 0]])          # misses the second direction
    assert MET.isotropy(W1, M) < 1e-12
    R = sphere(200, 10, generator(1), torch.float64)
    assert abs(MET.e_out(R, M) - 0.8) < 0.1


def test_targets():
    gen = generator(0)
    z = torch.randn(1000, 3, generator=gen)
    assert set(torch.unique(make_target("xor", 3, gen)(z)).tolist()) == {-1.0, 1.0}
    with pytest.raises(ParameterError, match="'target' parameter of make_target"):
        make_target("nope", 3, gen)
    with pytest.raises(ParameterError, match="'r' parameter"):
        make_target("xor", 1, gen)


def test_cli_json_and_errors():
    out = subprocess.run([sys.executable, "-m", "mtlcheck", "sim", "pretrain", "--d", "16", "--r", "2",
                          "--T", "8", "--n1", "32", "--n2", "32", "--m", "16", "--json", "--seed", "3"],
                         capture_output=True, text=True, check=True)
    rec = json.loads(out.stdout)
    for key in ("E_out", "isotropy", "principal_angles", "wall_s", "config"):
        assert key in rec
    assert rec["config"]["seed"] == 3 and rec["config"]["model"]["d"] == 16
    for argv, msg in [(["--d", "2", "--r", "3"], "The 'd' parameter of sim pretrain must be an int >= r=3. Got 2 instead."),
                      (["--d", "8", "--r", "2", "--tasks", "spiral"], "The 'tasks' parameter of sim pretrain must be one of"),
                      (["--d", "8", "--r", "2", "--seed", "1.5"], "The 'seed' parameter of sim pretrain must be an int in [0, 2**63). Got 1.5 instead."),
                      (["--d", "8", "--r", "2", "--dtype", "float16"], "The 'dtype' parameter of sim pretrain must be one of {'float32', 'float64'}. Got 'float16' instead.")]:
        base = ["--T", "2", "--n1", "4", "--n2", "4", "--m", "4"]
        p = subprocess.run([sys.executable, "-m", "mtlcheck", "sim", "pretrain", *argv, *base],
                           capture_output=True, text=True)
        assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


def test_scratch_baseline_learns_with_more_samples():
    """The two-layer net trained from scratch on the downstream task alone (a baseline of
    docs/model.md section 2): its test error falls with n."""
    from mtlcheck.sim.baselines import scratch_curve
    g = generator(4)
    M = haar(8, 2, g, torch.float32)
    c = scratch_curve(M, lambda gg: make_target("halfspace", 2, gg), [16, 512], reps=2,
                      n_test=1000, m=32, gen=g, steps=150)
    err = c["err01"].mean(0)
    assert err[1] < err[0] and err[1] < 0.2, err


def test_bench_cli_small_scale_reports_every_regime():
    """`mtlcheck bench` end to end at 1% of the task counts: every regime is timed against the
    naive loop and the bare GEMMs, and engine and naive agree on the update."""
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "bench", "--repeats", "1", "--scale",
                        "0.01", "--json"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [r["name"] for r in out["regimes"]] == ["few large tasks", "many small tasks", "wide"]
    for r in out["regimes"]:
        # float64 on the same data (bench.py): sums of k n terms err ~1e-15 of max|W1|
        assert r["max_rel_diff"] < 1e-10, r
        for k in ("engine_median_s", "naive_median_s", "gemms_median_s", "peak_gflops"):
            assert r[k] > 0, (k, r)
    assert "GEMMs alone" in p.stderr


def test_neuron_blocks_give_the_same_round():
    """Blocks of neurons (correlation loss) change only the order of work: heads and gradient
    agree with the unblocked round in float64, also for an uneven block and several head steps;
    a blocked round under a loss that couples neurons is refused."""
    from mtlcheck.sim.pretrain import run_round
    g = generator(5)
    T, n, d, m = 6, 20, 7, 30
    X1, X2 = torch.randn(T, n, d, generator=g, dtype=torch.float64), \
        torch.randn(T, n, d, generator=g, dtype=torch.float64)
    y1, y2 = torch.sign(X1[..., 0]), torch.sign(X2[..., 1])
    W = torch.randn(m, d, generator=g, dtype=torch.float64)
    A0 = torch.randn(T, m, generator=g, dtype=torch.float64)
    src = lambda c0, c1: (X1[c0:c1], y1[c0:c1], X2[c0:c1], y2[c0:c1])
    algo = Algorithm(T, n, n, m, head_steps=3, variant="alternating", rounds=2)
    A_full, G_full = run_round(W, A0, T, algo, 4, src, block=m)
    A_blk, G_blk = run_round(W, A0, T, algo, 4, src, block=7)
    torch.testing.assert_close(A_blk, A_full, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(G_blk, G_full, rtol=1e-12, atol=1e-12)
    hinge = Algorithm(T, n, n, m, head_steps=3, variant="alternating", rounds=2, loss="hinge")
    with pytest.raises(ValueError, match="correlation loss"):
        run_round(W, A0, T, hinge, 4, src, block=7)


def _paired_t(kw, seeds=400, drop_perp=False, monkeypatch=None):
    """Per seed (same M, W0, tasks): statistics of W from the projected and the full sampler;
    the largest |paired t| over E_out, |W|_F^2 and <W, W0>."""
    from mtlcheck.sim import pretrain as PT
    if drop_perp:
        monkeypatch.setattr(PT.Projection, "complete", lambda self, Gk, C: Gk @ self.Q.t())
    diffs = []
    for s in range(seeds):
        a, b = (run(12, 2, 8, 20, 20, 4, seed=s, dtype="float64", sampler=smp, **kw)
                for smp in ("projected", "full"))
        stat = lambda r: (MET.summary(r.W, r.M)["E_out"], float((r.W ** 2).sum()),
                          float((r.W * r.W0).sum()))
        diffs.append(np.subtract(stat(a), stat(b)))
    D = np.array(diffs)
    return np.abs(D.mean(0) / (D.std(0, ddof=1) / math.sqrt(len(D)))).max()


@pytest.mark.parametrize("kw", [{}, {"chunk": 3}, {"variant": "alternating", "rounds": 3, "row_norm": True,
                                     "loss": "hinge"}])
def test_projected_sampler_has_the_law_of_the_full_sampler(kw):
    """docs/derivations.md section 13: k = m + r = 6 < d = 12, so the projected sampler is used;
    the paired differences of three statistics of W have mean 0 (|t| < 4 over 400 seeds)."""
    from mtlcheck.sim.pretrain import projection_applies
    assert projection_applies(Algorithm(8, 20, 20, 4), 12, 2)
    assert _paired_t(kw) < 4.0


def test_projected_sampler_without_its_closed_form_part_is_detected(monkeypatch):
    """The negative control of the test above: G without L E P_Q (the orthogonal complement's
    part) is caught by the same statistic."""
    assert _paired_t({}, seeds=100, drop_perp=True, monkeypatch=monkeypatch) > 8.0


def test_projected_sampler_is_not_used_where_it_draws_more():
    res = run(8, 2, 4, 10, 10, 8, seed=1)
    full = run(8, 2, 4, 10, 10, 8, seed=1, sampler="full")
    assert torch.equal(res.W, full.W)
    with pytest.raises(ParameterError, match="sampler"):
        run(8, 2, 4, 10, 10, 8, sampler="half")


def test_prefix_fits_equal_the_one_by_one_fits_with_two_threads():
    """fit_and_score_prefixes (one batched solve) gives fit_and_score's errors for every n; run
    after torch.set_num_threads(2) in a fresh process, where torch 2.13's batched LU on the CPU
    returned invalid pivots (m = 256, the raw-linear probe at d = 256)."""
    code = (
        "import torch\n"
        "torch.set_num_threads(2)\n"
        "from mtlcheck.sim.probes import fit_and_score, fit_and_score_prefixes\n"
        "g = torch.Generator().manual_seed(0)\n"
        "F = torch.randn(1300, 256, generator=g); y = torch.sign(torch.randn(1300, generator=g))\n"
        "ns = [1024, 4, 300, 64]\n"
        "mse, err = fit_and_score_prefixes(F[:1024], y[:1024], ns, F[1024:], y[1024:], 0.1)\n"
        "for k, n in enumerate(ns):\n"
        "    a, b = fit_and_score(F[:n], y[:n], F[1024:], y[1024:], 0.1)\n"
        "    assert abs(a - float(mse[k])) <= 1e-10 * a and b == float(err[k]), (n, a, mse[k])\n"
        "print('ok')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


def test_two_stream_inputs_do_not_depend_on_the_thread_count():
    """Pretraining's inputs come from two generators filled in two threads (sim/samplers.py
    GaussianBuffer): which numbers land where depends on the draw's size only, so one, two and
    three torch threads give the same W (projected and full samplers, draws above and below
    the parallel threshold; float32 GEMMs sum in a thread-dependent order: 1e-7 relative, while
    other draws would move these sums by O(1))."""
    code = (
        "import sys, torch\n"
        "from mtlcheck.sim.pretrain import PretrainConfig, pretrain\n"
        "from mtlcheck.theory.model import Algorithm, ReferenceModel\n"
        "torch.set_num_threads(int(sys.argv[1]))\n"
        "out = []\n"
        "for d, n, smp in ((40, 700, 'projected'), (40, 700, 'full'), (12, 30, 'full')):\n"
        "    r = pretrain(PretrainConfig(ReferenceModel(d, 2), Algorithm(8, n, n, 16), seed=3,\n"
        "                                sampler=smp))\n"
        "    out.append(r.W.double().sum().item()); out.append((r.W ** 2).sum().item())\n"
        "print(repr(out))\n")
    runs = [eval(subprocess.run([sys.executable, "-c", code, str(t)], capture_output=True,
                                text=True, check=True).stdout) for t in (1, 2, 3)]
    for other in runs[1:]:
        assert np.allclose(runs[0], other, rtol=1e-5, atol=0), runs


def test_gaussian_buffer_halves_come_from_their_generators():
    from mtlcheck.sim.samplers import GaussianBuffer, PARALLEL_MIN
    for need in (10, PARALLEL_MIN + 6):
        a, b = generator(5), generator(6)
        x = GaussianBuffer(b)((need,), a).clone()
        h = need // 2
        assert torch.equal(x[:h], torch.randn(h, generator=generator(5)))
        assert torch.equal(x[h:], torch.randn(need - h, generator=generator(6)))


def test_probe_curve_batches_repetitions_without_changing_a_number(monkeypatch):
    """probe_curve fits its repetitions in batches (REP_BATCH_BYTES); one repetition per batch
    gives the same errors (same draws in the same order, same fits up to float64 rounding)."""
    from mtlcheck.sim import probes
    from mtlcheck.sim.samplers import generator, haar, make_target, sphere

    g = generator(3)
    M, W = haar(24, 2, g, torch.float32), sphere(16, 24, g, torch.float32)
    fmap = probes.FeatureMap.network("w", W)
    run = lambda: probes.probe_curve(fmap, M, lambda gg: make_target("halfspace", 2, gg),
                                     [4, 16, 64, 200], 7, 300, 0.1, generator(5))
    batched = run()
    monkeypatch.setattr(probes, "REP_BATCH_BYTES", 1)
    one_by_one = run()
    for key in ("mse", "err01"):
        assert batched[key].shape == (7, 4)
        assert torch.allclose(batched[key], one_by_one[key], rtol=1e-12, atol=1e-14), key


def test_projected_probe_draws_have_the_law_of_full_draws():
    """FeatureMap.projected (docs/derivations.md section 13.4): the Gaussian vector
    (W_n x, M^T x) keeps its covariance exactly (three Gram identities), and the projected and
    unprojected probe curves agree in mean test error within 4 standard errors."""
    from mtlcheck.sim import probes
    from mtlcheck.sim.samplers import generator, haar, make_target, sphere

    g = generator(11)
    d = 40
    M, W = haar(d, 2, g, torch.float64), sphere(8, d, g, torch.float64) * 3.0
    fmap = probes.FeatureMap.network("w", W)
    fq, Mq = fmap.projected(M)
    assert fq.rows.shape == (8, 10) and Mq.shape == (10, 2)
    Wn = fmap.rows
    for a, b in ((fq.rows @ fq.rows.t(), Wn @ Wn.t()), (Mq.t() @ Mq, M.t() @ M),
                 (fq.rows @ Mq, Wn @ M)):
        assert torch.allclose(a, b, atol=1e-12)
    assert probes.FeatureMap.raw(d).projected(M) is None              # raw x: all of x
    assert probes.FeatureMap.network("wide", sphere(39, d, g)).projected(M) is None  # k >= d
    target = lambda gg: make_target("halfspace", 2, gg, torch.float64)
    curve = lambda proj, seed: probes.probe_curve(fmap, M, target, [8, 32], 300, 200, 0.1,
                                                  generator(seed), projected=proj)["mse"]
    a, b = curve(True, 1), curve(False, 2)
    diff = a.mean(0) - b.mean(0)
    se = (a.var(0) / a.shape[0] + b.var(0) / b.shape[0]).sqrt()
    assert (diff.abs() <= 4 * se).all(), (diff, se)
    assert not torch.equal(curve(True, 1), curve(False, 1))          # other draws, same law


def test_probe_bench_times_the_three_ways_on_the_same_work():
    """`mtlcheck bench --probes` (benchmarks/probe_bench.py): per d, the three variants timed,
    the batched curve equal to the per-repetition one, projection used only where m + r < d."""
    from mtlcheck.benchmarks.probe_bench import PROBE_DIMS, run_probe_bench

    rows = run_probe_bench(torch.device("cpu"), 1, 0, lambda msg: None)
    assert [r["d"] for r in rows] == list(PROBE_DIMS)
    for r in rows:
        assert set(r["median_s"]) == {"per repetition, full draws", "batched, full draws",
                                      "batched, projected draws"}
        assert all(t > 0 for t in r["median_s"].values())
        assert r["batched_max_abs_diff"] <= 1e-12
        assert r["projected_applies"] == (r["m"] + 2 < r["d"])
