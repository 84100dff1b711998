"""Files and safety: where databases are made, files opp writes on request, passwords, other programs'
databases, changes saved before their output failed, and sessions that never wait for ever."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opp.cli.invoice_doc import markdown
from opp.core.errors import Conflict, Invalid, Unavailable
from tests.conftest import BACKEND, NOW, OPP_BIN, Cli

REPO = Path(__file__).resolve().parents[1]


def opp_process(*args, cwd: Path, stdout=subprocess.PIPE, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed opp as a real process (warnings and encodings as a user sees them)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPP_") and k != "PYTHONWARNINGS"}
    base.update(OPP_USER="dana", OPP_NOW=NOW, HOME=str(cwd), XDG_DATA_HOME=str(cwd / "xdg"), **env)
    return subprocess.run(
        [OPP_BIN, *map(str, args)], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=base
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- where a database is made ----------------------------------------------------------------------


def test_a_db_in_a_folder_that_does_not_exist_is_unavailable_and_makes_no_folder(tmp_path):
    target = tmp_path / "typo" / "opp.db"
    line = Cli(target).fails(5, "list")
    assert f"there is no folder {tmp_path / 'typo'}" in line
    assert not (tmp_path / "typo").exists()


def test_the_default_location_is_made_owner_only_on_first_use(tmp_path):
    cli = Cli(tmp_path / "unused.db")
    cli.env.update(OPP_DB=None, XDG_DATA_HOME=str(tmp_path / "data"))
    cli("user", "add", "dana")
    folder = tmp_path / "data" / "opp"
    assert (folder / "opp.db").is_file()
    assert os.stat(folder).st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    ("first", "second"),
    [("deals.db?mode=ro", "deals.db"), ("my%20deals.db", "my deals.db"), ("x.db#1", "x.db")],
)
def test_a_db_path_is_taken_literally(tmp_path, first, second):
    one, two = Cli(tmp_path / first), Cli(tmp_path / second)
    one("customer", "add", "--org", "Initech")
    one("create", "Only in the first", "--org", "Initech")
    assert two.json("list") == []
    assert [deal["title"] for deal in one.json("list")] == ["Only in the first"]
    assert (tmp_path / first).is_file() and (tmp_path / second).is_file()


def test_a_file_colon_path_is_a_path_with_no_warning_and_no_folder(tmp_path):
    done = opp_process("--db", "file:x.db?mode=ro", "user", "list", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "no users yet\n")
    assert (tmp_path / "file:x.db?mode=ro").is_file()
    missing = opp_process("--db", f"file:{tmp_path}/y.db", "user", "list", cwd=tmp_path)
    assert missing.returncode == 5
    assert "a database URL has ://" in missing.stderr and "Warning" not in missing.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file:x.db?mode=ro"]


def test_an_unknown_kind_of_database_is_invalid_input(tmp_path):
    line = Cli("nosuch://ann:s3cret@host/db").fails(2, "list")
    assert "unknown kind of database 'nosuch'" in line
    assert "s3cret" not in line


# -- another program's SQLite file ---------------------------------------------------------------------


def test_another_programs_sqlite_file_is_refused_and_left_as_it_was(tmp_path):
    import sqlite3

    path = tmp_path / "notes.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep')")
    conn.commit()
    conn.close()
    before = digest(path)
    for command in (["list"], ["create", "X", "--org", "Initech"], ["db", "upgrade"]):
        line = Cli(path).fails(5, *command)
        assert "holds tables opp did not make (notes)" in line
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # no -wal, no -journal


def test_an_empty_file_still_becomes_an_opp_database(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    Cli(path)("user", "add", "dana")
    assert Cli(path).json("user", "list")[0]["handle"] == "dana"


# -- files opp writes on request -----------------------------------------------------------------------


def test_a_file_is_written_whole_or_not_at_all(tmp_path):
    from opp.core import files

    target = tmp_path / "out.txt"

    def half(scratch: Path) -> None:
        scratch.write_text("half of it")
        raise KeyboardInterrupt  # killed midway

    with pytest.raises(KeyboardInterrupt):
        files.write_file(target, half)
    assert list(tmp_path.iterdir()) == []
    assert files.write_text_file(target, "whole") == target
    assert target.read_text() == "whole"
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_an_existing_file_is_replaced_only_when_forced(tmp_path):
    from opp.core import files

    target = tmp_path / "out.txt"
    target.write_text("mine")
    with pytest.raises(Conflict, match="already exists"):
        files.write_text_file(target, "new")
    assert target.read_text() == "mine"
    files.write_text_file(target, "new", force=True)
    assert target.read_text() == "new"


def test_a_file_is_never_written_through_a_symbolic_link(tmp_path):
    from opp.core import files

    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "link"
    link.symlink_to(victim)
    for force in (False, True):
        with pytest.raises(Conflict, match="symbolic link"):
            files.write_text_file(link, "evil", force=force)
    assert victim.read_text() == "precious" and link.is_symlink()


def test_an_empty_name_and_a_missing_folder_are_refused(tmp_path):
    from opp.core import files

    with pytest.raises(Invalid, match="the file name is empty"):
        files.write_text_file("  ", "x")
    with pytest.raises(Unavailable, match="there is no folder"):
        files.write_text_file(tmp_path / "no" / "x", "x")


def test_a_backup_killed_midway_leaves_no_half_file(opp, db_path, tmp_path, monkeypatch):
    from opp.store import admin

    def interrupted(store, destination: Path) -> None:
        destination.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
        raise KeyboardInterrupt

    target = tmp_path / "backup.db"
    monkeypatch.setattr(admin, "sqlite_backup", interrupted)
    opp("db", "backup", target, code=130)
    assert not target.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".backup.db")] == []
    monkeypatch.undo()
    assert opp.json("db", "backup", target)["path"] == str(target)  # the retry is not blocked


def test_a_backup_replaces_a_file_only_with_force_and_never_through_a_link(opp, db_path, tmp_path):
    target = tmp_path / "backup.db"
    target.write_text("old")
    assert "--force" in opp.fails(4, "db", "backup", target)
    opp("db", "backup", target, "--force")
    assert target.read_bytes().startswith(b"SQLite format 3")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "link.db").symlink_to(victim)
    assert "symbolic link" in opp.fails(4, "db", "backup", tmp_path / "link.db", "--force")
    assert victim.read_text() == "precious"
    assert "onto itself" in opp.fails(2, "db", "backup", db_path, "--force")


def test_a_backup_to_an_empty_name_is_invalid(opp, db_path, unchanged):
    check = unchanged()
    assert "the file name is empty" in opp.fails(2, "db", "backup", "")
    check()


@pytest.fixture
def invoiced(opp):
    """INV-2026-0001 for a customer whose name means something to Markdown."""
    opp("customer", "add", "--org", "===")
    deal = opp.json("create", "Deal", "--org", "===", "--value", "100", "--stage", "won")["id"]
    opp("bill", "add", deal, "--item", "Work", "--price", "100")
    opp("bill", "invoice", deal)
    return opp


def test_invoice_out_refuses_an_existing_file_unless_forced(invoiced, tmp_path):
    target = tmp_path / "invoice.md"
    target.write_text("mine")
    line = invoiced.fails(4, "invoice", "show", "INV-2026-0001", "-f", "md", "--out", target)
    assert "already exists" in line and "--force" in line
    assert target.read_text() == "mine"
    invoiced("invoice", "show", "INV-2026-0001", "-f", "md", "--out", target, "--force")
    assert target.read_text().startswith("# Invoice INV-2026-0001")
    assert "--force goes with --out" in invoiced.fails(2, "invoice", "show", "INV-2026-0001", "--force")


def test_invoice_out_never_follows_a_symbolic_link(invoiced, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "invoice.html").symlink_to(victim)
    for extra in ([], ["--force"]):
        line = invoiced.fails(
            4, "invoice", "show", "INV-2026-0001", "-f", "html", "--out", tmp_path / "invoice.html", *extra
        )
        assert "symbolic link" in line
    assert victim.read_text() == "precious"


def test_a_customer_called_equals_signs_stays_on_the_markdown_invoice(invoiced):
    from opp.core.billing import invoices
    from tests.conftest import open_context

    ctx = open_context(invoiced.db, actor="dana")
    try:
        text = markdown(invoices.get_invoice(ctx, "INV-2026-0001"))
    finally:
        ctx.close()
    assert "**Bill to**  \n\\===  \n" in text
    markdown_it = pytest.importorskip("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").render(text)
    assert "<strong>Bill to</strong><br />\n===</p>" in page
    assert "<h1><strong>Bill to" not in page


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("- Acme", "\\- Acme"),
        ("+ Acme", "\\+ Acme"),
        ("1. Acme", "1\\. Acme"),
        ("&copy; Acme", "\\&copy; Acme"),
    ],
)
def test_markdown_line_starts_are_escaped(typed, shown):
    from opp.cli.invoice_doc import _md_line

    assert _md_line(typed) == shown


# -- passwords -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ann:s3cret@127.0.0.1:1/opp",
        "postgresql://ann@127.0.0.1:1/opp?password=s3cret&sslmode=disable",
    ],
)
def test_a_password_never_appears_in_an_error(tmp_path, url):
    for args in (["list"], ["db", "upgrade"], ["db", "info", "-f", "json"]):
        done = opp_process("--db", url, *args, cwd=tmp_path)
        assert done.returncode == 5, done.stderr
        assert "s3cret" not in done.stderr + done.stdout
        assert "***" in done.stderr
    source = tmp_path / "source.db"
    Cli(source)("user", "add", "dana")
    done = opp_process("--db", source, "db", "copy", "--to", url, cwd=tmp_path)
    assert done.returncode == 5 and "s3cret" not in done.stderr


def _with_query_password(db: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(db)
    return (
        url.set(password=None)
        .update_query_dict({"password": url.password or ""})
        .render_as_string(hide_password=False)
    )


def test_a_query_password_is_masked_in_info_upgrade_and_copy(opp, databases):
    if BACKEND != "postgresql":
        pytest.skip("a PostgreSQL URL with a password")
    secret = _with_query_password(opp.db)
    password = secret.rsplit("password=", 1)[1]
    assert password

    def hidden(text: str) -> bool:
        return f"password={password}" not in text and f":{password}@" not in text and "password=***" in text

    for args in (["db", "info"], ["db", "upgrade"]):
        assert hidden(opp(*args, "-f", "json", OPP_DB=secret).json()["url"])
    target = _with_query_password(databases.new("copy"))
    out = opp("db", "copy", "--to", target, OPP_DB=secret)
    assert hidden(out.stdout) and f"password={password}" not in out.stderr


# -- a change saved before its output failed -------------------------------------------------------------


def test_a_change_whose_output_cannot_be_written_says_it_was_saved(db, tmp_path):
    Cli(db)("customer", "add", "--org", "Initech")
    with open(os.devnull if sys.platform != "linux" else "/dev/full", "w") as full:
        done = opp_process("--db", db, "create", "Saved", "--org", "Initech", cwd=tmp_path, stdout=full)
    if sys.platform != "linux":
        pytest.skip("/dev/full is Linux's")
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("opp: error: the change was saved (deal 1), but its output could not be")
    assert "Traceback" not in done.stderr
    assert [deal["title"] for deal in Cli(db).json("list")] == ["Saved"]
    with open("/dev/full", "w") as full:
        done = opp_process("--db", db, "customer", "add", "--org", "Hooli", cwd=tmp_path, stdout=full)
    assert done.returncode == 5 and "the change was saved (customer 2)" in done.stderr


def test_output_that_fails_when_nothing_was_saved_is_not_an_internal_error(db, tmp_path):
    if sys.platform != "linux":
        pytest.skip("/dev/full is Linux's")
    Cli(db)("customer", "add", "--org", "Initech")
    with open("/dev/full", "w") as full:
        done = opp_process("--db", db, "customer", "list", cwd=tmp_path, stdout=full)
    assert (done.returncode, done.stderr) == (
        5,
        "opp: error: cannot write the output: No space left on device\n",
    )


def test_a_change_shown_in_an_encoding_that_cannot_show_it_is_never_lost(db, tmp_path):
    Cli(db)("customer", "add", "--org", "Initech")
    done = opp_process(
        "--db", db, "create", "Café", "--org", "Initech", cwd=tmp_path, PYTHONIOENCODING="ascii"
    )
    assert done.returncode != 1 and "Traceback" not in done.stderr
    if done.returncode != 0:  # unless the output falls back to ASCII, the error says what was saved
        assert "the change was saved (deal 1)" in done.stderr
    assert [deal["title"] for deal in Cli(db).json("list")] == ["Café"]


# -- sessions that give up -----------------------------------------------------------------------------


def test_a_postgresql_read_gives_up_on_a_held_lock(opp):
    if BACKEND != "postgresql":
        pytest.skip("PostgreSQL's lock_timeout")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    opp("create", "Locked out", "--org", "Initech")
    engine = create_engine(opp.db, poolclass=NullPool)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE opportunities IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(30)
        started = time.monotonic()
        line = opp.fails(5, "list", OPP_LOCK_TIMEOUT="1")
        assert time.monotonic() - started < 20
        assert "gave up after 1 s" in line
    finally:
        release.set()
        holder.join()
        engine.dispose()
    assert [deal["title"] for deal in opp.json("list")] == ["Locked out"]


def test_postgresql_sessions_carry_the_lock_timeout(db):
    if BACKEND != "postgresql":
        pytest.skip("PostgreSQL settings")
    from sqlalchemy import text

    from opp.store.engine import open_store

    store = open_store(db, lock_timeout=2.5)
    try:
        with store.read() as conn:
            assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "2500ms"
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "2500ms"
    finally:
        store.close()


# -- the demo and the examples ---------------------------------------------------------------------------


def test_the_demo_data_ships_inside_the_package_and_examples_link_to_it():
    from opp.cli.demo import EXAMPLE_DEALS

    package = REPO / "opp"
    assert package / "data" / "deals.csv" == EXAMPLE_DEALS
    for name in ("deals.csv", "rates.csv", "quotas.csv"):
        shipped = package / "data" / name
        assert shipped.is_file() and not shipped.is_symlink()
        assert (REPO / "examples" / name).resolve() == shipped.resolve()  # one copy, not two
    import tomllib

    settings = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "data/*.csv" in settings["tool"]["setuptools"]["package-data"]["opp"]


def test_the_weekly_review_says_when_opp_is_not_found(tmp_path):
    env = {**os.environ, "OPP": "no-such-opp-command", "OPP_DB": str(tmp_path / "x.db")}
    done = subprocess.run(
        ["bash", str(REPO / "examples" / "weekly-review.sh")], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    assert "no command 'no-such-opp-command'" in done.stderr


def test_the_weekly_review_shows_opps_own_error(tmp_path):
    env = {**os.environ, "OPP": OPP_BIN, "OPP_DB": str(tmp_path / "missing" / "x.db")}
    done = subprocess.run(
        ["bash", str(REPO / "examples" / "weekly-review.sh")], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    assert "opp: error: cannot create the database" in done.stderr
    assert "weekly-review.sh: opp report overdue failed" in done.stderr


# -- counts in messages ----------------------------------------------------------------------------------


def test_counts_of_one_are_singular(opp, tmp_path):
    opp("create", "One", "--org", "Initech")
    assert "(1 event: removed 1)" in opp("undo").stderr
    source = tmp_path / "deals.csv"
    source.write_text("title,customer,assignee\nOne,Initech,newcomer\n")
    message = opp("import", source).stderr
    assert "imported 1 row:" in message and "0 new customers, 1 new user (newcomer)" in message


def test_the_saved_records_are_named_in_json_errors_too(db, tmp_path):
    if sys.platform != "linux":
        pytest.skip("/dev/full is Linux's")
    with open("/dev/full", "w") as full:
        done = opp_process("--db", db, "user", "add", "mo", cwd=tmp_path, stdout=full, OPP_FORMAT="json")
    assert done.returncode == 5
    error = json.loads(done.stderr.splitlines()[1])["error"]
    assert error["code"] == "unavailable" and "the change was saved (user 1)" in error["message"]
