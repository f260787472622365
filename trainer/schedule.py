"""Learning rate as a function of tokens seen in a phase: ``lr_at(segment, tokens, phase_tokens, start_lr)``.

Schedules are functions of tokens (not steps) so that a curriculum means the same thing at any
batch size. ``start_lr`` is where warmup begins: 0, or the previous phase's final LR when the
segment says ``rewarm``.
"""
from __future__ import annotations

import math

from trainer.curriculum import LRSegment


def _decay(segment: LRSegment, progress: float) -> float:
    """LR after warmup, ``progress`` in [0, 1] over the post-warmup part of the phase."""
    peak, final = segment.peak, segment.final
    if segment.schedule == "constant":
        return peak
    if segment.schedule == "cosine":
        return final + 0.5 * (peak - final) * (1 + math.cos(math.pi * progress))
    if segment.schedule == "linear":
        return peak + (final - peak) * progress
    if segment.schedule == "wsd":
        stable = 1.0 - segment.decay_fraction
        if progress <= stable or segment.decay_fraction == 0:
            return peak
        return peak + (final - peak) * (progress - stable) / segment.decay_fraction
    raise ValueError(f"unknown schedule {segment.schedule!r}")


def lr_at(segment: LRSegment, tokens: int, phase_tokens: int, start_lr: float = 0.0) -> float:
    warmup = segment.warmup_tokens
    if tokens < warmup:
        return start_lr + (segment.peak - start_lr) * tokens / warmup
    if segment.schedule == "inverse_sqrt":
        # Infinite schedule: no end point, so phases can be extended; floored at `final`.
        return max(segment.final, segment.peak * math.sqrt(max(warmup, 1) / max(tokens, 1)))
    span = max(phase_tokens - warmup, 1)
    return _decay(segment, min((tokens - warmup) / span, 1.0))
