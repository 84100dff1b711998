"""The stage rules of the contract ("Stages") through ``opp stage``: single and bulk moves."""

from __future__ import annotations

import pytest

OPEN = ["lead", "qualification", "proposal", "negotiation"]
DEFAULTS = {
    "lead": 15,
    "qualification": 30,
    "proposal": 50,
    "negotiation": 75,
    "closed-won": 100,
    "closed-lost": 0,
}
LATER = "2026-03-12T10:00:00Z"


def make(opp, stage="lead", value="1000"):
    return opp.json("create", "Deal", "--org", "Initech", "--stage", stage, "--value", value)["id"]


def move(opp, stage, *ids_and_options, **env):
    """Move deals and return the single deal (or the list when several were moved)."""
    moved = opp.json("stage", stage, *ids_and_options, **env)
    return moved[0] if len(moved) == 1 else moved


def stage_events(opp, deal_id):
    return [e for e in opp.json("history", deal_id) if e["action"] == "stage"]


def test_stages_have_the_default_probabilities(opp):
    stages = opp.json("stages", "list")
    assert {s["key"]: s["probability"] for s in stages} == DEFAULTS
    assert [s["key"] for s in stages] == [*OPEN, "closed-won", "closed-lost"]
    assert [s["kind"] for s in stages] == ["open"] * 4 + ["won", "lost"]


@pytest.mark.parametrize("stage", list(DEFAULTS))
def test_create_in_a_stage_takes_its_default_probability(opp, stage):
    deal = opp.json("create", "Deal", "--org", "Initech", "--stage", stage)
    assert deal["probability"] == DEFAULTS[stage]


def test_forward_one_stage_at_a_time_sets_the_default_probability(opp):
    deal_id = make(opp)
    for stage in [*OPEN[1:], "closed-won"]:
        deal = move(opp, stage, deal_id)
        assert (deal["stage"], deal["probability"]) == (stage, DEFAULTS[stage])
    assert deal["status"] == "won"


@pytest.mark.parametrize(
    ("start", "target", "skipped"),
    [
        ("lead", "proposal", "qualification"),
        ("lead", "negotiation", "qualification, proposal"),
        ("qualification", "negotiation", "proposal"),
    ],
)
def test_skipping_a_stage_needs_force(opp, unchanged, start, target, skipped):
    deal_id = make(opp, start)
    check = unchanged()
    message = opp.fails(4, "stage", target, deal_id)
    assert f"opportunity {deal_id}: moving from {start} to {target} skips {skipped}" in message
    assert "--force" in message
    check()
    deal = move(opp, target, deal_id, "--force")
    assert (deal["stage"], deal["probability"]) == (target, DEFAULTS[target])
    assert {e["note"] for e in stage_events(opp, deal_id)} == {f"forced: skipped {skipped}"}


def test_an_ordinary_move_has_no_note(opp):
    deal_id = make(opp)
    move(opp, "qualification", deal_id)
    assert {e["note"] for e in stage_events(opp, deal_id)} == {None}


@pytest.mark.parametrize(
    ("start", "target"), [("negotiation", "lead"), ("proposal", "qualification"), ("negotiation", "proposal")]
)
def test_moving_back_is_allowed(opp, start, target):
    deal_id = make(opp, start)
    deal = move(opp, target, deal_id)
    assert (deal["stage"], deal["probability"], deal["status"]) == (target, DEFAULTS[target], "open")


@pytest.mark.parametrize("stage", ["proposal", "closed-won", "closed-lost"])
def test_moving_to_the_current_stage_changes_nothing(opp, unchanged, stage):
    deal_id = make(opp, stage)
    check = unchanged()
    deal = move(opp, stage, deal_id, "--probability", DEFAULTS[stage], OPP_NOW=LATER)
    assert deal["updated_at"] == "2026-03-10T08:30:00Z"
    check()


def test_moving_to_the_current_stage_ignores_a_probability(opp, unchanged):
    deal_id = make(opp, "proposal")
    check = unchanged()
    assert move(opp, "proposal", deal_id, "--probability", "60")["probability"] == 50
    check()


@pytest.mark.parametrize("typed", ["QUALIFICATION", "Qualification", " qualification "])
def test_stage_keys_are_case_insensitive(opp, typed):
    assert move(opp, typed, make(opp))["stage"] == "qualification"


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("won", "closed-won"),
        ("WON", "closed-won"),
        ("lost", "closed-lost"),
        ("Lost", "closed-lost"),
        ("Closed-Won", "closed-won"),
    ],
)
def test_won_and_lost_are_aliases(opp, alias, key):
    assert move(opp, alias, make(opp, "negotiation"))["stage"] == key


@pytest.mark.parametrize("target", ["nope", "closed", "won-ish", ""])
def test_unknown_stage_is_invalid(opp, unchanged, target):
    deal_id = make(opp)
    check = unchanged()
    assert "unknown stage" in opp.fails(2, "stage", target, deal_id)
    check()


