"""Figures of a report (matplotlib, PDF): every value from results.json, read through the typed
views of reports/records.py."""
from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .records import C1Details, ClaimRecord, Curves, Results  # noqa: E402

__all__ = ["all_figures"]

STYLE = {"figure.figsize": (5.2, 3.4), "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
         "legend.fontsize": 8, "savefig.bbox": "tight"}


def _mean_se(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1))
    return m, sd / math.sqrt(len(xs))


def _finite(v):
    return v is not None and math.isfinite(v)


def _save(fig, path):
    fig.savefig(path)
    plt.close(fig)


def eout_vs_T(c1: ClaimRecord, path: str) -> None:
    d = C1Details.of(c1.details)
    Ts = sorted(d.E_out)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        for series, label, marker in ((d.E_out, "multi-task (T tasks)", "o"),
                                      (d.single_E_out, "one task repeated T times", "s")):
            ms = [_mean_se(series[T]) for T in Ts]
            ax.errorbar(Ts, [m for m, _ in ms], yerr=[2 * s for _, s in ms], marker=marker,
                        capsize=3, label=label)
        ax.plot(Ts, [d.prediction[T] for T in Ts], "k--", lw=1,
                label="derived prediction (a), sec. 4")
        ax.set(xscale="log", yscale="log", xlabel="number of pretraining tasks T",
               ylabel=r"$E_{out}(W)$ (out-of-span energy)")
        ax.legend()
        _save(fig, path)


def isotropy_spectra(c1: ClaimRecord, c4: ClaimRecord | None, path: str) -> None:
    d = C1Details.of(c1.details)
    with plt.rc_context({**STYLE, "figure.figsize": (7.2, 3.2)}):
        fig, axes = plt.subplots(1, 2 if c4 else 1, squeeze=False)
        ax = axes[0][0]
        for spec, label in ((d.spectrum_multi, "multi-task"), (d.spectrum_single, "one task")):
            r = len(spec[0])
            ks = list(range(1, r + 1))
            ax.plot(ks, [sum(s[k] for s in spec) / len(spec) for k in range(r)], marker="o",
                    label=label)
            ax.fill_between(ks, [min(s[k] for s in spec) for k in range(r)],
                            [max(s[k] for s in spec) for k in range(r)], alpha=0.2)
        ax.set(xlabel="singular value index k", ylabel=r"$\sigma_k(WM)/\sigma_1(WM)$",
               title="C1: spectrum of W M at the largest T", ylim=(0, 1.05))
        ax.legend()
        if c4:
            ax = axes[0][1]
            for kind, label in (("single", "one task"), ("few", "a few tasks"),
                                ("multi", "many tasks")):
                vals = c4.details.get(f"{kind}_isotropy")
                if vals:
                    ax.hist(vals, bins=15, range=(0, 1), alpha=0.6, label=label)
            ax.axvline(c4.parameters["tau"], color="k", ls="--", lw=1, label=r"threshold $\tau$")
            ax.set(xlabel=r"isotropy $\sigma_r/\sigma_1$ of W M", ylabel="runs",
                   title="C4: isotropy over task draws")
            ax.legend()
        fig.tight_layout()
        _save(fig, path)


def _complexity(ax, curves: Curves, name, label, marker):
    ds = [d for d in curves.ds(name) if _finite(curves.value[name][d])]
    ax.plot(ds, [curves.value[name][d] for d in ds], marker=marker, label=label)
    ci = curves.interval.get(name, {})
    if all(d in ci and _finite(ci[d][0]) for d in ds):
        ax.fill_between(ds, [ci[d][0] for d in ds],
                        [ci[d][1] if _finite(ci[d][1]) else curves.value[name][d] for d in ds],
                        alpha=0.2)


def _growth_figure(claim: ClaimRecord, key, series, bound_label, ylabel, path, extra=None):
    cv = Curves.of(claim.details, key)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        for name, label, marker in series:
            if name in cv.value:
                _complexity(ax, cv, name, label, marker)
        ds = sorted(d for d, v in cv.bound.items() if _finite(v))
        if ds:
            ax.plot(ds, [cv.bound[d] for d in ds], "k--", lw=1, label=bound_label)
        if extra:
            extra(ax, cv)
        ax.set(xscale="log", yscale="log", xlabel="input dimension d", ylabel=ylabel)
        ax.legend()
        _save(fig, path)


def nstar_vs_d(c2: ClaimRecord, path: str) -> None:
    _growth_figure(c2, "n_star", (("pretrained", "ridge probe on pretrained features", "o"),
                                  ("raw-linear", "ridge probe on raw x (control)", "s"),
                                  ("fixed-budget", "pretraining budget fixed (control)", "^")),
                   "derived d-free bound (sec. 6)", f"n*(d): samples to test MSE "
                   f"{c2.parameters['eps']}", path)


