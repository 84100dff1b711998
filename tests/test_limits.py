"""Input at the edges of what opp and its databases hold: ids and limits beyond the columns, bytes that
are not UTF-8, NUL characters, deep or huge JSON, unknown URL schemes, the last day a date can hold,
and output to a terminal that is not UTF-8. Each is refused with the contract's exit code, in one
line, and changes nothing; none is an internal error (exit 1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NOW, OPP_BIN


def deal(opp, *args, title="Deal"):
    return opp.json("create", title, "--org", "Initech", *args)["id"]


# -- ids and limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("show", "3000000000"),  # beyond PostgreSQL's integer column
        ("show", "9223372036854775808"),  # beyond 64 bits
        ("history", "99999999999999999999"),
        ("bill", "list", "3000000000"),
        ("assign", "dana", "1", "3000000000"),
        ("stage", "won", "3000000000"),
        ("bill", "remove", "1", "3000000000"),
    ],
)
def test_an_id_beyond_what_the_database_holds_is_invalid(opp, unchanged, args):
    deal(opp)
    check = unchanged()
    error = opp.fails(2, *args)
    assert "is too large: ids go up to 2147483647" in error
    check()


@pytest.mark.parametrize("ref", ["3000000000", "99999999999999999999"])
def test_a_customer_id_beyond_what_the_database_holds_is_not_found(opp, ref):
    assert f"no customer '{ref}'" in opp.fails(3, "customer", "show", ref)


def test_a_customer_named_with_digits_beyond_the_ids_is_found_by_name(opp):
    opp("customer", "add", "--org", "3000000000")
    assert opp.json("customer", "show", "3000000000")["name"] == "3000000000"


@pytest.mark.parametrize(
    "args",
    [
        ("list", "--limit", "9223372036854775808"),
        ("list", "--limit", "99999999999999999999"),
        ("history", "1", "--limit", "9223372036854775808"),
        ("report", "stuck", "--limit", "99999999999999999999"),
    ],
)
def test_a_limit_beyond_64_bits_is_invalid(opp, args):
    deal(opp)
    assert "is too large (at most 9223372036854775807)" in opp.fails(2, *args)


def test_a_limit_beyond_32_bits_is_fine(opp):
    deal(opp)
    assert len(opp.json("list", "--limit", "3000000000")) == 1


# -- the last day a date holds ---------------------------------------------------------------------------


def test_the_last_day_a_date_holds_works_as_of_and_as_a_period(opp):
    deal(opp, "--value", "100", "--stage", "won")
    assert opp.json("list", "--as-of", "9999-12-31", "--status", "all") == opp.json("list", "--status", "all")
    assert opp.json("forecast", "--as-of", "9999-12-31")["total"]["count"] == 1
    for report in ("win-rate", "accuracy", "calibration", "cycle"):
        opp("report", report, "--period", "9999")
    assert opp.json("report", "win-rate", "--period", "9999")["won"] == 0


# -- NUL characters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deals.csv", "title,customer\nA\x00B,Initech\n", "line 2: a cell holds a NUL character"),
        ("deals.csv", "title\x00,customer\nA,Initech\n", "line 1: a column name holds a NUL character"),
        (
            "deals.json",
            '[{"title": "A\\u0000B", "customer": "Initech"}]',
            "line 1: a key or value holds a NUL",
        ),
        (
            "deals.jsonl",
            '{"title": "AB", "customer\\u0000": "Initech"}\n',
            "line 1: a key or value holds a NUL",
        ),
    ],
)
def test_nul_characters_in_an_imported_file_are_refused(opp, unchanged, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    check = unchanged()
    assert message in opp.fails(2, "import", path)
    check()


def test_a_nul_character_in_a_note_from_stdin_is_refused(opp, unchanged):
    deal(opp)
    check = unchanged()
    assert "note holds a NUL character" in opp.fails(2, "note", "1", "-", input="a\x00b")
    check()


# -- JSON beyond reason ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["json", "jsonl"])
def test_json_nested_100000_deep_is_refused(opp, unchanged, tmp_path, suffix):
    deep = "[" * 100_000 + "]" * 100_000
    row = '{"title": ' + deep + ', "customer": "Initech"}'
    path = tmp_path / f"deep.{suffix}"
    path.write_text(f"[{row}]" if suffix == "json" else row + "\n", encoding="utf-8")
    check = unchanged()
    assert "line 1: JSON nested too deeply" in opp.fails(2, "import", path)
    check()


@pytest.mark.parametrize("suffix", ["json", "jsonl"])
def test_a_5000_digit_number_is_refused_in_a_short_message(opp, unchanged, tmp_path, suffix):
    row = '{"title": "Big", "customer": "Initech", "value": ' + "9" * 5000 + "}"
    path = tmp_path / f"big.{suffix}"
    path.write_text(f"[{row}]" if suffix == "json" else row + "\n", encoding="utf-8")
    check = unchanged()
    error = opp.fails(2, "import", path)
    assert "value too large: '999999999999999999999999'… (5,000 characters)" in error
    assert len(error) < 300
    check()


# -- bytes that are not UTF-8 ----------------------------------------------------------------------------


def test_an_argument_that_is_not_utf8_is_invalid(opp, unchanged):
    check = unchanged()
    # Python hands undecodable argv bytes over as surrogates (PEP 383)
    error = opp.fails(2, "create", b"caf\xe9".decode("utf-8", "surrogateescape"), "--org", "Initech")
    assert error == "opp: error: argument 'caf\\xe9' is not UTF-8 text (hint: see opp --help)"
    assert "not UTF-8" in opp.fails(2, "list", "--search", "\udcff")
    check()


def test_stdin_that_is_not_utf8_is_invalid(opp, unchanged):
    deal(opp)
    check = unchanged()
    outcome = opp("note", "1", "-", input=b"caf\xe9 au lait", code=2)
    assert outcome.stderr.startswith("opp: error: the input is not UTF-8 text")
    check()


@pytest.fixture
def process_env(tmp_path: Path, db: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPP_", "PYTHON", "LC_", "LANG"))}
    env.update(OPP_DB=db, OPP_USER="dana", OPP_NOW=NOW, HOME=str(tmp_path))
    return env


def test_real_argv_bytes_that_are_not_utf8_exit_2(opp, process_env):
    result = subprocess.run(
        [OPP_BIN, "customer", "add", "--org", b"caf\xe9"], capture_output=True, env=process_env
    )
    assert result.returncode == 2
    assert result.stderr == b"opp: error: argument 'caf\\xe9' is not UTF-8 text (hint: see opp --help)\n"


# -- output that is not UTF-8 ----------------------------------------------------------------------------


@pytest.mark.parametrize("locale", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"}])
def test_output_in_a_locale_that_is_not_utf8_falls_back_to_ascii(opp, process_env, locale):
    made = deal(opp, title="Müller & Söhne — Shop Floor … Dashboards")
    result = subprocess.run(
        [OPP_BIN, "show", str(made)], capture_output=True, env={**process_env, **locale, "LANG": "C"}
    )
    assert result.returncode == 0, result.stderr
    title = next(line for line in result.stdout.splitlines() if line.startswith(b"title"))
    expected = (
        "Müller & Söhne -- Shop Floor ... Dashboards"
        if "latin" in str(locale)
        else "Muller & Sohne -- Shop Floor ... Dashboards"
    )
    assert title.split(maxsplit=1)[1] == expected.encode(locale["PYTHONIOENCODING"])


# -- database URLs ---------------------------------------------------------------------------------------


def test_an_unknown_url_scheme_is_invalid(cli):
    error = cli.fails(2, "--db", "foo://host/db", "list")
    assert "unknown kind of database 'foo'" in error


def _values_beyond_a_sum(opp, count=2, minor=5 * 10**18):
    """``count`` won deals of Initech whose values add up past 2**63 - 1 minor units (each is set
    in the database: opp refuses one that large, but many deals of the largest value add up)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    for n in range(count):
        opp("create", f"Big {n}", "--org", "Initech", "--stage", "won")
    url = opp.db if "://" in opp.db else f"sqlite:///{opp.db}"
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE opportunities SET value_minor = :v"), {"v": minor})
    engine.dispose()


