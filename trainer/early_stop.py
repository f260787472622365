"""When a pilot may stop early: its general loss has left the tolerance and shows no sign of returning.

The rule reads nothing but the run's own evaluations (tokens, general validation loss; the first at
tokens 0 is the model before training), so the trainer evaluates it after each evaluation and a
simulated pilot evaluates the same function. It fires when the last ``PATIENCE`` evaluations all lie
more than ``rise`` above the first one, past ``after_share`` of the run, and their slope in log
tokens is not negative: a curve that is still climbing late in the run. A curve that has peaked and
turned (the recovering families of forgetting) has a negative slope there and runs on.

``rise`` is in loss units against the model before training. The planner sets it to a multiple of
ε (``plan.pilots.stop_above``); against an R = 0 control that keeps lowering the general loss, a
rise against the base is the smaller of the two, so a stop says at least as much against the control.
"""

from __future__ import annotations

import math

PATIENCE = 3  # evaluations in a row
AFTER_SHARE = 0.25  # of the run's tokens: no stop during the early rise every mixture has


def left_tolerance(
    tokens: list[float],
    general: list[float],
    rise: float,
    run_tokens: float,
    after_share: float = AFTER_SHARE,
) -> bool:
    """True when the run's general loss has risen past ``rise`` for good (see the module's rule)."""
    if rise <= 0 or len(tokens) < PATIENCE + 1 or tokens[0] != 0:
        return False
    last_tokens, last = tokens[-PATIENCE:], general[-PATIENCE:]
    if last_tokens[0] < after_share * run_tokens:
        return False
    if min(last) - general[0] <= rise:
        return False
    logs = [math.log(t) for t in last_tokens]
    mean_log, mean_loss = sum(logs) / PATIENCE, sum(last) / PATIENCE
    slope = sum((u - mean_log) * (v - mean_loss) for u, v in zip(logs, last))
    return slope >= 0
