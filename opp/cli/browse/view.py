"""How ``opp browse`` shows a deal: the list's cells, the Overview, Billables and Activity tabs.

Money is written with thousands separators and its currency's own decimals, right-aligned; text from
the database is shown as text (never as markup) with control characters escaped, as the tables of the
commands show it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from opp.cli.render import printable
from opp.core.money.amounts import format_money

if TYPE_CHECKING:
    from decimal import Decimal

    from opp.cli.browse.data import ActivityLine
    from opp.core.billing.billables import Billables
    from opp.core.records import Opportunity

#: The list's columns whose cells are numbers, aligned right.
NUMERIC = ("id", "value", "probability", "forecast")


#: The keys line under the list and under the board: (key, what it does), shortest words, so that it
#: fits in 80 columns (``?`` shows them all).
LIST_KEYS = (
    ("/", "search"),
    ("s", "stage"),
    ("a", "assign"),
    ("c", "claim"),
    ("n", "note"),
    ("t", "task"),
    ("b", "board"),
    ("u", "undo"),
    ("?", "help"),
    ("q", "quit"),
)
BOARD_KEYS = (
    ("← →", "column"),
    ("<", "back"),
    (">", "on"),
    ("r", "refresh"),
    ("esc", "list"),
    ("?", "help"),
    ("q", "quit"),
)


def keys_line(keys: Sequence[tuple[str, str]]) -> Text:
    """The keys line: each key in bold, then what it does (a plain line of text: no widget a key)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, (key, what) in enumerate(keys):
        if index:
            text.append(" ")
        text.append(key, style="bold reverse")
        text.append(f" {what}")
    return text


def clean(text: str | None) -> str:
    return "" if text is None else printable(text)


def cut(text: str | None, width: int) -> str:
    """``text`` in at most ``width`` characters, ending in … when it is shortened."""
    shown = " ".join(clean(text).split())
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def money(amount: Decimal) -> Text:
    return Text(format_money(amount), justify="right")


def list_cells(deal: Opportunity) -> list[Text]:
    """A deal's row of the list, in the columns of ``opp list``: every cell a Text (a plain string
    would be read as markup by the table, and parsed again on every draw)."""
    return [
        Text(str(deal.id), justify="right"),
        Text(cut(deal.title, 20)),
        Text(cut(deal.customer.name, 12)),
        Text(deal.stage),
        money(deal.value),
        Text(deal.currency),
        Text(str(deal.probability), justify="right"),
        money(deal.forecast),
        Text("" if deal.expected_close is None else deal.expected_close.isoformat()),
        Text(clean(deal.assignee)),
    ]


def overview(deal: Opportunity, next_task: str | None = None) -> Table:
    """The Overview tab: the deal's fields in two columns of label and value, its description below."""
    from opp.cli.browse.data import next_task as task_of

    task = next_task if next_task is not None else task_of(deal)
    grid = Table.grid(padding=(0, 1), expand=True)
    for _ in range(2):
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    closed = f" ({deal.closed_at.date().isoformat()})" if deal.closed_at else ""
    rows = [
        ("Deal", Text(f"#{deal.id} {clean(deal.title)}"), "Version", Text(str(deal.version))),
        ("Customer", Text(f"{clean(deal.customer.name)} ({deal.customer.kind})"), "Stage", Text(deal.stage)),
        (
            "Value",
            Text(f"{format_money(deal.value)} {deal.currency}"),
            "Status",
            Text(deal.status + closed),
        ),
        (
            "Forecast",
            Text(f"{format_money(deal.forecast)} {deal.currency} ({deal.probability}%)"),
            "Assignee",
            Text(clean(deal.assignee) or "—"),
        ),
        (
            "Close",
            Text(deal.expected_close.isoformat() if deal.expected_close else "—"),
            "Ref",
            Text(clean(deal.external_ref) or "—"),
        ),
        (
            "Next task",
            Text(clean(task) or "—"),
            "Lost" if deal.lost_reason else "",
            Text(clean(deal.lost_reason)),
        ),
    ]
    for label, value, label2, value2 in rows:
        grid.add_row(label, value, label2, value2)
    if deal.description:
        grid.add_row("About", Text(" ".join(clean(deal.description).split())), "", "")
    return grid


def billables(found: Billables) -> Group | Text:
    """The Billables tab: the lines (amounts right-aligned) and the totals."""
    if not found.lines:
        return Text(f"no billable lines (currency {found.currency})")
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("description", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("qty", justify="right", no_wrap=True)
    table.add_column("price", justify="right", no_wrap=True)
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_column("tax", justify="right", no_wrap=True)
    table.add_column("invoice", no_wrap=True)
    for line in found.lines:
        table.add_row(
            str(line.line),
            Text(clean(line.description)),
            str(line.quantity),
            format_money(line.unit_price),
            format_money(line.amount),
            format_money(line.tax),
            clean(line.invoice) or "—",
        )
    totals = Text(
        f"subtotal {format_money(found.subtotal)}  tax {format_money(found.tax)}  "
        f"total {format_money(found.total)} {found.currency}",
        justify="right",
        style="bold",
    )
    return Group(table, totals)


def activity(lines: Sequence[ActivityLine]) -> Text:
    """The Activity tab: one line an event, oldest first (the screen scrolls to the latest)."""
    if not lines:
        return Text("nothing yet")
    text = Text()
    for index, line in enumerate(lines):
        if index:
            text.append("\n")
        text.append(line.at.strftime("%Y-%m-%d %H:%M"), style="dim")
        text.append(f" {clean(line.actor)} ", style="bold")
        if line.kind not in ("deal", "note"):  # the text of a deal event or a note says what it is
            text.append(f"[{line.kind}] ", style="dim")
        text.append(" ".join(clean(line.text).split()))
    return text
