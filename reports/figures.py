"""Figures of a report (matplotlib, PDF): every value from results.json."""
from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"figure.figsize": (5.2, 3.4), "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
         "legend.fontsize": 8, "savefig.bbox": "tight"}


def _mean_se(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1))
    return m, sd / math.sqrt(len(xs))


def _finite(v):
    return v is not None and math.isfinite(v)


def eout_vs_T(c1: dict, path: str) -> None:
    d = c1["details"]
    Ts = sorted(d["E_out_vs_T"], key=int)
    x = [int(T) for T in Ts]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        for key, label, marker in (("E_out_vs_T", f"multi-task (T tasks)", "o"),
                                   ("single_task_E_out_vs_T", "one task repeated T times", "s")):
            ms = [_mean_se(d[key][T]) for T in Ts]
            ax.errorbar(x, [m for m, _ in ms], yerr=[2 * s for _, s in ms], marker=marker,
                        capsize=3, label=label)
        ax.plot(x, [d["prediction_vs_T"][T] for T in Ts], "k--", lw=1,
                label="derived prediction (a), sec. 4")
        ax.set(xscale="log", yscale="log", xlabel="number of pretraining tasks T",
               ylabel=r"$E_{out}(W)$ (out-of-span energy)")
        ax.legend()
        fig.savefig(path)
        plt.close(fig)


def isotropy_spectra(c1: dict, c4: dict | None, path: str) -> None:
    with plt.rc_context({**STYLE, "figure.figsize": (7.2, 3.2)}):
        fig, axes = plt.subplots(1, 2 if c4 else 1, squeeze=False)
        ax = axes[0][0]
        for key, label in (("spectrum_multi", "multi-task"), ("spectrum_single", "one task")):
            spec = c1["details"].get(key)
            if not spec:
                continue
            r = len(spec[0])
            means = [sum(s[k] for s in spec) / len(spec) for k in range(r)]
            lo = [min(s[k] for s in spec) for k in range(r)]
            hi = [max(s[k] for s in spec) for k in range(r)]
            ks = list(range(1, r + 1))
            ax.plot(ks, means, marker="o", label=label)
            ax.fill_between(ks, lo, hi, alpha=0.2)
        ax.set(xlabel="singular value index k", ylabel=r"$\sigma_k(WM)/\sigma_1(WM)$",
               title="C1: spectrum of W M at the largest T", ylim=(0, 1.05))
        ax.legend()
        if c4:
            ax = axes[0][1]
            d = c4["details"]
            ax.hist(d["single_isotropy"], bins=15, range=(0, 1), alpha=0.7, label="one task")
            ax.hist(d["multi_isotropy"], bins=15, range=(0, 1), alpha=0.7, label="multi-task")
            ax.axvline(c4["parameters"]["tau"], color="k", ls="--", lw=1, label=r"threshold $\tau$")
            ax.set(xlabel=r"isotropy $\sigma_r/\sigma_1$ of W M", ylabel="runs",
                   title="C4: isotropy over task draws")
            ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def _complexity(ax, per_d, ci, label, marker):
    ds = sorted(per_d, key=int)
    x = [int(d) for d in ds if _finite(per_d[d])]
    y = [per_d[d] for d in ds if _finite(per_d[d])]
    ax.plot(x, y, marker=marker, label=label)
    lo = [ci[d][0] for d in ds if _finite(per_d[d])]
    hi = [ci[d][1] if _finite(ci[d][1]) else per_d[d] for d in ds if _finite(per_d[d])]
    ax.fill_between(x, lo, hi, alpha=0.2)


