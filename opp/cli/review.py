"""``opp review``: the manager's weekly page, for the terminal, for programs, for chat and for mail.

The core computes every section (:mod:`opp.core.analytics.review`); this module lays it out: JSON (and
JSONL) whole, a table per section, CSV one row per stage, step and deal listed, and the two documents,
Markdown and a self-contained HTML page with inline SVG charts, from the templates in
``opp/templates``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from opp.cli import complete, state
from opp.cli.options import ForceOpt, OutOpt, WhereOpt
from opp.cli.render import Column, Format, emit


class ReviewFormat(StrEnum):
    """The record formats, and the two documents."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"
    html = "html"


DOCUMENTS = (ReviewFormat.md, ReviewFormat.html)

STAGE_COLUMNS = [
    Column("stage", "name"),
    Column("count", "count"),
    Column("value", "value"),
    Column("forecast", "forecast"),
]
STEP_COLUMNS = [Column("step", "step"), Column("count", "count"), Column("value", "value")]
DEAL_COLUMNS = [
    Column("id", "id"),
    Column("title", "title", 36),
    Column("assignee", "assignee"),
    Column("stage", "stage"),
    Column("close", "expected_close"),
    Column("value", "value"),
    Column("cur", "currency"),
]
PUSH_COLUMNS = [
    Column("id", "id"),
    Column("title", "title", 36),
    Column("assignee", "assignee"),
    Column("pushes", "pushes"),
    Column("slip days", "slip_days"),
    Column("first close", "first_close"),
    Column("expected close", "expected_close"),
]
FLAT_FIELDS = ("section", "key", "id", "count", "value", "forecast", "currency")


