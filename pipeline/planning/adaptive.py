"""Adaptive pilot ratios (``plan.pilots.adaptive``): pilots placed where the CMR is, round by round.

A first round trains a few ratios spread over the range (``plan.pilots.first_ratios``); each later
round trains ``plan.pilots.round_ratios`` ratios inside the current interval of the CMR (bracketing
the crossing), and one past the largest or below the smallest ratio trained when the interval runs
up to it. The loop stops when the interval is narrower than ``plan.pilots.target_width``, when
``plan.pilots.max_pilots`` pilots (ratios × seeds, the R = 0 controls not counted) are spent, or when
every place the interval asks for is already trained.

A pilot that stopped early (``trainer/early_stop.py``: its general loss left the tolerance and kept
climbing) is cut: its curve does not reach the budget, so the fit cannot read it as a full curve.
It is read as what it says, a censored observation: the general-loss change at its ratio ends above
ε, so the crossing lies below it. Its curves stay out of the fit, and the smallest stopped ratio caps
the CMR and its interval.

The interval of an adaptive design is the fixed-design interval (stages/plan/cmr/interval.py) of
the final round's pilots, widened about the plan's value by ``ADAPTIVE_WIDENING``: ratios chosen from
the data and a stop chosen from the interval's own width are not the fixed design that interval
assumes. The factor was calibrated with this loop in the loop, on simulated pilots of the design
families (``bench/bench_pilots.py --synthetic``; the held-out families judge it).

Everything here takes a ``train`` callable (ratios → ``Trained``) and a ``fit`` callable
(curves → ``Estimate``), so the loop runs on simulated pilots in tests and benches; a plan passes
one that trains real pilots (``pipeline/planning/pilots.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from stages.plan.data.curves import MIN_RATIOS

# The widening at which the design families' intervals cover 0.95 of the true CMRs with this loop
# choosing the ratios and stopping at target_width 0.15 (bench/bench_pilots.py --synthetic,
# "calibration"); at 1.15 the stop on a lucky narrow interval covered 0.85 on sqrt_decay.
ADAPTIVE_WIDENING = 1.4


@dataclass(frozen=True)
class AdaptiveDesign:
    """How the rounds are placed and when they stop (``plan.pilots.*``)."""

    first_ratios: tuple[float, ...] = (0.25, 0.5, 0.75)
    round_ratios: int = 2  # ratios per later round
    target_width: float = 0.15  # of the CMR's interval
    max_pilots: int = 12  # ratios × seeds over all rounds
    seeds: int = 2
    min_gap: float = 0.01  # no new ratio this close to one trained
    widening: float = ADAPTIVE_WIDENING


@dataclass
class Trained:
    """What one round of pilots gave: the full-length curves (columns of a pilot-curve CSV), the
    ratios whose pilots stopped early (their curves are cut), and the pilot tokens spent."""

    curves: dict[str, np.ndarray]
    stopped: set[float]
    tokens: float


@dataclass(frozen=True)
class Estimate:
    cmr: float | None
    ci: tuple[float, float]

    @property
    def width(self) -> float:
        return self.ci[1] - self.ci[0]


@dataclass
class Round:
    ratios: list[float]
    estimate: Estimate
    pilots: int  # spent so far, over all rounds
    tokens: float  # spent so far


@dataclass
class AdaptiveRun:
    rounds: list[Round]
    curves: dict[str, np.ndarray]  # every full-length curve
    stopped: set[float] = field(default_factory=set)

    @property
    def estimate(self) -> Estimate:
        return self.rounds[-1].estimate

    @property
    def ratios(self) -> list[float]:
        return sorted(r for round in self.rounds for r in round.ratios)


Train = Callable[[list[float]], Trained]
Fit = Callable[[dict[str, np.ndarray]], Estimate]


def merge(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not a or not a["ratio"].size:
        return b
    if not b["ratio"].size:
        return a
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def full_ratios(curves: dict[str, np.ndarray] | None) -> np.ndarray:
    return np.array([]) if not curves else np.unique(curves["ratio"][curves["ratio"] > 0])


def widened(estimate: Estimate, factor: float) -> Estimate:
    """The interval scaled by ``factor`` about the plan's value, within [0, 1]."""
    if estimate.cmr is None or factor == 1.0:
        return estimate
    low, high = estimate.ci
    centre = estimate.cmr
    return Estimate(
        centre,
        (max(centre - factor * (centre - low), 0.0), min(centre + factor * (high - centre), 1.0)),
    )


