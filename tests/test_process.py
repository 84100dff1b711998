"""The installed program as a real process: exit codes, pipes, stdin, start-up imports."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.pipeline import customers, deals

from .conftest import NOW, OPP_BIN


def _script_lines(script: str, db: str, **env: str) -> list[str]:
    """What a Python script, run as a process of its own with ``OPP_DB`` set to ``db``, wrote to its
    standard error, by line (the script must exit 0)."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "OPP_DB": db, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().splitlines()


@pytest.fixture
def proc_db(db: str) -> str:
    """The database run_opp uses, with Initech and two deals made through the core."""
    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
    try:
        customers.add_customer(ctx, "organization", "Initech")
        deals.create_deal(ctx, "One", org="Initech", value="100")
        deals.create_deal(ctx, "Two", org="Initech", value="200")
    finally:
        ctx.close()
    return db


def test_exit_codes_reach_the_shell(run_opp):
    first = run_opp("customer", "add", "--org", "Acme", "-f", "json")
    assert (first.returncode, json.loads(first.stdout)["name"], first.stderr) == (0, "Acme", "")
    for args, code in [
        (("customer", "add", "--org", "Acme"), 4),
        (("customer", "show", "Nobody"), 3),
        (("customer", "add", "--org", "Acme", "--person", "Jo"), 2),
    ]:
        result = run_opp(*args)
        assert result.returncode == code, (args, result)
        assert result.stdout == ""
        assert result.stderr.startswith("opp: error: ")
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_closed_pipe_is_not_an_error(proc_db: str, db_path: Path, tmp_path: Path):
    conn = sqlite3.connect(db_path)
    columns = (
        "title, description, customer_id, value_minor, currency, probability, stage, status, expected_close, "
        "external_ref, assignee_id, lost_reason, created_at, updated_at, closed_at, stage_changed_at, version"
    )
    conn.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) "
        f"INSERT INTO opportunities ({columns}) SELECT {columns} FROM n, opportunities WHERE id = 1"
    )
    conn.commit()
    conn.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=str(proc_db), OPP_USER="dana", OPP_NOW=NOW, HOME=str(tmp_path))
    process = subprocess.Popen(
        [OPP_BIN, "list", "--format", "ids"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # like `| head -1`: the reader goes away with most of the output unread
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 0
    assert first == b"1\n"
    assert stderr == b""


def test_ids_on_stdin(run_opp, proc_db: str):
    result = run_opp("stage", "qualification", "-", "-f", "json", input="1\n\n2\n")
    assert result.returncode == 0, result.stderr
    moved = json.loads(result.stdout)
    assert [(d["id"], d["stage"], d["probability"]) for d in moved] == [
        (1, "qualification", 30),
        (2, "qualification", 30),
    ]


@pytest.mark.slow
def test_python_m_opp_version():
    from opp import __version__

    result = subprocess.run([sys.executable, "-m", "opp", "--version"], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"opp {__version__}\n", "")


@pytest.mark.slow
def test_help_and_version_do_not_import_heavy_libraries():
    script = (
        "import sys\n"
        "from opp.cli.main import run\n"
        "for argv in (['opp', '--version'], ['opp', '--help'], ['opp', 'customer', 'add', '--help']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        run()\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), (argv, exc.code)\n"
        "heavy = ('sqlalchemy', 'alembic', 'tabulate', 'dateutil', 'textual')\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Usage: opp" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "LOADED []"


@pytest.mark.slow
def test_only_browse_imports_textual(tmp_path):
    """Every command is built by the full app; only `opp browse` running loads Textual."""
    script = (
        "import sys\n"
        "from opp.cli.app import app\n"
        "sys.argv = ['opp', 'list']\n"
        "try:\n"
        "    app(prog_name='opp')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] == 'textual'), file=sys.stderr)\n"
    )
    env = {**os.environ, "OPP_DB": str(tmp_path / "opp.db"), "OPP_USER": "dana"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.stderr.strip().splitlines()[-1] == "LOADED []", result.stderr


def test_the_console_script_shows_the_same_help_as_the_app(run_opp):
    """The console script builds commands lazily; its help must match the fully built app's."""
    full_app = "import sys; from opp.cli.app import app; sys.argv[0] = 'opp'; app(prog_name='opp')"
    for path in ([], ["customer"], ["list"], ["report"]):
        lazy = run_opp(*path, "--help", COLUMNS="100")
        full = subprocess.run(
            [sys.executable, "-c", full_app, *path, "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "100"},
        )
        assert lazy.returncode == full.returncode == 0, (lazy.stderr, full.stderr)
        assert lazy.stdout == full.stdout


def test_a_mistyped_command_gets_a_suggestion(run_opp):
    result = run_opp("lsit")
    assert result.returncode == 2
    assert "Did you mean 'list'?" in result.stderr


def test_commands_with_plain_options_do_not_import_pydantic(run_opp, db):
    """Text, whole-number, flag and choice options are coerced without Typer's pydantic adapters
    (opp.cli.coercion): the ~50 ms they cost would be most of a command's start-up."""
    script = (
        "import sys\n"
        "from opp.cli.main import run\n"
        "for argv in (['opp', 'list', '--stage', 'lead', '--limit', '5', '-f', 'JSON'],\n"
        "             ['opp', 'forecast', '--by', 'stage'], ['opp', 'pipeline', '--board', '--cards', '3'],\n"
        "             ['opp', 'report', 'win-rate'], ['opp', '--help']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        run()\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), (argv, exc.code)\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'), file=sys.stderr)\n"
    )
    assert _script_lines(script, db)[-1] == "LOADED []"


def test_a_command_collects_cycles_at_a_command_s_pace_from_its_first_import(tmp_path):
    """The collector's pace is set before opp imports anything of its own: at Python's default the
    imports alone cost about 125 passes (40 ms of a command's start) that found nothing to free."""
    script = (
        "import gc, sys\n"
        "passes = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and passes.append(info['generation']))\n"
        "from opp.cli.main import run\n"
        "from opp.core.collector import COLLECTOR_THRESHOLD\n"
        "sys.argv = ['opp', 'list', '--limit', '1']\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "paced = gc.get_threshold()[0] == COLLECTOR_THRESHOLD\n"
        "print('PACE', paced, 'PASSES', len(passes), file=sys.stderr)\n"
    )
    words = _script_lines(script, str(tmp_path / "opp.db"))[-1].split()
    assert words[:2] == ["PACE", "True"], words
    assert int(words[3]) <= 5, words


def test_a_command_freezes_what_it_made_before_the_process_ends(tmp_path):
    """Python's last collection on its way out walks every object still alive and frees nothing a
    command needs freed (about 0.1 s of a review at a million deals): at the end of a command, whether
    it succeeded or failed, what it made is frozen out of that walk."""
    script = (
        "import gc, sys\n"
        "from opp.cli.main import run\n"
        "for argv in (['opp', 'list', '--limit', '1'], ['opp', 'show', '999']):\n"
        "    gc.unfreeze()\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        run()\n"
        "    except SystemExit as exc:\n"
        "        print('EXIT', exc.code, 'FROZEN', gc.get_freeze_count(), file=sys.stderr)\n"
    )
    lines = [
        line.split() for line in _script_lines(script, str(tmp_path / "opp.db")) if line.startswith("EXIT")
    ]
    assert [words[1] for words in lines] == ["0", "3"], lines
    assert all(int(words[3]) > 10_000 for words in lines), lines


def test_commands_on_sqlite_do_not_import_the_postgresql_dialect(db_path):
    """Loading SQLAlchemy's PostgreSQL dialect costs about 20 ms; a SQLite database never needs it,
    also where a command keeps temporary tables (``--as-of``, the waterfall, the review)."""
    script = (
        "import sys\n"
        "from opp.cli.main import run\n"
        "for argv in (['opp', 'list', '--as-of', '2020-01-01'],\n"
        "             ['opp', 'forecast', '--as-of', '2020-01-01'],\n"
        "             ['opp', 'report', 'waterfall', '--from', '2020-01-01', '--period', 'this-quarter'],\n"
        "             ['opp', 'review']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        run()\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), (argv, exc.code)\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')),\n"
        "      file=sys.stderr)\n"
    )
    env = {**os.environ, "OPP_DB": str(db_path), "OPP_USER": "dana"}
    # Made first in a process of its own: making a database runs the migrations, which load every dialect.
    made = subprocess.run([sys.executable, "-m", "opp", "list"], capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stderr
    assert _script_lines(script, str(db_path), OPP_USER="dana")[-1] == "LOADED []"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--limit", "x"], "Invalid value for '--limit': 'x' is not a whole number."),
        (["list", "-f", "xml"], "'xml' is not one of 'table', 'json', 'jsonl', 'csv', 'ids'."),
        (
            ["forecast", "-f", "ids"],
            "'ids' is not a format of this command: it prints table, json, jsonl or csv",
        ),
        (["pipeline", "--board", "--cards", "1.5"], "'1.5' is not a whole number."),
    ],
)
def test_plain_options_refuse_bad_values_with_a_usage_error(opp, args, message):
    assert message in opp.fails(2, *args)


def test_plain_options_take_what_typer_took(opp):
    opp("create", "A", "--org", "Initech")
    assert opp("list", "--limit", " +1_0 ", "-f", "ids").stdout == "1\n"
    assert opp("list", "--stage", "LEAD", "--stage", "proposal", "-f", "JsonL").stdout.count("\n") == 1
