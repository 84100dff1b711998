"""Every command of the app, in every format, on a small database: the one output path holds for all.

The commands are found by walking the Typer tree, so a command added tomorrow is run here the day it is
added: it must have sample arguments in ``SAMPLES`` (or be listed in ``NO_RECORDS``), else this fails.
For each command and format: never exit 1, never a traceback; a format the command does not print is
exit 2 naming the ones it does; JSON and CSV parse; CSV of a grouped result carries its rows; no table
cell holds raw JSON or a Python value.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opp.cli.app import app
from opp.cli.compat import click_command
from tests.conftest import BACKEND, Cli, Outcome

# A sweep of every command in every format (~45 s on two cores): make test runs it, make check does not.
pytestmark = pytest.mark.slow

RECORD_FORMATS = ("table", "json", "jsonl", "csv")
FORMATS = (*RECORD_FORMATS, "ids")
NOW_OF_EXAMPLES = "2027-01-10T08:30:00Z"  # the example data's dates are in the past by then


@dataclass(frozen=True)
class Sample:
    """How to run one command: its arguments ({tmp} is a fresh folder), and where."""

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    empty_database: bool = False
    sqlite_only: bool = False
    #: For a grouped result: how many CSV rows its JSON calls for.
    rows: Callable[[Any], int] | None = None


def _groups_and_total(found: Any) -> int:
    return len(found.get("groups", found.get("stages", []))) + 1


def _review_rows(found: Any) -> int:
    """A CSV row per stage, forecast category, attainment row (and the total), waterfall start, step
    and end, and deal or task listed."""
    listed = sum(len(found[name]) for name in ("won", "lost", "pushes", "stuck", "overdue", "overdue_tasks"))
    forecast = len(found["forecast"]["groups"]) if found["forecast"] else 0
    attainment = len(found["attainment"]["rows"]) + 1 if found["attainment"] else 0
    return (
        len(found["pipeline"]["stages"])
        + forecast
        + attainment
        + len(found["waterfall"]["steps"])
        + 2
        + listed
    )


SAMPLES: dict[tuple[str, ...], list[Sample]] = {
    ("create",): [Sample(("New deal", "--org", "Initech", "--value", "10"))],
    ("show",): [Sample(("1",))],
    ("list",): [Sample(()), Sample(("--status", "all")), Sample(("--where", "region=EMEA"))],
    ("edit",): [Sample(("2", "--title", "Renamed"))],
    ("stage",): [Sample(("proposal", "2", "--force"))],
    ("category",): [Sample(("commit", "2"))],
    ("assign",): [Sample(("sam", "2"))],
    ("unassign",): [Sample(("1",))],
    ("claim",): [Sample(("2",))],
    ("note",): [Sample(("2", "Called back")), Sample(("2", "Met them", "--kind", "meeting"))],
    ("notes",): [Sample(()), Sample(("2", "--kind", "internal"))],
    ("contact", "add"): [Sample(("1", "Ann Lee", "--role", "sponsor"))],
    ("contact", "remove"): [Sample(("2", "Ann Lee"))],
    ("contact", "list"): [Sample(("2",))],
    ("delete",): [Sample(("2",))],
    ("history",): [Sample(()), Sample(("1",))],
    ("forecast",): [
        Sample((), rows=_groups_and_total),
        Sample(("--by", "assignee"), rows=_groups_and_total),
        Sample(("--by", "quarter"), rows=_groups_and_total),
        Sample(("--by", "category"), rows=lambda found: _groups_and_total(found) + len(found["rollups"])),
        Sample(("--range",)),
        Sample(("--by", "region"), rows=_groups_and_total),
        Sample(("--where", "region!=EMEA"), rows=_groups_and_total),
    ],
    ("pipeline",): [
        Sample((), rows=_groups_and_total),
        Sample(("--board",), rows=lambda board: sum(len(stage["cards"]) for stage in board["stages"])),
    ],
    **{
        ("report", name): [Sample(())]
        for name in (
            "win-rate",
            "deal-size",
            "cycle",
            "conversion",
            "lost-reasons",
            "stuck",
            "overdue",
            "services",
            "calibration",
            "support",
        )
    },
    ("report", "waterfall"): [
        Sample(("--from", "2026-03-01"), rows=lambda found: len(found["steps"]) + 2),
        Sample(
            ("--from", "2026-03-01", "--by", "assignee"), rows=lambda found: 11 * (len(found["groups"]) + 1)
        ),
        Sample(("--from", "2026-03-01", "--detail")),
    ],
    ("report", "pushes"): [Sample(()), Sample(("--status", "all"))],
    ("review",): [Sample((), rows=_review_rows), Sample(("--since", "2026-01-01"), rows=_review_rows)],
    ("report", "accuracy"): [Sample(("--period", "2026Q1"), rows=lambda found: len(found["assignees"]) + 1)],
    ("report", "attainment"): [
        Sample(("--period", "2026Q1", "--currency", "USD"), rows=lambda found: len(found["rows"]) + 1)
    ],
    ("suggest",): [Sample(("2",))],
    ("import",): [Sample(("{tmp}/deals.csv",))],
    ("export",): [Sample(())],
    ("undo",): [Sample(())],
    ("demo",): [Sample((), env={"OPP_NOW": NOW_OF_EXAMPLES}, empty_database=True)],
    ("invoice", "list"): [Sample(())],
    ("invoice", "show"): [Sample(("INV-2026-0001",), rows=lambda invoice: len(invoice["lines"]))],
    ("db", "info"): [Sample(())],
    ("db", "upgrade"): [Sample(())],
    ("db", "backup"): [Sample(("{tmp}/backup.db",), sqlite_only=True)],
    ("db", "copy"): [Sample(("--to", "{tmp}/copy.db"))],
    ("customer", "add"): [Sample(("--org", "Hooli")), Sample(("--org", "Pied Piper", "--set", "tier=gold"))],
    ("customer", "list"): [Sample(())],
    ("customer", "edit"): [Sample(("Ann Lee", "--employer", "Initech", "--job-title", "CFO"))],
    ("customer", "dupes"): [Sample(())],
    ("customer", "merge"): [Sample(("Initech", "Initech Inc"))],
    ("customer", "show"): [
        Sample(("Initech",), rows=lambda customer: len(customer["totals"]["by_currency"])),
    ],
    ("user", "add"): [Sample(("ann", "--name", "Ann Perkins"))],
    ("user", "edit"): [Sample(("sam", "--email", "sam@example.com"))],
    ("user", "list"): [Sample(())],
    ("field", "add"): [Sample(("industry", "--type", "text"))],
    ("field", "list"): [Sample(())],
    ("field", "edit"): [Sample(("region", "--choices", "EMEA,APAC,LATAM"))],
    ("field", "remove"): [Sample(("region", "--force"))],
    ("stages", "list"): [Sample(())],
    ("stages", "add"): [Sample(("demo", "--probability", "40", "--after", "lead"))],
    ("stages", "edit"): [Sample(("lead", "--name", "Leads"))],
    ("stages", "remove"): [Sample(("negotiation",))],
    ("bill", "add"): [
        Sample(("2", "--item", "Setup", "--price", "50"), rows=lambda bill: len(bill["lines"]))
    ],
    ("bill", "list"): [Sample(("1",), rows=lambda bill: len(bill["lines"]))],
    ("bill", "remove"): [Sample(("2", "1"), rows=lambda bill: len(bill["lines"]))],
    ("bill", "invoice"): [Sample(("4",), rows=lambda invoice: len(invoice["lines"]))],
    ("service", "add"): [Sample(("TRAIN", "--name", "Training", "--price", "800", "--currency", "USD"))],
    ("service", "list"): [Sample(())],
    ("service", "show"): [Sample(("CONS",))],
    ("service", "edit"): [Sample(("CONS", "--price", "120"))],
    ("service", "retire"): [Sample(("CONS",))],
    ("rate", "set"): [Sample(("GBP", "USD", "1.27"))],
    ("rate", "list"): [Sample(())],
    ("rate", "remove"): [Sample(("EUR", "USD", "--date", "2026-01-01"))],
    ("quota", "set"): [Sample(("sam", "2026Q1", "1500"))],
    ("quota", "list"): [Sample(())],
    ("quota", "remove"): [Sample(("dana", "2026Q1"))],
    ("config", "list"): [Sample(())],
    ("config", "get"): [Sample(("currency",))],
    ("config", "set"): [Sample(("invoice_due", "+14d"))],
    ("task", "add"): [Sample(("2", "Call back", "--due", "+3d"))],
    ("task", "done"): [Sample(("1",))],
    ("task", "reopen"): [Sample(("3",))],
    ("task", "edit"): [Sample(("1", "--title", "Renamed", "--due", ""))],
    ("task", "list"): [Sample(()), Sample(("--status", "all", "--mine"))],
    ("agenda",): [Sample(("--all", "--days", "30"))],
    ("ticket", "add"): [Sample(("2", "Broken login", "--priority", "high"))],
    ("ticket", "status"): [Sample(("1", "solved"))],
    ("ticket", "log"): [Sample(("1", "1.5", "--note", "call"))],
    ("ticket", "list"): [Sample(()), Sample(("--status", "all"))],
    ("ticket", "show"): [Sample(("1",))],
    ("timeline",): [Sample(("1",)), Sample(("--customer", "Initech"))],
}
#: Commands that print data for programs only, never a table.
MACHINE_ONLY = {("export",)}
#: Commands that print no records (and so take no --format).
#: Commands that print no records: ``browse`` is a full-screen program (tests/test_browse.py).
NO_RECORDS: set[tuple[str, ...]] = {("browse",)}

RAW_VALUE = re.compile(r'\{"|\["|\[\{|\[\]|\{\}|\bTrue\b|\bFalse\b|\bNone\b|Decimal\(|datetime\.')


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            yield path, command
            return
        for name, sub in subcommands.items():
            yield from walk(sub, (*path, name))

    yield from walk(click_command(app), ())


COMMANDS = dict(_commands())


def _format_option(command: Any) -> Any:
    return next((param for param in command.params if param.name == "fmt"), None)


def test_every_command_has_samples_or_prints_no_records():
    missing = [
        " ".join(path)
        for path, command in COMMANDS.items()
        if path not in NO_RECORDS and path not in SAMPLES and _format_option(command) is not None
    ]
    assert not missing, f"add sample arguments to SAMPLES for: {', '.join(missing)}"
    without_format = [" ".join(path) for path, command in COMMANDS.items() if _format_option(command) is None]
    assert sorted(without_format) == sorted(" ".join(path) for path in NO_RECORDS)
    assert not set(SAMPLES) - set(COMMANDS), "SAMPLES names a command the app no longer has"


def _build(db: str) -> None:
    cli = Cli(db)
    cli("user", "add", "dana", "--name", "Dana Scully")
    cli("user", "add", "sam", "--name", "Sam Carter")
    cli("field", "add", "region", "--type", "choice", "--choices", "EMEA,APAC")
    cli("field", "add", "tier", "--type", "choice", "--choices", "Gold", "--on", "customer")
    cli("customer", "add", "--org", "Initech", "--email", "info@initech.example", "--set", "tier=Gold")
    cli("customer", "add", "--person", "Ann Lee", "--employer", "Initech", "--job-title", "CTO")
    cli("customer", "add", "--org", "Initech Inc")
    cli("config", "set", "reporting_currency", "USD")
    cli("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    cli(
        "service",
        "add",
        "CONS",
        "--name",
        "Consulting",
        "--price",
        "100",
        "--currency",
        "USD",
        "--unit",
        "hour",
    )
    cli(
        "create",
        "Website",
        "--org",
        "Initech",
        "--value",
        "1000",
        "--close",
        "2026-03-31",
        "--assign",
        "dana",
    )
    cli(
        "create",
        "Support",
        "--person",
        "Ann Lee",
        "--value",
        "500",
        "--currency",
        "EUR",
        "--close",
        "2026-06-30",
    )
    cli(
        "create",
        "Lost one",
        "--org",
        "Initech",
        "--value",
        "300",
        "--close",
        "2026-02-28",
        "--set",
        "region=EMEA",
    )
    cli("stage", "lost", "3", "--reason", "price")
    cli("stage", "won", "1", "--force")
    cli("bill", "add", "1", "--service", "CONS", "--qty", "2")
    cli("bill", "add", "1", "--item", "Setup", "--price", "50", "--tax", "20")
    cli("bill", "invoice", "1")
    cli("bill", "add", "2", "--item", "Licence", "--price", "500")
    cli("bill", "add", "2", "--item", "Training", "--price", "200")
    cli("note", "2", "Asked for a discount")
    cli("contact", "add", "2", "Ann Lee", "--role", "decision maker")
    cli("create", "Workshop", "--org", "Initech", "--value", "900", "--close", "2026-03-20")
    cli("bill", "add", "4", "--item", "Workshop day", "--price", "900")
    cli("stage", "won", "4", "--force")
    cli("task", "add", "2", "Send the proposal", "--due", "2026-03-12")
    cli("task", "add", "2", "Ask about the budget", "--due", "2026-03-01", "--assign", "sam")
    cli("task", "add", "4", "Undated follow-up")
    cli("task", "done", "3")
    cli("ticket", "add", "1", "Login fails after upgrade")
    cli("ticket", "log", "1", "2.25", "--note", "first look")
    cli("ticket", "add", "--customer", "Initech", "General question", "--kind", "post-sale")
    cli("quota", "set", "dana", "2026Q1", "2000")


@pytest.fixture(scope="module")
def every_template(databases: Any) -> str:
    return databases.template(_build)


def _run(cli: Cli, args: list[str], env: dict[str, str]) -> Outcome:
    """The command's outcome whatever its exit code (an exception escaping the app fails the test)."""
    result = cli.runner.invoke(app, args, env={**cli.env, **env})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def _cases() -> Iterator[Any]:
    for path, samples in sorted(SAMPLES.items()):
        for number, sample in enumerate(samples):
            yield pytest.param(path, sample, id="-".join(path) + (f"-{number}" if number else ""))