def censored(estimate: Estimate, stopped: set[float]) -> Estimate:
    """A stopped pilot's ratio ends above ε: the CMR and its interval lie below the smallest one."""
    if not stopped:
        return estimate
    cap = min(stopped)
    low, high = estimate.ci
    cmr = None if estimate.cmr is None else min(estimate.cmr, cap)
    return Estimate(cmr, (min(low, cap), min(high, cap)))


def local_ratios(ratios: np.ndarray, previous: Estimate | None) -> np.ndarray:
    """The ratios the fit reads: those inside the previous interval and the nearest one past each of
    its ends, at least MIN_RATIOS (the nearest to it); every ratio in the first round. The law-free
    crossing is a quadratic in R, and over a narrower span its misfit is smaller."""
    if previous is None or previous.cmr is None:
        return ratios
    low, high = previous.ci
    inside = (ratios >= low) & (ratios <= high)
    below, above = ratios[ratios < low], ratios[ratios > high]
    keep = set(ratios[inside]) | set(below[-1:]) | set(above[:1])
    for ratio in sorted(ratios, key=lambda r: abs(r - previous.cmr)):
        if len(keep) >= MIN_RATIOS:
            break
        keep.add(ratio)
    return np.array(sorted(keep))


def estimate_of(
    fit: Fit, curves, stopped: set[float], design: AdaptiveDesign, previous: Estimate | None
) -> Estimate:
    """The CMR and its widened, censored interval, fitted on ``local_ratios``; with too few full
    ratios to fit, all that the stopped ratios say: [0, the smallest one]."""
    ratios = full_ratios(curves)
    if ratios.size < MIN_RATIOS:
        return censored(Estimate(None, (0.0, 1.0)), stopped)
    keep = local_ratios(ratios, previous)
    pick = (curves["ratio"] == 0) | np.isin(curves["ratio"], keep)
    estimate = fit({k: v[pick] for k, v in curves.items()})
    if estimate.cmr is not None and estimate.cmr >= ratios[-1] * (1 - 1e-9) and ratios[-1] < 1:
        # Every full ratio ends within ε: the crossing lies above them all, up to the smallest stopped
        # one, and the largest of them is the share known to hold.
        return Estimate(float(ratios[-1]), (float(ratios[-1]), min(stopped, default=1.0)))
    return censored(widened(estimate, design.widening), stopped)


def next_ratios(
    estimate: Estimate, trained: list[float], stopped: set[float], count: int, min_gap: float
) -> list[float]:
    """Up to ``count`` new ratios that bracket the crossing: evenly inside the interval, with one past
    the trained range first when the interval runs up to its edge; none closer than ``min_gap`` to a
    trained ratio."""
    ceiling = min(stopped, default=1.0)
    full = sorted(r for r in trained if r not in stopped)
    low, high = estimate.ci
    wanted = []
    if full and high >= full[-1] - min_gap and full[-1] < ceiling:
        wanted.append((full[-1] + ceiling) / 2)
    if full and low <= full[0] + min_gap:
        wanted.append(full[0] / 2)
    wanted += [low + (high - low) * (i + 1) / (count + 1) for i in range(count)]
    chosen: list[float] = []
    for ratio in wanted:
        ratio = float(np.clip(round(ratio, 4), min_gap, ceiling))
        if all(abs(ratio - r) >= min_gap for r in [*trained, *chosen]) and len(chosen) < count:
            chosen.append(ratio)
    return sorted(chosen)


def adaptive_pilots(
    train: Train, fit: Fit, design: AdaptiveDesign = AdaptiveDesign()
) -> AdaptiveRun:
    """Rounds of pilots until the interval is narrow enough, the budget is spent, or nothing is left
    to place (see the module's doc)."""
    rounds: list[Round] = []
    curves: dict[str, np.ndarray] | None = None
    stopped: set[float] = set()
    pilots, tokens = 0, 0.0
    ratios = list(design.first_ratios)[: design.max_pilots // design.seeds]
    while ratios:
        trained = train(ratios)
        curves, stopped = merge(curves, trained.curves), stopped | trained.stopped
        pilots, tokens = pilots + len(ratios) * design.seeds, tokens + trained.tokens
        estimate = estimate_of(
            fit, curves, stopped, design, rounds[-1].estimate if rounds else None
        )
        rounds.append(Round(ratios, estimate, pilots, tokens))
        if estimate.width <= design.target_width:
            break
        affordable = (design.max_pilots - pilots) // design.seeds
        tried = [r for round in rounds for r in round.ratios]
        ratios = next_ratios(
            estimate, tried, stopped, min(design.round_ratios, affordable), design.min_gap
        )
    assert curves is not None  # the first round always trains
    return AdaptiveRun(rounds, curves, stopped)