def nstar_vs_d(c2: dict, path: str) -> None:
    d = c2["details"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        _complexity(ax, d["n_star"]["pretrained"], d["n_star_ci"]["pretrained"],
                    "ridge probe on pretrained features", "o")
        _complexity(ax, d["n_star"]["raw-linear"], d["n_star_ci"]["raw-linear"],
                    "ridge probe on raw x (control)", "s")
        bd = sorted(d["n_star_bound"], key=int)
        ax.plot([int(k) for k in bd], [d["n_star_bound"][k] for k in bd], "k--", lw=1,
                label="derived d-free bound (sec. 6)")
        ax.set(xscale="log", yscale="log", xlabel="input dimension d",
               ylabel=f"n*(d): samples to test MSE {c2['parameters']['eps']}")
        ax.legend()
        fig.savefig(path)
        plt.close(fig)


def mstar_vs_d(c3: dict, path: str) -> None:
    d = c3["details"]
    eps = c3["parameters"]["eps"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        _complexity(ax, d["m_star"]["pretrained"], d["m_star_ci"]["pretrained"],
                    "pretrained features", "o")
        _complexity(ax, d["m_star"]["random-features"], d["m_star_ci"]["random-features"],
                    "random features (control)", "s")
        ds = sorted(d["m_star_bound"], key=int)
        ax.plot([int(k) for k in ds], [d["m_star_bound"][k] for k in ds], "k--", lw=1,
                label="derived width bound (sec. 6.2)")
        ax.plot([int(k) for k in ds], [math.pi / 2 * (1 - eps) * int(k) for k in ds], "k:", lw=1,
                label="RF lower bound (sec. 8.1)")
        ax.set(xscale="log", yscale="log", xlabel="input dimension d",
               ylabel=f"m*(d): width to population risk {eps}")
        ax.legend()
        fig.savefig(path)
        plt.close(fig)


def c5_rf(c5: dict, path: str) -> None:
    d = c5["details"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        _complexity(ax, d["m_star"]["random-features"], d["m_star_ci"]["random-features"],
                    "random features", "s")
        _complexity(ax, d["m_star"]["pretrained"], d["m_star_ci"]["pretrained"],
                    "pretrained features", "o")
        fits = d.get("fits")
        ds = sorted(d["m_star"]["random-features"], key=int)
        xs = [int(k) for k in ds]
        ys = [d["m_star"]["random-features"][k] for k in ds]
        if fits and all(_finite(y) for y in ys):
            mx = sum(xs) / len(xs)
            lmx = sum(math.log(x) for x in xs) / len(xs)
            ly = sum(math.log(y) for y in ys) / len(ys)
            b = fits["exponential"]["rate_per_unit_d"]
            ax.plot(xs, [math.exp(ly + b * (x - mx)) for x in xs], "k--", lw=1,
                    label=f"exponential fit, R$^2$={fits['exponential']['R2']:.3f}")
            e = fits["power_law"]["exponent"]
            ax.plot(xs, [math.exp(ly + e * (math.log(x) - lmx)) for x in xs], "k:", lw=1,
                    label=f"power-law fit, R$^2$={fits['power_law']['R2']:.3f}")
        ax.set(yscale="log", xlabel="input dimension d",
               ylabel=f"m*(d): width to test MSE {c5['parameters']['eps']}",
               title=r"C5: target sign$(z_1 z_2)$")
        ax.legend()
        fig.savefig(path)
        plt.close(fig)


def error_curves(c2: dict, path: str) -> None:
    d = c2["details"]
    grids = d["n_grid"]
    with plt.rc_context({**STYLE, "figure.figsize": (7.2, 3.2)}):
        fig, axes = plt.subplots(1, 2, sharey=True)
        for ax, model in zip(axes, ("pretrained", "raw-linear")):
            for dd, curve in sorted(d["mean_mse"][model].items(), key=lambda kv: int(kv[0])):
                ax.plot(grids[model][:len(curve)], curve, label=f"d={dd}")
            ax.axhline(c2["parameters"]["eps"], color="k", ls="--", lw=1)
            ax.set(xscale="log", xlabel="downstream samples n",
                   title="pretrained features" if model == "pretrained" else "raw x (control)")
        axes[0].set_ylabel("test MSE of the clipped ridge probe")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def all_figures(results: dict, folder: str) -> list[tuple[str, str]]:
    """Write every figure the results allow; returns [(file, caption)]."""
    os.makedirs(folder, exist_ok=True)
    by = {c["id"]: c for c in results["claims"]}
    out = []

    def fig(name, fn, *args, caption):
        path = os.path.join(folder, name)
        fn(*args, path)
        out.append((name, caption))

    if "C1" in by:
        fig("eout_vs_T.pdf", eout_vs_T, by["C1"], caption=(
            "C1: out-of-span energy $E_{out}$ of the one-step $W_1$ against the number of tasks $T$ "
            "(mean $\\pm$ 2 standard errors over seeds), multi-task against one task repeated, "
            "with the derived prediction (a) of docs/derivations.md section 4 (the analogue of "
            "the paper's Figure 1 on our reference model)."))
        fig("isotropy_spectra.pdf", isotropy_spectra, by["C1"], by.get("C4"), caption=(
            "Left: normalised singular values of $WM$ at the largest $T$ of C1 (mean, band: "
            "min to max over seeds): multi-task training covers all $r$ directions, one task only "
            "one. Right (C4): isotropy over independent task draws, one task against many."))
    if "C2" in by:
        fig("nstar_vs_d.pdf", nstar_vs_d, by["C2"], caption=(
            "C2: downstream samples $n^*(d)$ a ridge probe needs to reach the target test MSE, "
            "on pretrained features and, as the negative control, on raw $x$ (bands: 90\\% "
            "bootstrap intervals); dashed: the derived $d$-free bound of section 6."))
        fig("error_curves.pdf", error_curves, by["C2"], caption=(
            "C2: mean test MSE of the clipped ridge probe against $n$ for each $d$; dashed: the "
            "target level. The pretrained curves do not move with $d$; the raw-$x$ curves shift "
            "right as $d$ grows."))
    if "C3" in by:
        fig("mstar_vs_d.pdf", mstar_vs_d, by["C3"], caption=(
            "C3: width $m^*(d)$ at which the best linear probe reaches the target population "
            "risk ($n\\to\\infty$, exact closed forms), pretrained against random features "
            "(bands: 90\\% bootstrap intervals); dashed: derived width bound (section 6.2); "
            "dotted: the random-feature lower bound $(\\pi/2)(1-\\epsilon)d$ (section 8.1)."))
    if "C5" in by:
        fig("c5_rf.pdf", c5_rf, by["C5"], caption=(
            "C5: width random features need for the target sign$(z_1 z_2)$ against $d$ "
            "(log scale), with exponential and power-law fits; the pretrained model's width is "
            "flat."))
    return out
