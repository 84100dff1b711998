"""The installed ``opp`` as a process under hostile command lines (issue 13, "done when").

Hypothesis builds argv from the real command tree (walked as tests/test_every_command_every_format.py
does, so a new command is fuzzed the day it is added): a command, some of its options and arguments,
each given a hostile value (huge numbers, control characters, bytes that are not UTF-8, ``../``, empty
strings, SQL fragments, impossible dates) or a plausible one, so that commands also get past their
first check. Each example runs ``opp`` on a fresh copy of a small SQLite database and asserts:

- never exit 1 (an internal error), never a traceback;
- no raw control character in table output (tables show them escaped);
- after a failed command (non-zero exit) the database holds exactly what it held (same SQL dump).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BACKEND, NOW, OPP_BIN
from tests.test_every_command_every_format import COMMANDS, _build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BACKEND != "sqlite", reason="copies a SQLite file for each example"),
]

# Commands left out: `db copy` reaches for another database (a URL could be a network host).
SKIPPED = {("db", "copy")}
FUZZED = sorted(path for path in COMMANDS if path not in SKIPPED)

HOSTILE: list[bytes] = [
    b"",
    b" ",
    b"-1",
    b"0",
    b"9" * 30,
    b"18446744073709551616",
    b"9223372036854775808",
    b"1e999",
    b"NaN",
    b"-inf",
    b"0x10",
    b"1_000_000_000_000_000_000",
    b"0000-00-00",
    b"2026-02-30",
    b"9999-12-31",
    b"-0001-01-01",
    b"../../../x",
    b"../",
    b"a?b#c%20d",
    b"' OR 1=1 --",
    b"'; DROP TABLE opportunities; --",
    b"%s%s%n",
    b"{seq:99999999999d}",
    b"\x1b[31mred\x1b[0m",
    b"bell\x07",
    b"over\rwrite",
    b"csi\xc2\x9b2J",  # U+009B, a C1 control, in UTF-8
    b"abc\xe2\x80\xaedcba",  # U+202E, right-to-left override
    b"\xff\xfe not utf-8",
    b"caf\xe9",  # latin-1, not UTF-8
    "Müller & Söhne".encode(),
    b"x" * 5000,
    b'=HYPERLINK("http://x")',
    b"--",
    b"-",
]
PLAUSIBLE: list[bytes] = [
    b"1",
    b"2",
    b"3",
    b"lead",
    b"won",
    b"proposal",
    b"dana",
    b"Initech",
    b"2026Q1",
    b"2026-03-31",
    b"USD",
    b"EUR",
    b"100",
    b"stage",
    b"CONS",
]
VALUES = st.sampled_from(HOSTILE + PLAUSIBLE)


@st.composite
def command_lines(draw: Any) -> tuple[tuple[str, ...], list[bytes]]:
    path = draw(st.sampled_from(FUZZED))
    command = COMMANDS[path]
    argv = [part.encode() for part in path]
    for param in command.params:
        if param.name in ("fmt", "help") or not getattr(param, "opts", None):
            continue
        is_argument = getattr(param, "param_type_name", "") == "argument"
        if not is_argument and not draw(st.booleans()):
            continue
        if is_argument:
            count = draw(st.integers(1, 2)) if param.nargs == -1 else 1
            argv.extend(draw(VALUES) for _ in range(count))
        elif getattr(param, "is_flag", False):
            argv.append(param.opts[0].encode())
        else:
            argv.extend([param.opts[0].encode(), draw(VALUES)])
    return path, argv


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "template.db"
    _build(str(path))
    return path


def dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@settings(
    max_examples=45,  # about a minute on two busy cores
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=command_lines())
def test_hostile_command_lines(
    template: Path, tmp_path: Path, case: tuple[tuple[str, ...], list[bytes]]
) -> None:
    path, argv = case
    work = Path(tmp_path, "run", os.urandom(6).hex())
    cwd = work / "a" / "b" / "c"  # ``../../..`` stays inside the example's own folder
    cwd.mkdir(parents=True)
    db = work / "opp.db"
    shutil.copyfile(template, db)
    before = dump(db)
    env = {
        **os.environ,
        "OPP_DB": str(db),
        "OPP_USER": "dana",
        "OPP_NOW": NOW,
        "COLUMNS": "80",
        "OPP_LOCK_TIMEOUT": "2",
    }
    for name in ("OPP_FORMAT", "OPP_DEBUG"):
        env.pop(name, None)
    done = subprocess.run(
        [OPP_BIN.encode(), *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    shown = b" ".join(argv)
    stderr = done.stderr.decode("utf-8", "replace")
    stdout = done.stdout.decode("utf-8", "replace")
    assert done.returncode != 1, (shown, stderr)
    assert "Traceback" not in stderr, (shown, stderr)
    if "--format" not in path and path not in (("export",), ("invoice", "show")):
        assert not CONTROL.search(stdout), (shown, stdout[:500])
    if done.returncode != 0:
        assert dump(db) == before, (shown, done.returncode, stderr)
    shutil.rmtree(work, ignore_errors=True)
