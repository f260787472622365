"""Numbers as the command line and the report show them."""

from __future__ import annotations


def format_optional(value, spec=".3f") -> str:
    """A number that may be missing (no CMR, no turnaround) as text: "-" when it is."""
    return "-" if value is None else format(value, spec)


def format_half_width(value) -> str:
    """A symmetric half-width, or a (below, above) pair as -below/+above."""
    if isinstance(value, (int, float)):
        return f"{value:.3f}"
    return f"-{value[0]:.3f}/+{value[1]:.3f}"


def format_interval(interval) -> str:
    return f"[{format_optional(interval[0])}, {format_optional(interval[1])}]"


def format_duration(seconds: float) -> str:
    """A duration as a person reads it in a log: 42s, 2m10s, 1h05m."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
