"""Numbers as the command line and the report show them."""
from __future__ import annotations


def format_optional(value, spec=".3f") -> str:
    """A number that may be missing (no CMR, no turnaround) as text: "-" when it is."""
    return "-" if value is None else format(value, spec)


def format_interval(interval) -> str:
    return f"[{format_optional(interval[0])}, {format_optional(interval[1])}]"