@pytest.mark.parametrize("start", OPEN)
def test_closed_lost_from_any_open_stage_stores_the_reason(opp, start):
    deal_id = make(opp, start)
    deal = move(opp, "lost", deal_id, "--reason", "Went with a competitor", OPP_NOW=LATER)
    assert deal["stage"] == "closed-lost"
    assert (deal["status"], deal["probability"], deal["forecast"]) == ("lost", 0, 0)
    assert deal["lost_reason"] == "Went with a competitor"
    assert deal["closed_at"] == LATER and deal["updated_at"] == LATER
    changes = {e["field"]: (e["old"], e["new"]) for e in stage_events(opp, deal_id)}
    assert changes["lost_reason"] == (None, "Went with a competitor")
    assert changes["status"] == ("open", "lost")


def test_closed_lost_without_a_reason(opp):
    deal = move(opp, "lost", make(opp))
    assert (deal["status"], deal["lost_reason"]) == ("lost", None)


@pytest.mark.parametrize("target", ["qualification", "won", "lead"])
def test_reason_with_another_target_is_invalid(opp, unchanged, target):
    deal_id = make(opp, "negotiation")
    check = unchanged()
    assert "--reason applies only to a move to closed-lost" in opp.fails(
        2, "stage", target, deal_id, "--reason", "why"
    )
    check()


def test_closed_won_only_from_the_last_open_stage(opp, unchanged):
    deal_id = make(opp, "proposal")
    check = unchanged()
    message = opp.fails(4, "stage", "won", deal_id)
    assert "a deal wins only from negotiation; this one is in proposal" in message
    check()
    deal = move(opp, "won", deal_id, "--force")
    assert (deal["status"], deal["probability"]) == ("won", 100)
    assert {e["note"] for e in stage_events(opp, deal_id)} == {"forced: skipped negotiation"}


def test_closing_records_stage_probability_status_and_closed_at(opp):
    deal_id = make(opp, "negotiation")
    deal = move(opp, "won", deal_id, OPP_NOW=LATER)
    assert (deal["status"], deal["closed_at"], deal["forecast"]) == ("won", LATER, 1000)
    recorded = [(e["field"], e["old"], e["new"], e["actor"], e["at"]) for e in stage_events(opp, deal_id)]
    assert recorded == [
        ("stage", "negotiation", "closed-won", "dana", LATER),
        ("probability", "75", "100", "dana", LATER),
        ("status", "open", "won", "dana", LATER),
        ("closed_at", None, LATER, "dana", LATER),
    ]


@pytest.mark.parametrize(
    ("target", "probability", "fragment"),
    [
        ("won", "50", "a closed-won deal has probability 100, not 50"),
        ("lost", "10", "a closed-lost deal has probability 0, not 10"),
        ("qualification", "150", "probability must be a whole number"),
        ("qualification", "12.5", "probability must be a whole number"),
    ],
)
def test_contrary_or_bad_probability_is_invalid(opp, unchanged, target, probability, fragment):
    deal_id = make(opp, "negotiation")
    check = unchanged()
    assert fragment in opp.fails(2, "stage", target, deal_id, "--probability", probability)
    check()


def test_matching_closed_probability_is_accepted(opp):
    assert move(opp, "won", make(opp, "negotiation"), "--probability", "100")["probability"] == 100
    assert move(opp, "lost", make(opp), "--probability", "0%")["probability"] == 0


def test_probability_overrides_the_default(opp):
    deal_id = make(opp)
    deal = move(opp, "qualification", deal_id, "--probability", "35%")
    assert (deal["probability"], deal["forecast"]) == (35, 350)
    assert move(opp, "lead", deal_id)["probability"] == 15


@pytest.mark.parametrize(
    ("closed", "target"),
    [("won", "lost"), ("lost", "won"), ("won", "qualification"), ("lost", "negotiation")],
)
def test_a_closed_deal_moves_only_with_reopen(opp, unchanged, closed, target):
    deal_id = make(opp, closed)
    check = unchanged()
    opp.fails(4, "stage", target, deal_id)
    opp.fails(4, "stage", target, deal_id, "--force")
    check()


@pytest.mark.parametrize(("closed", "target"), [("won", "lost"), ("lost", "won")])
def test_reopen_does_not_move_between_closed_stages(opp, unchanged, closed, target):
    deal_id = make(opp, closed)
    check = unchanged()
    assert "already closed-" in opp.fails(4, "stage", target, deal_id, "--reopen", "--force")
    check()


@pytest.mark.parametrize("closed", ["won", "lost"])
@pytest.mark.parametrize("target", OPEN)
def test_reopen_to_any_open_stage_clears_closed_at(opp, closed, target):
    deal_id = make(opp, closed)
    opp("stage", closed, deal_id)  # no-op
    deal = move(opp, target, deal_id, "--reopen", OPP_NOW=LATER)
    assert (deal["stage"], deal["status"], deal["closed_at"]) == (target, "open", None)
    assert deal["probability"] == DEFAULTS[target] and deal["lost_reason"] is None
    events = stage_events(opp, deal_id)
    assert {e["note"] for e in events} == {f"reopened from closed-{closed}"}
    assert ("closed_at", "2026-03-10T08:30:00Z", None) in [(e["field"], e["old"], e["new"]) for e in events]


