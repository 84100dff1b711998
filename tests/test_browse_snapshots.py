"""The screens of ``opp browse`` pinned as SVG at 80×24 (pytest-textual-snapshot; the clock is fixed,
so the pictures are the same on every run): the list, each detail tab and the board.

After a deliberate change to a screen, look at the new pictures and update them with
``pytest tests/test_browse_snapshots.py --snapshot-update``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opp.cli.browse.app import BrowseApp
from opp.cli.browse.data import Browser
from opp.core.clock import Clock
from opp.core.context import Context, open_context
from opp.core.pipeline.scope import Scope
from tests.conftest import BACKEND, NOW
from tests.test_browse import browse_template  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BACKEND != "sqlite", reason="the pictures are taken once, on SQLite"),
]


@pytest.fixture
def app(db, restore, browse_template) -> Iterator[BrowseApp]:  # noqa: F811
    restore(browse_template)
    ctx: Context = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
    yield BrowseApp(Browser(ctx, Scope()))
    ctx.close()


def test_the_list_with_the_overview(app, snap_compare):
    assert snap_compare(app, terminal_size=(80, 24))


def test_the_billables_tab(app, snap_compare):
    assert snap_compare(app, press=["enter", "right"], terminal_size=(80, 24))


def test_the_activity_tab(app, snap_compare):
    assert snap_compare(app, press=["enter", "right", "right"], terminal_size=(80, 24))


def test_the_board(app, snap_compare):
    assert snap_compare(app, press=["b", "_"], terminal_size=(80, 24))


def test_the_help(app, snap_compare):
    assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24))
