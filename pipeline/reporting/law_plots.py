"""Plots of a CMR fit (matplotlib, Agg backend): one PNG per domain with four panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_domain(curves, result, path: Path) -> Path:
    """Trajectories with fitted increment laws, L(R) at the budget, T0(R), and R_CMR(T) with the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    ratios = np.array([p.ratio for p in result.ratios])
    t0 = np.array([np.nan if p.t0 is None else p.t0 for p in result.ratios])
    plot_trajectories(
        axes[0, 0], curves, result, plt.cm.viridis(np.linspace(0, 0.9, len(result.ratios)))
    )
    plot_losses_by_ratio(axes[0, 1], result, ratios)
    plot_turnaround(axes[1, 0], result, ratios, t0)
    plot_cmr_law(axes[1, 1], result, ratios, t0)
    fig.suptitle(
        f"{result.domain}: CMR at {result.budget:.3g} tokens, λ={result.lam:g}, ε={result.epsilon:g}"
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_trajectories(ax, curves, result, colours) -> None:
    """ΔL_gen(T) per pilot ratio (every seed, against the fit's reference): measured points, the fitted
    increment law and its turnaround T0."""
    from stages.plan.data.curves import pilots_of
    from stages.plan.laws.power import IncrementLaws

    pilots = pilots_of(curves, result.domain, result.epsilon_reference)
    for row, (point, colour) in enumerate(zip(result.ratios, colours)):
        seen = pilots.weights[row] > 0
        tokens, d_gen = pilots.tokens[row][seen], pilots.d_general[row][seen]
        grid = np.linspace(0, tokens.max(), 200)
        ax.plot(tokens, d_gen, "o", ms=3, color=colour)
        ax.plot(
            grid,
            IncrementLaws(**point.laws).d_general(grid),
            "-",
            color=colour,
            label=f"R={point.ratio:.3g}",
        )
        if point.t0 is not None:
            ax.axvline(point.t0, color=colour, ls=":", lw=0.8)
    ax.axhline(result.epsilon, color="red", ls="--", lw=1, label="ε")
    ax.axvline(result.budget, color="black", ls="--", lw=1, label="budget")
    ax.set(
        title=f"ΔL_gen(T) against the {result.epsilon_reference}: points, Eq. 6 fits, T0 (dotted)",
        xlabel="CPT tokens",
        ylabel="ΔL_gen",
    )
    ax.legend(fontsize=7)


def plot_losses_by_ratio(ax, result, ratios: np.ndarray) -> None:
    """General loss at the budget against the ratio (left axis) and the domain loss law (right axis)."""
    from stages.plan.laws.power import PowerLaw

    grid = np.linspace(ratios.min() / 2, 1, 200)
    ax.plot(ratios, [p.general_loss_at_budget for p in result.ratios], "o", color="C0")
    ax.plot(grid, PowerLaw(**result.general_ratio_law)(grid), color="C0", label="general L(R)")
    if result.baseline_losses:
        ax.axhline(
            result.baseline_losses[0] + result.epsilon, color="red", lw=1, label="L_gen(M) + ε"
        )
    if result.cmr_epsilon is not None:
        ax.axvline(
            result.cmr_epsilon, color="red", ls="--", lw=1, label=f"ε view {result.cmr_epsilon:.3f}"
        )
    ax.set(title="General loss at the budget vs ratio", xlabel="R (domain share)", ylabel="L_gen")
    domain_ax = ax.twinx()
    domain_ax.plot(grid, PowerLaw(**result.domain_ratio_law)(grid), color="C1", label="domain L(R)")
    domain_ax.set_ylabel("L_dom", color="C1")
    ax.legend(fontsize=7, loc="upper left")


def plot_turnaround(ax, result, ratios: np.ndarray, t0: np.ndarray) -> None:
    ax.plot(ratios, t0, "o-")
    ax.axhline(result.budget, color="black", ls="--", lw=1, label="budget")
    ax.set(title="Turnaround T0(R)", xlabel="R", ylabel="T0 (tokens)")
    ax.legend(fontsize=7)


def plot_cmr_law(ax, result, ratios: np.ndarray, t0: np.ndarray) -> None:
    """The fitted R_CMR(T) through the (T0, R) points, and the chosen CMR with its interval at the budget."""
    from stages.plan.laws.power import PowerLaw

    if result.cmr_law is not None:
        law = result.cmr_law
        tokens = np.linspace(0, max(result.budget, np.nanmax(t0)) * 1.2, 300)[1:]
        ax.plot(
            tokens,
            PowerLaw(law["alpha"], law["s"], law["beta"], law["mse"], law["r2"])(
                tokens / law["t_scale"]
            ),
            label=f"R_CMR(T), R² {law['r2']:.2f}",
        )
        ax.plot(t0, ratios, "o", label="(T0, R)")
    ax.axvline(result.budget, color="black", ls="--", lw=1, label="budget")
    if result.cmr is not None:
        label = f"CMR {result.cmr:.3f} ({result.used}, binding {result.binding})"
        ax.plot([result.budget], [result.cmr], "r*", ms=12, label=label)
        if result.ci is not None:
            ax.errorbar(
                [result.budget],
                [result.cmr],
                yerr=[[result.cmr - result.ci[0]], [result.ci[1] - result.cmr]],
                color="red",
                capsize=4,
            )
    reliable = "reliable" if result.reliability.get("reliable") else "UNRELIABLE"
    ax.set(title=f"CMR law ({reliable})", xlabel="CPT tokens", ylabel="R", ylim=(-0.05, 1.05))
    ax.legend(fontsize=7)
