"""What every report section builds on: ``RunData`` (the run a section reads) and the HTML and
figure helpers. ``curation_sections.py`` and ``plan_sections.py`` both use them."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class Connection(Protocol):
    """What sections use of a DuckDB connection."""

    def execute(self, query: str) -> Any: ...


@dataclass
class RunData:
    """What sections read: the run directory, its manifest and DuckDB views over its Parquet."""

    path: Path
    manifest: dict
    con: Connection = field(repr=False)

    def rows(self, query: str) -> list[tuple]:
        return self.con.execute(query).fetchall()

    def has(self, view: str) -> bool:
        return bool(
            self.rows(
                f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{view}'"
            )[0][0]
        )

    def tiers(self) -> list[str]:
        """The run's quality tiers, lowest first, as ``curate.buckets.tiers`` configured them."""
        return (self.json_file("work/buckets/edges.json") or {}).get("tiers", [])

    def json_file(self, relative: str) -> Any:
        """The run's JSON file at ``relative`` (a mapping or a list), None when there is none."""
        path = self.path / relative
        return json.loads(path.read_text()) if path.is_file() else None


def svg(figure) -> str:
    """The figure as an inline <svg> element (no XML header), then closed."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def table(header: list[str] | None, rows: Sequence[Sequence], numeric_from: int = 1) -> str:
    """An HTML table; ``header`` None for a list of facts (first column: what, second: its value)."""
    head = (
        ""
        if header is None
        else "<thead><tr>"
        + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        + "</tr></thead>"
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='{'num' if i >= numeric_from and is_number(v) else ''}'>{cell(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


class Share(float):
    """A fraction, shown as a percentage."""


class Size(int):
    """A number of bytes, shown with the unit that suits it."""


def is_number(value) -> bool:
    """Numbers are right-aligned and kept on one line; text (a warning, a label) wraps within its column."""
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def cell(value) -> str:
    """Every number of the report one way: counts with thousands separators, other numbers with three decimals
    (in scientific notation below 0.001, so that a learning rate of 3e-4 is not 0.000), shares as percentages,
    sizes in B, KB or MB."""
    if value is None:
        return "-"
    if isinstance(value, Share):
        return f"{value:.1%}"
    if isinstance(value, Size):
        scale, unit = next(
            ((s, u) for s, u in ((1e6, "MB"), (1e3, "KB")) if value >= s), (None, "B")
        )
        return f"{value:,} B" if scale is None else f"{value / scale:,.1f} {unit}"
    if isinstance(value, float):
        return f"{value:.1e}" if 0 < abs(value) < 1e-3 else f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def figure(width: float, height: float, rows: int = 1, columns: int = 1, **subplots):
    """A matplotlib figure and its axes on the file-only Agg backend (reports are built without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, columns, figsize=(width, height), **subplots)


# The default length bucket names, in the order the report lists them; the tiers are the run's own.
LENGTHS = ["short", "medium", "long"]


def rank(name: str | None, order: list[str]) -> tuple:
    """Sort key: the names of ``order`` in that order, then any other name alphabetically."""
    return (order.index(name) if name in order else len(order), name or "")
