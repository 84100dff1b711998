"""The report registry: every report is declared once (name, help, options, columns, function) and the
command line, its help and its completion follow from it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer.main

from opp.cli import report as report_cli
from opp.cli.app import app
from opp.core.analytics import registry
from opp.core.analytics.registry import Shape

REPORTS = registry.REPORTS
IDS = [report.name for report in REPORTS]


def report_commands():
    return typer.main.get_command(app).commands["report"].commands


def test_names_are_unique_and_lower_case():
    assert len(set(registry.NAMES)) == len(registry.NAMES)
    assert all(name == name.strip().lower() for name in registry.NAMES)


@pytest.mark.parametrize("report", REPORTS, ids=IDS)
def test_every_report_has_help_columns_and_a_command(report):
    assert report.summary.strip() and report.help.strip()
    assert report_cli.table_columns(report), f"report {report.name} declares no columns"
    command = report_commands()[report.name]
    assert command.help == report_cli.cli_text(report.help)
    assert "{option:" not in command.help and "{command:" not in command.help
    flags = sorted(opt for param in command.params for opt in param.opts if opt.startswith("--"))
    assert flags == sorted([*report.flags, "--format"])


@pytest.mark.parametrize("report", REPORTS, ids=IDS)
def test_every_report_function_exists(report):
    for path in (report.function, report.split_function, report.ids_function):
        if path is not None:
            assert callable(registry._function(path)), path
    assert (report.ids_function is not None) == (report.shape is Shape.DEALS)
    assert (report.rows is not None) == (report.shape is Shape.TOTALLED)


def test_the_app_has_exactly_the_registered_reports_in_their_order():
    assert list(report_commands()) == list(registry.NAMES)


def test_a_report_is_found_in_any_case_and_an_unknown_one_names_the_reports():
    assert registry.find(" Win-Rate ").name == "win-rate"
    from opp.core.errors import Invalid

    with pytest.raises(Invalid) as refused:
        registry.find("bogus")
    assert refused.value.hint == "reports are " + ", ".join(registry.NAMES)


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        (report.name, flag)
        for report in REPORTS
        for flag in sorted(report_cli.REPORT_FLAGS - set(report.flags))
    ],
)
def test_an_option_of_another_report_does_not_apply(cli, name, flag):
    args = [flag] if flag == "--fail-if-any" else [flag, "1"]
    message = cli.fails(2, "report", name, *args)
    assert f"{flag} does not apply to report {name}" in message


def test_the_registry_and_the_report_commands_load_no_database_code():
    script = (
        "import sys\n"
        "import opp.cli.report\n"
        "heavy = ('sqlalchemy', 'alembic', 'tabulate')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr
