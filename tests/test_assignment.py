"""Assigning, unassigning and claiming deals, including claims raced by real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from opp.core.pipeline import customers, deals, history, users

USERS = ["ann", "ben", "cat", "dan", "eve", "fay"]
LATER = "2026-03-12T10:00:00Z"


@pytest.fixture
def team(opp):
    """The ``opp`` CLI with users mo and lee as well as dana, and deals 1 and 2 (unassigned)."""
    opp("user", "add", "mo")
    opp("user", "add", "lee")
    for title in ("One", "Two"):
        opp("create", title, "--org", "Initech")
    return opp


def assign_events(opp, deal_id):
    return [
        (e["actor"], e["field"], e["old"], e["new"], e["note"])
        for e in opp.json("history", deal_id, "--action", "assign")
    ]


def test_assign_sets_the_assignee_and_records_it(team):
    deal = team.json("assign", "mo", "1", OPP_NOW=LATER)[0]
    assert (deal["assignee"], deal["updated_at"]) == ("mo", LATER)
    assert assign_events(team, 1) == [("dana", "assignee", None, "mo", None)]
    team("assign", "lee", "1")
    assert assign_events(team, 1)[-1] == ("dana", "assignee", "mo", "lee", None)


def test_assign_several_deals_and_from_stdin(team):
    assert [d["assignee"] for d in team.json("assign", "mo", "1", "2")] == ["mo", "mo"]
    assert [d["assignee"] for d in team.json("assign", "lee", "-", input="2\n")] == ["lee"]
    assert team.json("show", "1")["assignee"] == "mo"


def test_assigning_the_same_user_again_changes_nothing(team, unchanged):
    team("assign", "mo", "1")
    check = unchanged()
    team("assign", "mo", "1", OPP_NOW=LATER)
    check()


def test_assigning_a_closed_deal_is_allowed(team):
    team("stage", "lost", "1")
    deal = team.json("assign", "mo", "1")[0]
    assert (deal["assignee"], deal["status"]) == ("mo", "lost")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["assign", "ghost", "1"], 3, "no user 'ghost'"),
        (["assign", "mo", "1", "99"], 3, "no opportunity 99"),
        (["assign", "mo", "abc"], 2, "not 'abc'"),
        (["assign", "mo"], 2, ""),
        (["unassign", "1", "99"], 3, "no opportunity 99"),
        (["unassign", "0"], 2, "not '0'"),
        (["claim", "1", "99"], 3, "no opportunity 99"),
        (["claim", "x"], 2, "not 'x'"),
    ],
)
def test_bad_assignments_change_nothing(team, unchanged, args, code, fragment):
    team("assign", "lee", "2")
    check = unchanged()
    assert fragment in team.fails(code, *args)
    check()


def test_unassign_records_a_null_assignee(team):
    team("assign", "mo", "1")
    deal = team.json("unassign", "1")[0]
    assert deal["assignee"] is None
    assert assign_events(team, 1)[-1] == ("dana", "assignee", "mo", None, None)


def test_unassigning_an_unassigned_deal_changes_nothing(team, unchanged):
    check = unchanged()
    team("unassign", "1", "2")
    check()


def test_claim_of_an_unassigned_deal(team):
    deal = team.json("claim", "1", OPP_USER="mo")[0]
    assert deal["assignee"] == "mo"
    assert assign_events(team, 1) == [("mo", "assignee", None, "mo", "claim")]


def test_claim_with_the_global_as_flag(team):
    assert team.json("--as", "lee", "claim", "2")[0]["assignee"] == "lee"
    assert assign_events(team, 2) == [("lee", "assignee", None, "lee", "claim")]


def test_claiming_a_deal_you_hold_changes_nothing(team, unchanged):
    team("claim", "1")
    check = unchanged()
    assert team.json("claim", "1", OPP_NOW=LATER)[0]["assignee"] == "dana"
    check()


def test_claim_of_a_deal_held_by_someone_else_is_refused(team, unchanged):
    team("assign", "mo", "2")
    check = unchanged()
    message = team.fails(4, "claim", "1", "2")
    assert "opportunity 2 is held by mo" in message
    check()  # deal 1 was not claimed either


def test_claim_by_an_unknown_acting_user_is_not_found(team, unchanged):
    check = unchanged()
    assert "no user 'ghost'" in team.fails(3, "--as", "ghost", "claim", "1")
    assert "no user 'ghost'" in team.fails(3, "claim", "1", OPP_USER="ghost")
    check()


def test_handles_are_matched_case_insensitively_wherever_they_are_read(team):
    assert team.json("assign", " Mo ", "1")[0]["assignee"] == "mo"
    assert assign_events(team, 1) == [("dana", "assignee", None, "mo", None)]
    assert team.json("--as", "LEE", "claim", "2")[0]["assignee"] == "lee"
    assert assign_events(team, 2) == [("lee", "assignee", None, "lee", "claim")]
    assert team.json("create", "Three", "--org", "Initech", "--assign", "Dana")["assignee"] == "dana"
    assert [d["id"] for d in team.json("list", "--assignee", "MO")] == [1]
    assert [e["opportunity_id"] for e in team.json("history", "--actor", "Lee")] == [2]
    assert team.json("user", "edit", "Lee", "--name", "Lee Adama")["handle"] == "lee"
    team("--as", "Lee", "undo")  # the acting user is lee, whose last command was the claim
    assert team.json("show", "2")["assignee"] is None


def test_claiming_a_closed_deal_is_allowed(team):
    team("stage", "lost", "1")
    assert team.json("claim", "1")[0]["assignee"] == "dana"


def test_core_claim_and_assign(ctx):
    users.add_user(ctx, "dana")
    users.add_user(ctx, "mo")
    customers.add_customer(ctx, "organization", "Initech")
    deal = deals.create_deal(ctx, "Deal", org="Initech")
    assert deals.claim_deals(ctx, [deal.id])[0].assignee == "dana"
    assert deals.assign_deals(ctx, " mo ", [str(deal.id)])[0].assignee == "mo"
    assert deals.unassign_deals(ctx, [deal.id])[0].assignee is None
    notes = [e.note for e in history.list_events(ctx, deal.id, action="assign")]
    assert notes == ["claim", None, None]


def _opp_binary() -> str:
    from pathlib import Path

    return shutil.which("opp", path=str(Path(sys.executable).parent)) or "opp"


@pytest.mark.slow
def test_concurrent_claims_exactly_one_wins(ctx, db, tmp_path):
    for handle in USERS:
        users.add_user(ctx, handle)
    customers.add_customer(ctx, "organization", "Initech")
    deal = deals.create_deal(ctx, "Contested", org="Initech")
    ctx.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=db, OPP_NOW="2026-03-10T08:30:00Z", HOME=str(tmp_path))
    procs = [
        subprocess.Popen(
            [_opp_binary(), "--as", handle, "claim", str(deal.id), "-f", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for handle in USERS
    ]
    results = [(proc.wait(timeout=60), *proc.communicate()) for proc in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 4, 4, 4, 4, 4], results
    (winner,) = [handle for handle, (code, _, _) in zip(USERS, results, strict=True) if code == 0]
    for code, out, err in results:
        if code == 4:
            assert out == ""
            assert err.startswith(f"opp: error: opportunity {deal.id} is held by {winner}"), err
    claims = history.list_events(ctx, deal.id, action="assign")
    assert [(e.actor, e.new, e.note) for e in claims] == [(winner, winner, "claim")]
    assert deals.show_deal(ctx, deal.id).opportunity.assignee == winner
