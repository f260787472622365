"""Learning rate as a function of tokens seen in a phase: ``lr_at(segment, tokens, phase_tokens, start_lr)``.

Schedules are functions of tokens (not steps) so that a curriculum means the same thing at any
batch size. ``start_lr`` is where warmup begins: 0, or the previous phase's final LR when the
segment says ``rewarm``. ``SCHEDULES`` is the one place a schedule is registered: the curriculum's
``lr.schedule`` accepts exactly its names (``trainer/curriculum.py`` checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol


class Segment(Protocol):
    """What a schedule reads of a curriculum's ``LRSegment`` (which imports this table, so not its type)."""

    schedule: str
    peak: float
    final: float
    warmup_tokens: int
    decay_fraction: float


def constant(segment: Segment, tokens: int, phase_tokens: int) -> float:
    return segment.peak


def progress(segment: Segment, tokens: int, phase_tokens: int) -> float:
    """How far through the post-warmup part of the phase ``tokens`` is, in [0, 1]."""
    span = max(phase_tokens - segment.warmup_tokens, 1)
    return min((tokens - segment.warmup_tokens) / span, 1.0)


def cosine(segment: Segment, tokens: int, phase_tokens: int) -> float:
    done = progress(segment, tokens, phase_tokens)
    return segment.final + 0.5 * (segment.peak - segment.final) * (1 + math.cos(math.pi * done))


def linear(segment: Segment, tokens: int, phase_tokens: int) -> float:
    return segment.peak + (segment.final - segment.peak) * progress(segment, tokens, phase_tokens)


def warmup_stable_decay(segment: Segment, tokens: int, phase_tokens: int) -> float:
    done, stable = progress(segment, tokens, phase_tokens), 1.0 - segment.decay_fraction
    if done <= stable or segment.decay_fraction == 0:
        return segment.peak
    return segment.peak + (segment.final - segment.peak) * (done - stable) / segment.decay_fraction


def inverse_sqrt(segment: Segment, tokens: int, phase_tokens: int) -> float:
    # Infinite schedule: no end point, so phases can be extended; floored at `final`.
    warmup = segment.warmup_tokens
    return max(segment.final, segment.peak * math.sqrt(max(warmup, 1) / max(tokens, 1)))


# name -> the LR after warmup, from the segment, the tokens seen in the phase and the phase's tokens
SCHEDULES: dict[str, Callable[[Segment, int, int], float]] = {
    "constant": constant,
    "cosine": cosine,
    "linear": linear,
    "wsd": warmup_stable_decay,
    "inverse_sqrt": inverse_sqrt,
}


def lr_at(segment: Segment, tokens: int, phase_tokens: int, start_lr: float = 0.0) -> float:
    warmup = segment.warmup_tokens
    if tokens < warmup:
        return start_lr + (segment.peak - start_lr) * tokens / warmup
    return SCHEDULES[segment.schedule](segment, tokens, phase_tokens)