def test_a_customer_whose_totals_are_beyond_64_bits_is_refused_naming_the_sum(opp):
    _values_beyond_a_sum(opp)
    line = opp.fails(4, "customer", "show", "Initech")
    assert "Initech's won deals in USD add up to about 100,000,000,000,000,000.00 USD" in line
    assert "more than opp can sum" in line
    assert len(line) < 300


def test_any_other_sum_beyond_64_bits_is_refused_not_unavailable(opp):
    """Where no command checks its sum first, the database's own overflow is still a rule (exit 4),
    not an unavailable database (exit 5)."""
    from sqlalchemy.exc import DataError, OperationalError

    from opp.core.context import translated_errors
    from opp.core.errors import Conflict

    class Orig(Exception):
        pass

    for error in (
        OperationalError("SELECT sum(x)", {}, Orig("integer overflow")),
        DataError("SELECT sum(x)", {}, Orig("bigint out of range")),
    ):
        with pytest.raises(Conflict, match="more than opp can sum"), translated_errors(_FakeStore()):
            raise error


class _FakeStore:
    url = "sqlite:///x.db"
    lock_timeout = 30.0


@pytest.mark.parametrize("command", [("forecast",), ("forecast", "--currency", "USD"), ("pipeline",)])
def test_a_forecast_whose_deals_in_one_currency_add_up_beyond_64_bits_is_refused(opp, command):
    """The forecast and the pipeline read deals all in the reporting currency once, summing as they go
    (SQLite's sum overflows, PostgreSQL's does not): either way the sum is refused, naming it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    _values_beyond_a_sum(opp)
    if command == ("pipeline",):
        url = opp.db if "://" in opp.db else f"sqlite:///{opp.db}"
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(text("UPDATE opportunities SET status = 'open', stage = 'lead', closed_at = NULL"))
        engine.dispose()
    line = opp.fails(4, *command)
    assert "the deals' value in USD adds up to about" in line
    assert "more than opp can sum" in line