def mstar_vs_d(c3: ClaimRecord, path: str) -> None:
    eps = c3.parameters["eps"]

    def rf_bound(ax, cv):
        ds = cv.ds("pretrained")
        ax.plot(ds, [math.pi / 2 * (1 - eps) * d for d in ds], "k:", lw=1,
                label="RF lower bound (sec. 8.1)")

    _growth_figure(c3, "m_star", (("pretrained", "pretrained features", "o"),
                                  ("random-features", "random features (control)", "s"),
                                  ("fixed-budget", "pretraining budget fixed (control)", "^")),
                   "derived width bound (sec. 6.2)", f"m*(d): width to population risk {eps}",
                   path, rf_bound)


def c5_rf(c5: ClaimRecord, path: str) -> None:
    levels = c5.details.get("growth_levels")

    def staircase(ax, cv):
        for lev in levels or []:
            ds = [d for d, v in zip(lev["d"], lev["m_star_rf"]) if _finite(v)]
            if not ds:
                continue
            ys = [v for v in lev["m_star_rf"] if _finite(v)]
            ax.plot(ds, ys, marker="o", label=f"RF, eps={lev['eps']} (K={lev['K']})")
            c = ys[-1] / ds[-1] ** lev["K"]
            ax.plot(ds, [c * d ** lev["K"] for d in ds], "k:", lw=1)

    series = (("random-features", "random features", "s"), ("pretrained", "pretrained", "o"))
    _growth_figure(c5, "m_star", series if not levels else series[1:], "",
                   "m*(d): width needed", path, staircase if levels else None)


def error_curves(c2: ClaimRecord, path: str) -> None:
    d = c2.details
    grids = d["n_grid"]
    with plt.rc_context({**STYLE, "figure.figsize": (7.2, 3.2)}):
        fig, axes = plt.subplots(1, 2, sharey=True)
        for ax, model in zip(axes, ("pretrained", "raw-linear")):
            for dd, curve in sorted(d["mean_mse"][model].items(), key=lambda kv: int(kv[0])):
                ax.plot(grids[model][:len(curve)], curve, label=f"d={dd}")
            ax.axhline(c2.parameters["eps"], color="k", ls="--", lw=1)
            ax.set(xscale="log", xlabel="downstream samples n",
                   title="pretrained features" if model == "pretrained" else "raw x (control)")
        axes[0].set_ylabel("test MSE of the clipped ridge probe")
        axes[0].legend()
        fig.tight_layout()
        _save(fig, path)


CAPTIONS = {
    "eout_vs_T.pdf": ("C1: out-of-span energy $E_{out}$ of the one-step $W_1$ against the number "
                      "of tasks $T$ (mean $\\pm$ 2 standard errors over seeds), multi-task "
                      "against one task repeated, with the derived prediction (a) of "
                      "docs/derivations.md section 4 (the analogue of the paper's Figure 1 on "
                      "our reference model)."),
    "isotropy_spectra.pdf": ("Left: normalised singular values of $WM$ at the largest $T$ of C1 "
                             "(mean, band: min to max over seeds): multi-task training covers all "
                             "$r$ directions, one task only one. Right (C4): isotropy over "
                             "independent task draws for one, a few and many tasks."),
    "nstar_vs_d.pdf": ("C2: downstream samples $n^*(d)$ a ridge probe needs to reach the target "
                       "test MSE (geometric mean over pretraining seeds, bands: 90\\% intervals), "
                       "on pretrained features and on the two controls; dashed: the derived "
                       "$d$-free bound of section 6."),
    "error_curves.pdf": ("C2: mean test MSE of the clipped ridge probe against $n$ for each $d$; "
                         "dashed: the target level. The pretrained curves do not move with $d$; "
                         "the raw-$x$ curves shift right as $d$ grows."),
    "mstar_vs_d.pdf": ("C3: width $m^*(d)$ at which the best linear probe reaches the target "
                       "population risk ($n\\to\\infty$, exact closed forms), pretrained against "
                       "the controls (bands: 90\\% intervals); dashed: derived width bound "
                       "(section 6.2); dotted: the random-feature lower bound "
                       "$(\\pi/2)(1-\\epsilon)d$ (section 8.1)."),
    "c5_rf.pdf": ("C5: width random features need against $d$ (log-log), with dotted lines "
                  "$\\propto d^{K(\\epsilon)}$ for each target error level; the pretrained "
                  "model's width is flat."),
}


def all_figures(res: Results, folder: str, jobs) -> list[tuple[str, str]]:
    """Write the figures ``jobs`` = [(file, builder name, claim id, other claim ids, caption)]
    (each claim's REPORT, resolved by reports/build.py); returns [(file, caption)]."""
    os.makedirs(folder, exist_ok=True)
    by = res.claims
    out = []
    for name, builder, cid, others, caption in jobs:
        globals()[builder](by[cid], *(by.get(o) for o in others), os.path.join(folder, name))
        out.append((name, caption))
    return out