def test_reopen_clears_the_lost_reason(opp):
    deal_id = make(opp)
    move(opp, "lost", deal_id, "--reason", "budget")
    deal = move(opp, "lead", deal_id, "--reopen")
    assert deal["lost_reason"] is None
    assert ("lost_reason", "budget", None) in [
        (e["field"], e["old"], e["new"]) for e in stage_events(opp, deal_id)
    ]


def test_reopen_on_an_open_deal_is_an_ordinary_move(opp):
    deal = move(opp, "qualification", make(opp), "--reopen")
    assert deal["stage"] == "qualification"


def test_reopened_deal_can_be_won_again_with_a_new_closed_at(opp):
    deal_id = make(opp, "won")
    move(opp, "negotiation", deal_id, "--reopen")
    deal = move(opp, "won", deal_id, OPP_NOW=LATER)
    assert (deal["status"], deal["closed_at"]) == ("won", LATER)


def test_rules_follow_a_configured_pipeline(opp, unchanged):
    opp("stages", "add", "discovery", "--after", "lead", "--probability", "20")
    opp("stages", "add", "legal", "--after", "negotiation", "--probability", "90")
    deal_id = make(opp)
    check = unchanged()
    assert "skips discovery" in opp.fails(4, "stage", "qualification", deal_id)
    check()
    assert move(opp, "discovery", deal_id)["probability"] == 20
    negotiating = make(opp, "negotiation")
    assert "a deal wins only from legal" in opp.fails(4, "stage", "won", negotiating)
    assert move(opp, "legal", negotiating)["probability"] == 90
    assert move(opp, "won", negotiating)["status"] == "won"


# -- bulk ----------------------------------------------------------------------------------------------


def test_bulk_move_moves_every_deal(opp):
    ids = [make(opp) for _ in range(3)]
    moved = move(opp, "qualification", *ids, "--probability", "33")
    assert [(d["id"], d["stage"], d["probability"]) for d in moved] == [(i, "qualification", 33) for i in ids]


def test_bulk_move_reads_ids_from_stdin(opp):
    ids = [make(opp) for _ in range(3)]
    moved = opp.json("stage", "qualification", "-", input=f"{ids[0]}\n\n {ids[2]} \n")
    assert [d["id"] for d in moved] == [ids[0], ids[2]]
    assert opp.json("show", ids[1])["stage"] == "lead"


def test_bulk_move_keeps_the_order_given_and_ignores_repeats(opp):
    ids = [make(opp) for _ in range(3)]
    moved = opp.json("stage", "qualification", ids[2], ids[0], ids[2])
    assert [d["id"] for d in moved] == [ids[2], ids[0]]


def test_bulk_move_skips_deals_already_there(opp):
    first, second = make(opp), make(opp, "qualification")
    moved = move(opp, "qualification", first, second)
    assert [d["stage"] for d in moved] == ["qualification", "qualification"]
    assert len(stage_events(opp, second)) == 0


def test_bulk_move_is_all_or_nothing_on_a_refusal(opp, unchanged):
    ids = [make(opp), make(opp), make(opp, "lead"), make(opp)]
    opp("stage", "qualification", ids[0], ids[1], ids[3])
    check = unchanged()
    message = opp.fails(4, "stage", "proposal", *ids)
    assert f"opportunity {ids[2]}: moving from lead to proposal skips qualification" in message
    check()


def test_bulk_move_is_all_or_nothing_on_an_unknown_id(opp, unchanged):
    first, second = make(opp), make(opp)
    check = unchanged()
    assert "no opportunity 99" in opp.fails(3, "stage", "qualification", first, 99, second)
    check()


def test_bulk_move_from_stdin_is_all_or_nothing(opp, unchanged):
    first, second = make(opp), make(opp, "won")
    check = unchanged()
    opp.fails(4, "stage", "qualification", "-", input=f"{first}\n{second}\n")
    check()


@pytest.mark.parametrize(
    ("ids", "stdin", "fragment"),
    [
        (["abc"], None, "opportunity id must be a positive integer, not 'abc'"),
        (["1", "0"], None, "not '0'"),
        (["1", "-"], None, "'-' reads ids from stdin and must be the only id"),
        (["-"], "", "no opportunity ids given"),
        (["-"], "1\nx\n", "not 'x'"),
    ],
)
def test_bulk_move_refuses_bad_ids(opp, unchanged, ids, stdin, fragment):
    make(opp)
    check = unchanged()
    assert fragment in opp.fails(2, "stage", "qualification", *ids, input=stdin)
    check()


def test_stage_needs_an_id(opp):
    opp.fails(2, "stage", "qualification")
