"""Plots of a CMR fit (matplotlib, Agg backend): one PNG per domain with four panels."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_domain(curves, result, path: Path) -> Path:
    """Trajectories with fitted increment laws, L(R) at the budget, T0(R), and R_CMR(T) with the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stages.plan.laws import IncrementLaws, PowerLaw

    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    rows = curves["domain"] == result.domain
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(result.ratios)))
    traj = axes[0, 0]
    for point, colour in zip(result.ratios, colours):
        pick = rows & (curves["ratio"] == point.ratio)
        base = pick & (curves["tokens"] == 0)
        tokens = curves["tokens"][pick]
        d_gen = curves["general_loss"][pick] - curves["general_loss"][base].mean()
        law = IncrementLaws(**point.laws)
        grid = np.linspace(0, tokens.max(), 200)
        traj.plot(tokens, d_gen, "o", ms=3, color=colour)
        traj.plot(grid, law.d_general(grid), "-", color=colour, label=f"R={point.ratio:.3g}")
        if point.t0 is not None:
            traj.axvline(point.t0, color=colour, ls=":", lw=0.8)
    traj.axhline(result.epsilon, color="red", ls="--", lw=1, label="ε")
    traj.axvline(result.budget, color="black", ls="--", lw=1, label="budget")
    traj.set(title="ΔL_gen(T): points, Eq. 6 fits, T0 (dotted)", xlabel="CPT tokens", ylabel="ΔL_gen")
    traj.legend(fontsize=7)

    ratio_ax = axes[0, 1]
    ratios = np.array([p.ratio for p in result.ratios])
    grid = np.linspace(ratios.min() / 2, 1, 200)
    general = np.array([p.general_loss_at_budget for p in result.ratios])
    ratio_ax.plot(ratios, general, "o", color="C0")
    ratio_ax.plot(grid, PowerLaw(**result.general_ratio_law)(grid), color="C0", label="general L(R)")
    if result.baseline_losses:
        ratio_ax.axhline(result.baseline_losses[0] + result.epsilon, color="red", lw=1, label="L_gen(M) + ε")
    if result.cmr_epsilon is not None:
        ratio_ax.axvline(result.cmr_epsilon, color="red", ls="--", lw=1, label=f"ε view {result.cmr_epsilon:.3f}")
    ratio_ax.set(title="General loss at the budget vs ratio", xlabel="R (domain share)", ylabel="L_gen")
    domain_ax = ratio_ax.twinx()
    domain_ax.plot(grid, PowerLaw(**result.domain_ratio_law)(grid), color="C1", label="domain L(R)")
    domain_ax.set_ylabel("L_dom", color="C1")
    ratio_ax.legend(fontsize=7, loc="upper left")

    t0_ax = axes[1, 0]
    t0 = np.array([np.nan if p.t0 is None else p.t0 for p in result.ratios])
    t0_ax.plot(ratios, t0, "o-")
    t0_ax.axhline(result.budget, color="black", ls="--", lw=1, label="budget")
    t0_ax.set(title="Turnaround T0(R)", xlabel="R", ylabel="T0 (tokens)")
    t0_ax.legend(fontsize=7)

    law_ax = axes[1, 1]
    if result.cmr_law is not None:
        law = result.cmr_law
        tokens = np.linspace(0, max(result.budget, np.nanmax(t0)) * 1.2, 300)[1:]
        law_ax.plot(tokens, PowerLaw(law["alpha"], law["s"], law["beta"], law["mse"], law["r2"])(tokens / law["t_scale"]),
                    label=f"R_CMR(T), R² {law['r2']:.2f}")
        law_ax.plot(t0, ratios, "o", label="(T0, R)")
    law_ax.axvline(result.budget, color="black", ls="--", lw=1, label="budget")
    if result.cmr is not None:
        label = f"CMR {result.cmr:.3f} ({result.used}, binding {result.binding})"
        law_ax.plot([result.budget], [result.cmr], "r*", ms=12, label=label)
        if result.ci is not None:
            law_ax.errorbar([result.budget], [result.cmr], yerr=[[result.cmr - result.ci[0]], [result.ci[1] - result.cmr]],
                            color="red", capsize=4)
    reliable = "reliable" if result.reliability.get("reliable") else "UNRELIABLE"
    law_ax.set(title=f"CMR law ({reliable})", xlabel="CPT tokens", ylabel="R", ylim=(-0.05, 1.05))
    law_ax.legend(fontsize=7)

    fig.suptitle(f"{result.domain}: CMR at {result.budget:.3g} tokens, λ={result.lam:g}, ε={result.epsilon:g}")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
