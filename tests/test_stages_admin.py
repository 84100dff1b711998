"""opp stages list / add / edit / remove: the configurable pipeline."""

from __future__ import annotations

import pytest

DEFAULT = [
    {"key": "lead", "name": "Lead", "probability": 15, "position": 1, "kind": "open", "category": "pipeline"},
    {
        "key": "qualification",
        "name": "Qualification",
        "probability": 30,
        "position": 2,
        "kind": "open",
        "category": "pipeline",
    },
    {
        "key": "proposal",
        "name": "Proposal",
        "probability": 50,
        "position": 3,
        "kind": "open",
        "category": "best-case",
    },
    {
        "key": "negotiation",
        "name": "Negotiation",
        "probability": 75,
        "position": 4,
        "kind": "open",
        "category": "commit",
    },
    {
        "key": "closed-won",
        "name": "Closed-Won",
        "probability": 100,
        "position": 1000,
        "kind": "won",
        "category": "closed",
    },
    {
        "key": "closed-lost",
        "name": "Closed-Lost",
        "probability": 0,
        "position": 1001,
        "kind": "lost",
        "category": "omitted",
    },
]


def keys(cli):
    return [stage["key"] for stage in cli.json("stages", "list")]


def open_positions(cli):
    return [(s["key"], s["position"]) for s in cli.json("stages", "list") if s["kind"] == "open"]


def test_default_six_stages(cli):
    assert cli.json("stages", "list") == DEFAULT


def test_list_as_a_table(cli):
    lines = cli("stages", "list").stdout.splitlines()
    assert lines[0].split() == ["key", "name", "probability", "position", "kind", "category"]
    assert lines[2].split() == ["lead", "Lead", "15", "1", "open", "pipeline"]
    assert len(lines) == 2 + 6


def test_add_after_renumbers_the_open_stages(cli):
    added = cli.json("stages", "add", "discovery", "--after", "lead", "--probability", "20")
    assert added == {
        "key": "discovery",
        "name": "Discovery",
        "probability": 20,
        "position": 2,
        "kind": "open",
        "category": "pipeline",
    }
    assert open_positions(cli) == [
        ("lead", 1),
        ("discovery", 2),
        ("qualification", 3),
        ("proposal", 4),
        ("negotiation", 5),
    ]


def test_add_before_with_a_name(cli):
    added = cli.json("stages", "add", "Demo", "--before", "proposal", "-p", "40%", "--name", "Product demo")
    assert added == {
        "key": "demo",
        "name": "Product demo",
        "probability": 40,
        "position": 3,
        "kind": "open",
        "category": "pipeline",
    }
    assert keys(cli) == [
        "lead",
        "qualification",
        "demo",
        "proposal",
        "negotiation",
        "closed-won",
        "closed-lost",
    ]


def test_add_after_the_last_open_stage(cli):
    cli("stages", "add", "contract", "--after", "negotiation", "-p", "90")
    assert open_positions(cli)[-1] == ("contract", 5)
    assert keys(cli)[-2:] == ["closed-won", "closed-lost"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("Bad_Key", "--after", "lead", "-p", "10"), "invalid stage key 'Bad_Key'"),
        (("1st", "--after", "lead", "-p", "10"), "invalid stage key '1st'"),
        (("has space", "--after", "lead", "-p", "10"), "invalid stage key"),
        (("k" * 41, "--after", "lead", "-p", "10"), "invalid stage key"),
        (("won", "--after", "lead", "-p", "10"), "invalid stage key 'won'"),
        (("x", "--after", "closed-won", "-p", "10"), "closed-won is a closed stage"),
        (("x", "--after", "lost", "-p", "10"), "closed-lost is a closed stage"),
        (("x", "--before", "closed-won", "-p", "10"), "closed-won is a closed stage"),
        (("x", "--after", "nowhere", "-p", "10"), "unknown stage 'nowhere'"),
        (("x", "-p", "10"), "give exactly one of --after or --before"),
        (
            ("x", "--after", "lead", "--before", "proposal", "-p", "10"),
            "give exactly one of --after or --before",
        ),
        (("x", "--after", "lead", "-p", "150"), "probability must be a whole number from 0 to 100"),
        (("x", "--after", "lead", "-p", "-5"), "probability must be a whole number from 0 to 100"),
        (("x", "--after", "lead", "-p", "10", "--name", " "), None),
    ],
)
def test_add_refuses_bad_input(cli, unchanged, args, expected):
    cli("stages", "list")  # create the database before the snapshot
    if expected is None:  # a blank name falls back to the key, it is not an error
        cli("stages", "add", *args)
        assert cli.json("stages", "list")[1]["name"] == "X"
        return
    check = unchanged()
    assert expected in cli.fails(2, "stages", "add", *args)
    check()


def test_add_without_probability_is_a_usage_error(cli, unchanged):
    cli("stages", "list")
    check = unchanged()
    assert "--probability" in cli.fails(2, "stages", "add", "x", "--after", "lead")
    check()


@pytest.mark.parametrize("key", ["proposal", "PROPOSAL", "closed-won"])
def test_add_an_existing_key_is_a_conflict(cli, unchanged, key):
    cli("stages", "list")
    check = unchanged()
    assert "already exists" in cli.fails(4, "stages", "add", key, "--after", "lead", "-p", "10")
    check()