def _flat(found: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage, forecast category, attainment row, waterfall step and deal listed."""
    code = found["currency"]
    rows: list[dict[str, Any]] = []

    def add(section: str, key: Any, *, id: Any = None, count: Any = None, value: Any = None,
            forecast: Any = None, currency: str = code) -> None:  # fmt: skip
        rows.append(
            {
                "section": section,
                "key": key,
                "id": id,
                "count": count,
                "value": value,
                "forecast": forecast,
                "currency": currency,
            }
        )

    for stage in found["pipeline"]["stages"]:
        add(
            "pipeline", stage["stage"], count=stage["count"], value=stage["value"], forecast=stage["forecast"]
        )
    for group in (found["forecast"] or {}).get("groups", []):
        add("forecast", group["key"], count=group["count"], value=group["value"], forecast=group["forecast"])
    for row in attainment_rows(found["attainment"]):
        add("attainment", row.get("key"), value=row.get("won"))
    flow = found["waterfall"]
    add("waterfall", "start", count=flow["start"]["count"], value=flow["start"]["value"])
    for step in flow["steps"]:
        add("waterfall", step["step"], count=step["count"], value=step["value"])
    add("waterfall", "end", count=flow["end"]["count"], value=flow["end"]["value"])
    for section in ("won", "lost", "pushes", "stuck", "overdue"):
        for deal in found[section]:
            add(section, deal["title"], id=deal["id"], value=deal["value"], currency=deal["currency"])
    for task in found["overdue_tasks"]:
        add("overdue_tasks", task.get("title"), id=task.get("id"))
    return rows


def attainment_rows(section: Any) -> list[dict[str, Any]]:
    """The attainment section's rows, its total last, whether it comes as a list of rows or as an
    object holding them (and its ``total``)."""
    if not section:
        return []
    if isinstance(section, list):
        return list(section)
    rows = next((value for value in section.values() if isinstance(value, list)), [])
    total = section.get("total")
    return [*rows, *([{"key": "total", **total}] if isinstance(total, dict) else [])]


def _table(found: dict[str, Any]) -> None:
    from opp.cli.report import named_unset

    flow = found["waterfall"]
    summary = {
        "period": found["period"],
        "since": found["since"],
        "today": found["today"],
        "currency": found["currency"],
        "assignee": found["assignee"],
        "open deals": found["pipeline"]["total"]["count"],
        "open value": found["pipeline"]["total"]["value"],
        "open forecast": found["pipeline"]["total"]["forecast"],
        "closing in period": flow["end"]["value"],
        "won since": len(found["won"]),
        "lost since": len(found["lost"]),
    }
    steps = [{"step": "start", **flow["start"]}, *flow["steps"], {"step": "end", **flow["end"]}]
    extra = [
        ("pipeline", found["pipeline"]["stages"], STAGE_COLUMNS),
        ("forecast by category", (found["forecast"] or {}).get("groups", []), STEP_COLUMNS[1:]),
        (
            "attainment",
            named_unset(attainment_rows(found["attainment"]), Format.table),  # no assignee: "(none)"
            [Column(key, key) for key in ATTAINMENT_KEYS],
        ),
        ("waterfall since " + str(found["since"]), steps, STEP_COLUMNS),
        ("won since " + str(found["since"]), found["won"], DEAL_COLUMNS),
        ("lost since " + str(found["since"]), found["lost"], DEAL_COLUMNS),
        ("pushed since " + str(found["since"]), found["pushes"], PUSH_COLUMNS),
        ("stuck", found["stuck"], DEAL_COLUMNS),
        ("overdue", found["overdue"], DEAL_COLUMNS),
    ]
    extra[1] = ("forecast by category", extra[1][1], [Column("category", "key"), *STEP_COLUMNS[1:]])
    emit(summary, Format.table, extra_tables=extra)


ATTAINMENT_KEYS = ("key", "quota", "won", "attainment", "gap", "coverage", "pace")


def document(found: dict[str, Any], kind: str) -> str:
    """The review as a Markdown text or an HTML page."""
    from opp.cli import charts
    from opp.cli.documents import render
    from opp.core.analytics.registry import DEFAULT_STUCK_DAYS
    from opp.core.analytics.review import LIST_LIMIT

    names = {stage["stage"]: stage["name"] for stage in found["pipeline"]["stages"]}
    values: dict[str, Any] = {
        "review": found,
        "attainment_rows": attainment_rows(found["attainment"]),
        "stage_names": names,
        "stuck_days": DEFAULT_STUCK_DAYS,
        "limit": LIST_LIMIT,
    }
    if kind == "md":
        return render("review.md.j2", **values)
    values["charts"] = {
        "pipeline": charts.pipeline_chart(found["pipeline"]["stages"], found["currency"]),
        "waterfall": charts.waterfall_chart(found["waterfall"]),
        "attainment": charts.attainment_chart(values["attainment_rows"]),
    }
    return render("review.html.j2", **values)


def review_command(
    period: Annotated[
        str | None,
        typer.Option("--period", metavar="P", help="The period reviewed (default this-quarter): 2026Q2 ..."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE", help="What changed since this day (default 7 days ago)."),
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(
            "--assignee", metavar="H", help="Only this user's deals.", autocompletion=complete.complete_user
        ),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", metavar="C", help="Report in this currency (as forecast).")
    ] = None,
    where: WhereOpt = None,
    fmt: Annotated[
        ReviewFormat,
        typer.Option(
            "--format",
            "-f",
            envvar="OPP_FORMAT",
            case_sensitive=False,
            help="table, json, jsonl or csv; md (chat, mail) or html (a self-contained page to print).",
        ),
    ] = ReviewFormat.table,
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """The weekly review: pipeline, forecast by category, attainment, the waterfall since --since,
    deals won, lost and pushed since, stuck and overdue deals, overdue tasks."""
    from opp.cli.documents import check_out
    from opp.core.analytics.review import review

    check_out(out, force=force, document=fmt in DOCUMENTS)
    found = review(
        state.context(), period=period, since=since, assignee=assignee, currency=currency, where=where
    ).as_dict()
    if fmt in DOCUMENTS:
        from opp.cli.documents import write_out

        write_out(document(found, fmt.value), out, force=force, what="the review")
    elif fmt is ReviewFormat.table:
        _table(found)
    else:
        emit(
            found, Format(fmt.value), rows=_flat(found), fields=FLAT_FIELDS if fmt is ReviewFormat.csv else ()
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("review")(review_command)
