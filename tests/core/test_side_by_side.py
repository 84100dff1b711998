"""Two reading jobs side by side (``Context.side_by_side``), as the weekly review runs its two halves."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from opp.core.context import open_context
from opp.core.errors import Invalid, NotFound
from opp.store import engine as store_engine


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