def test_edit_name_and_probability(cli):
    edited = cli.json("stages", "edit", "proposal", "--name", "Quote sent", "--probability", "55")
    assert edited == {
        "key": "proposal",
        "name": "Quote sent",
        "probability": 55,
        "position": 3,
        "kind": "open",
        "category": "best-case",
    }
    assert cli.json("stages", "list")[2] == edited


def test_edit_after_moves_the_stage(cli):
    cli("stages", "edit", "lead", "--after", "proposal")
    assert open_positions(cli) == [("qualification", 1), ("proposal", 2), ("lead", 3), ("negotiation", 4)]
    cli("stages", "edit", "lead", "--before", "qualification")
    assert open_positions(cli) == [("lead", 1), ("qualification", 2), ("proposal", 3), ("negotiation", 4)]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("closed-won", "--name", "Won!"), 4, "closed-won is a closed stage and cannot be changed"),
        (("won", "--probability", "90"), 4, "closed-won is a closed stage and cannot be changed"),
        (("closed-lost", "--after", "lead"), 4, "closed-lost is a closed stage and cannot be changed"),
        (("nowhere", "--name", "X"), 2, "unknown stage 'nowhere'"),
        (("lead", "--name", ""), 2, "stage name must not be empty"),
        (("lead", "--probability", "101"), 2, "probability must be a whole number"),
        (("lead", "--after", "lead"), 2, "cannot place lead relative to itself"),
        (("lead", "--after", "closed-won"), 2, "closed-won is a closed stage"),
        (("lead", "--after", "nowhere"), 2, "unknown stage 'nowhere'"),
    ],
)
def test_edit_refuses(cli, unchanged, args, code, expected):
    cli("stages", "list")
    check = unchanged()
    assert expected in cli.fails(code, "stages", "edit", *args)
    check()


@pytest.mark.parametrize("key", ["closed-won", "closed-lost", "lost"])
def test_closed_stages_cannot_be_removed(cli, unchanged, key):
    cli("stages", "list")
    check = unchanged()
    assert "is a closed stage and cannot be removed" in cli.fails(4, "stages", "remove", key)
    check()


def test_remove_an_unknown_stage_is_invalid(cli, unchanged):
    cli("stages", "list")
    check = unchanged()
    assert "unknown stage 'nowhere'" in cli.fails(2, "stages", "remove", "nowhere")
    check()


def test_remove_an_empty_stage_renumbers(cli):
    removed = cli.json("stages", "remove", "qualification")
    assert removed["key"] == "qualification"
    assert open_positions(cli) == [("lead", 1), ("proposal", 2), ("negotiation", 3)]


def test_remove_a_stage_holding_a_deal_is_refused(opp, unchanged):
    opp("create", "Deal", "--org", "Initech", "--stage", "proposal")
    check = unchanged()
    line = opp.fails(4, "stages", "remove", "proposal")
    assert "stage proposal still holds 1 deal(s)" in line
    check()


def test_a_stage_can_be_removed_once_its_deals_have_moved_on(opp):
    opp("stages", "add", "extra", "--after", "lead", "-p", "20")
    deal = opp.json("create", "Deal", "--org", "Initech", "--stage", "extra")
    opp("stage", "lost", deal["id"])
    assert opp.json("show", deal["id"])["stage"] == "closed-lost"
    opp("stages", "remove", "extra")  # nothing is in it any more
    assert "extra" not in keys(opp)


def test_the_last_open_stage_cannot_be_removed(cli, unchanged):
    for key in ("lead", "qualification", "proposal"):
        cli("stages", "remove", key)
    check = unchanged()
    assert "negotiation is the only open stage" in cli.fails(4, "stages", "remove", "negotiation")
    check()


def test_a_new_stage_s_probability_is_used_when_a_deal_moves_into_it(opp):
    opp("stages", "add", "discovery", "--after", "lead", "-p", "22")
    deal = opp.json("create", "Deal", "--org", "Initech", "--value", "1000")
    assert deal["probability"] == 15
    moved = opp.json("stage", "discovery", deal["id"])
    assert moved[0]["stage"] == "discovery"
    assert moved[0]["probability"] == 22
    assert moved[0]["forecast"] == 220
    # the new stage now sits between lead and qualification: skipping it needs --force
    other = opp.json("create", "Other", "--org", "Initech")
    assert "skips discovery" in opp.fails(4, "stage", "qualification", other["id"])


def test_a_deal_created_in_a_new_stage_takes_its_probability(opp):
    opp("stages", "add", "discovery", "--after", "lead", "-p", "22")
    assert opp.json("create", "Deal", "--org", "Initech", "--stage", "discovery")["probability"] == 22


def test_changing_a_stage_probability_leaves_existing_deals_alone(opp):
    deal = opp.json("create", "Deal", "--org", "Initech", "--stage", "proposal", "--value", "100")
    before = opp.json("show", deal["id"])
    opp("stages", "edit", "proposal", "--probability", "60")
    after = opp.json("show", deal["id"])
    assert after == before
    assert after["probability"] == 50
    # but the next deal to move into the stage takes the new default
    other = opp.json("create", "Other", "--org", "Initech", "--stage", "qualification")
    assert opp.json("stage", "proposal", other["id"])[0]["probability"] == 60


def test_renaming_a_stage_keeps_its_key(opp):
    deal = opp.json("create", "Deal", "--org", "Initech", "--stage", "proposal")
    opp("stages", "edit", "proposal", "--name", "Offer")
    assert opp.json("show", deal["id"])["stage"] == "proposal"
    assert opp.json("stages", "list")[2]["name"] == "Offer"
