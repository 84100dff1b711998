"""Small static SVG charts for the printed review: the pipeline by stage, the waterfall, attainment.

Plain SVG text (no script, no font or image fetched), drawn in a fixed coordinate space that the page
scales to its width; every label is escaped. The figures come from the review's records as they are:
a chart never computes a figure the JSON does not hold, it only lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from opp.cli.render import UNSET_GROUP

WIDTH = 640
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"'
INK, MUTED, GRID = "#1f2933", "#616e7c", "#d9e2ec"
BLUE, LIGHT_BLUE, GREEN, RED, GREY = "#2f6fb1", "#9cc3e6", "#2f9e5b", "#c94a3f", "#7b8794"


def compact(amount: Decimal | int | float) -> str:
    """A short label for an amount: ``950``, ``12.5k``, ``1.2M`` (sign kept)."""
    value = Decimal(str(amount))
    size = abs(value)
    for limit, suffix in ((Decimal(1_000_000_000), "B"), (Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if size >= limit:
            shown = (value / limit).quantize(Decimal("0.1"))
            text = f"{shown}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value.quantize(Decimal('1'))}"


def _svg(height: int, body: Sequence[str], title: str) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" {FONT} font-size="12">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, label: str, *, anchor: str = "start", fill: str = INK, size: int = 12,
          weight: str = "normal") -> str:  # fmt: skip
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}" '
        f'font-weight="{weight}">{escape(label)}</text>'
    )


def _rect(x: float, y: float, width: float, height: float, fill: str) -> str:
    size = f'width="{max(width, 0):.1f}" height="{max(height, 0):.1f}"'
    return f'<rect x="{x:.1f}" y="{y:.1f}" {size} fill="{fill}"/>'


def pipeline_chart(stages: Sequence[dict[str, Any]], currency: str) -> Markup:
    """Horizontal bars, one per open stage: its value, and its forecast as the darker inner part."""
    row, label_width, value_width = 28, 130, 120
    height = 24 + row * max(len(stages), 1) + 8
    largest = max((Decimal(str(stage["value"])) for stage in stages), default=Decimal(0)) or Decimal(1)
    span = WIDTH - label_width - value_width - 10
    body = [
        _text(label_width, 14, f"Open value (light) and forecast (dark), {currency}", fill=MUTED, size=11)
    ]
    for index, stage in enumerate(stages):
        y = 24 + index * row
        value, forecast = Decimal(str(stage["value"])), Decimal(str(stage["forecast"]))
        body.append(_text(label_width - 8, y + 16, str(stage["name"]), anchor="end"))
        body.append(_rect(label_width, y + 4, float(value / largest) * span, 18, LIGHT_BLUE))
        body.append(_rect(label_width, y + 4, float(forecast / largest) * span, 18, BLUE))
        figure = f"{compact(value)} · {stage['count']} deal{'s' if stage['count'] != 1 else ''}"
        body.append(
            _text(label_width + float(value / largest) * span + 6, y + 17, figure, fill=MUTED, size=11)
        )
    return _svg(height, body, "Open pipeline by stage")


def waterfall_chart(flow: dict[str, Any]) -> Markup:
    """Start, each step as a floating bar (green adds, red takes away), then end."""
    steps = flow["steps"]
    columns: list[tuple[str, Decimal, Decimal, str]] = []  # label, from, to, colour
    level = Decimal(str(flow["start"]["value"]))
    columns.append(("start", Decimal(0), level, GREY))
    for step in steps:
        change = Decimal(str(step["value"]))
        colour = GREEN if change > 0 else RED if change < 0 else GRID
        columns.append((step["step"], level, level + change, colour))
        level += change
    columns.append(("end", Decimal(0), Decimal(str(flow["end"]["value"])), GREY))
    top = max([max(a, b) for _, a, b, _ in columns] + [Decimal(0)])
    bottom = min([min(a, b) for _, a, b, _ in columns] + [Decimal(0)])
    spread = (top - bottom) or Decimal(1)
    chart_top, chart_height, left = 22, 170, 8
    slot = (WIDTH - left * 2) / len(columns)

    def y_of(amount: Decimal) -> float:
        return chart_top + float((top - amount) / spread) * chart_height

    body = [_rect(left, y_of(Decimal(0)), WIDTH - 2 * left, 1, GRID)]
    for index, (label, start, end, colour) in enumerate(columns):
        x = left + index * slot + slot * 0.15
        width = slot * 0.7
        high, low = y_of(max(start, end)), y_of(min(start, end))
        body.append(_rect(x, high, width, max(low - high, 1.5), colour))
        change = end - start
        figure = compact(end if label in ("start", "end") else change)
        if label not in ("start", "end") and change > 0:
            figure = "+" + figure
        shade = MUTED if change == 0 and label not in ("start", "end") else INK
        body.append(_text(x + width / 2, high - 5, figure, anchor="middle", size=10, fill=shade))
        body.append(
            _text(x + width / 2, chart_top + chart_height + 18, label, anchor="middle", size=10, fill=MUTED)
        )
    return _svg(chart_top + chart_height + 28, body, "Pipeline waterfall")


def attainment_chart(rows: Sequence[dict[str, Any]]) -> Markup:
    """Horizontal bars of won / quota per user, with a line at 100 %."""
    row, label_width, value_width = 26, 130, 70
    people = [r for r in rows if r.get("key") != "total"]
    height = 10 + row * max(len(people), 1) + 20
    ratios = [Decimal(str(r["attainment"])) if r.get("attainment") is not None else None for r in people]
    largest = max([Decimal(1), *(ratio for ratio in ratios if ratio is not None)])
    span = WIDTH - label_width - value_width
    body = []
    full = label_width + float(1 / largest) * span
    for index, (person, ratio) in enumerate(zip(people, ratios, strict=True)):
        y = 10 + index * row
        body.append(_text(label_width - 8, y + 15, str(person.get("key") or UNSET_GROUP), anchor="end"))
        if ratio is None:
            body.append(_text(label_width, y + 15, "no quota", fill=MUTED, size=11))
            continue
        length = float(ratio / largest) * span
        body.append(_rect(label_width, y + 3, length, 16, GREEN if ratio >= 1 else BLUE))
        percent = (ratio * 100).quantize(Decimal("1"))
        body.append(_text(label_width + length + 6, y + 15, f"{percent}%", fill=MUTED, size=11))
    bottom = 10 + row * max(len(people), 1)
    body.append(
        f'<line x1="{full:.1f}" y1="4" x2="{full:.1f}" y2="{bottom}" stroke="{INK}" stroke-dasharray="3 3"/>'
    )
    body.append(_text(full, bottom + 14, "quota", anchor="middle", fill=MUTED, size=10))
    return _svg(height, body, "Attainment per user")
