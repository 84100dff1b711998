"""Two reading jobs side by side (``Context.side_by_side``), as the weekly review runs its two halves,
and two over one snapshot (``Context.reading_side_by_side``), as a whole and a part of it are read."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, text

from opp.core.context import open_context
from opp.core.errors import Invalid, NotFound
from opp.store import engine as store_engine
from tests.conftest import BACKEND


def _cache_kib(ctx) -> int:
    with ctx.reading() as conn:
        return -int(conn.execute(text("PRAGMA cache_size")).scalar())


def test_both_answers_come_back_the_first_read_in_a_thread_of_its_own(ctx):
    def where() -> tuple[int, int]:
        with ctx.reading() as conn:
            return threading.get_ident(), conn.execute(text("SELECT 1")).scalar()

    (first_thread, one), (second_thread, also_one) = ctx.side_by_side(where, where)
    assert (one, also_one) == (1, 1)
    assert first_thread != second_thread == threading.get_ident()


def test_the_two_share_the_page_cache_one_read_has_alone(db_path):
    ctx = open_context(str(db_path), actor="dana")
    try:
        whole = store_engine.READ_PAGE_CACHE_KIB
        first, second = ctx.side_by_side(lambda: _cache_kib(ctx), lambda: _cache_kib(ctx))
        assert first == second == whole // 2
        assert _cache_kib(ctx) == whole  # and each read after has it whole again
    finally:
        ctx.close()


def test_an_in_memory_database_runs_them_one_after_the_other():
    ctx = open_context("sqlite://", actor="dana")  # SQLite in memory: each connection its own
    try:
        order: list[str] = []

        def job(name: str):
            def run() -> int:
                order.append(name)
                return threading.get_ident()

            return run

        first, second = ctx.side_by_side(job("first"), job("second"))
        assert first == second == threading.get_ident()
        assert order == ["first", "second"]
    finally:
        ctx.close()


def _fails(error: Exception):
    def run() -> None:
        raise error

    return run


@pytest.mark.parametrize(
    ("first_fails", "second_fails", "raised"),
    [(True, False, Invalid), (False, True, NotFound), (True, True, Invalid)],
)
def test_a_failure_of_either_is_raised_the_first_s_when_both_fail(ctx, first_fails, second_fails, raised):
    first = _fails(Invalid("the first failed")) if first_fails else (lambda: 1)
    second = _fails(NotFound("the second failed")) if second_fails else (lambda: 2)
    with pytest.raises(raised):
        ctx.side_by_side(first, second)
    assert ctx.store.read_cache_kib == store_engine.READ_PAGE_CACHE_KIB


def _settings_count(conn) -> int:
    return int(conn.execute(text("SELECT count(*) FROM settings")).scalar())


def _commit_a_setting(db: str, key: str) -> None:
    """A write committed by another operator's opp (a store of its own)."""
    other = open_context(db, actor="sam")
    try:
        with other.store.write() as conn:
            conn.execute(text("INSERT INTO settings (key, value) VALUES (:key, 'x')"), {"key": key})
    finally:
        other.close()


def test_the_two_reads_see_one_snapshot_a_commit_made_while_they_run_seen_by_neither(ctx, db):
    with ctx.reading() as conn:
        before = _settings_count(conn)
    written = threading.Event()

    def first(conn) -> tuple[int, int]:
        _commit_a_setting(db, "opp_test_first")
        written.set()
        return threading.get_ident(), _settings_count(conn)

    def second(conn) -> int:
        assert written.wait(30)
        return _settings_count(conn)

    (thread, seen_first), seen_second = ctx.reading_side_by_side(first, second)
    assert seen_first == seen_second == before
    assert thread != threading.get_ident()
    with ctx.reading() as conn:
        assert _settings_count(conn) == before + 1  # it was committed all the same


def _commit_when_the_second_begins(ctx, db: str, times: int) -> list[int]:
    """Commit a write as the second read of a pair begins (the third transaction begun: the second
    connection's data version, the first read, the second read), up to ``times`` pairs."""
    begun: list[int] = []

    @event.listens_for(ctx.store.engine, "begin")
    def between(conn) -> None:
        begun.append(1)
        if len(begun) % 3 == 0 and len(begun) // 3 <= times:
            _commit_a_setting(db, f"opp_test_{len(begun)}")

    return begun


def test_a_commit_between_the_two_beginnings_is_noticed_and_both_begun_again(ctx, db):
    with ctx.reading() as conn:
        before = _settings_count(conn)
    _commit_when_the_second_begins(ctx, db, times=1)
    seen_first, seen_second = ctx.reading_side_by_side(_settings_count, _settings_count)
    assert seen_first == seen_second
    if ctx.store.is_sqlite:  # begun again after the commit, so both see it
        assert seen_first == before + 1
    else:  # PostgreSQL: the second took the first's exported snapshot, from before the commit
        assert seen_first == before


@pytest.mark.skipif(BACKEND != "sqlite", reason="PostgreSQL shares the snapshot itself: no tries")
def test_commits_between_every_try_leave_both_jobs_to_one_transaction(ctx, db):
    _commit_when_the_second_begins(ctx, db, times=10)
    connections: list[object] = []

    def job(conn) -> int:
        connections.append(conn)
        return threading.get_ident()

    first, second = ctx.reading_side_by_side(job, job)
    assert first == second == threading.get_ident()
    assert connections[0] is connections[1]


def test_an_in_memory_database_reads_both_in_one_transaction():
    ctx = open_context("sqlite://", actor="dana")
    try:
        connections: list[object] = []

        def job(conn) -> int:
            connections.append(conn)
            return _settings_count(conn)

        ctx.reading_side_by_side(job, job)
        assert connections[0] is connections[1]
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("first_fails", "second_fails", "raised"),
    [(True, False, Invalid), (False, True, NotFound), (True, True, Invalid)],
)
def test_a_failure_of_either_read_is_raised_the_first_s_when_both_fail(
    ctx, first_fails, second_fails, raised
):
    def first(conn) -> int:
        if first_fails:
            raise Invalid("the first failed")
        return 1

    def second(conn) -> int:
        if second_fails:
            raise NotFound("the second failed")
        return 2

    with pytest.raises(raised):
        ctx.reading_side_by_side(first, second)
    assert ctx.store.read_cache_kib == store_engine.READ_PAGE_CACHE_KIB


def test_one_read_sees_the_database_as_its_first_statement_did(ctx, db):
    """On PostgreSQL too (REPEATABLE READ), not only on SQLite: a report's several queries agree."""
    with ctx.reading() as conn:
        before = _settings_count(conn)
        _commit_a_setting(db, "opp_test_during")
        assert _settings_count(conn) == before
    with ctx.reading() as conn:
        assert _settings_count(conn) == before + 1