@pytest.mark.parametrize(("path", "sample"), list(_cases()))
def test_a_command_prints_every_format_it_declares_and_refuses_the_rest(
    path: tuple[str, ...], sample: Sample, databases: Any, every_template: str, tmp_path: Path
) -> None:
    if sample.sqlite_only and BACKEND != "sqlite":
        pytest.skip("a command of SQLite files")
    command = COMMANDS[path]
    option = _format_option(command)
    flag = option.opts[0]
    printed: dict[str, str] = {}
    for fmt in FORMATS:
        db = databases.new()
        if not sample.empty_database:
            databases.restore(every_template, db)
        folder = tmp_path / fmt
        folder.mkdir()
        (folder / "deals.csv").write_text("title,customer,value,currency\nImported,Initech,100,USD\n")
        args = [arg.replace("{tmp}", str(folder)) for arg in sample.args]
        outcome = _run(Cli(db), [*path, *args, flag, fmt], sample.env)
        databases.drop(db)
        shown = f"opp {' '.join(path)} {' '.join(args)} {flag} {fmt}: {outcome}"
        assert "Traceback" not in outcome.stderr + outcome.stdout, shown
        assert outcome.exit_code != 1, shown
        if outcome.exit_code == 2 and (fmt == "ids" or path in MACHINE_ONLY):
            # A format the command does not print: refused, naming those it prints.
            assert outcome.stdout == "", shown
            others = [name for name in FORMATS if name != fmt and name in outcome.stderr.replace(fmt, "")]
            assert len(others) >= 3, shown
            continue
        assert outcome.exit_code == 0, shown
        printed[fmt] = outcome.stdout
    assert set(printed) >= set(RECORD_FORMATS) - ({"table"} if path in MACHINE_ONLY else set())
    found = json.loads(printed["json"])
    as_list = found if isinstance(found, list) else [found]
    lines = [json.loads(line) for line in printed["jsonl"].splitlines()]
    assert [sorted(record) for record in lines] == [sorted(record) for record in as_list]
    rows = list(csv.reader(io.StringIO(printed["csv"], newline="")))
    if sample.rows is not None:
        assert len(rows) - 1 == sample.rows(found), printed["csv"]
        assert sample.rows(found) > 0, "a sample of a grouped result should have rows to show"
    raw = RAW_VALUE.search(printed.get("table", ""))
    assert raw is None, f"raw value {raw.group()!r} in the table:\n{printed['table']}"
    if "ids" in printed:
        assert all(line.strip() for line in printed["ids"].splitlines())
