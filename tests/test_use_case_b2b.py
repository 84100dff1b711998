"""The guide's Use Case 1, a B2B software sale, run step by step through the CLI.

Steps (opportunities-module-guide, "Use Cases"): create the opportunity for an organization, set its
value to the contract amount ($50,000), Lead at 15%, assign a sales representative, then Qualification
(30%), Proposal (50%), Negotiation (75%) and Closed-Won (100%). Each step happens on its own day.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def day(n: int) -> str:
    return f"2026-03-{9 + n:02d}T09:00:00Z"


def forecast(value: str, probability: int) -> Decimal:
    return (Decimal(value) * probability / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_b2b_software_sale(opp):
    opp("user", "add", "sam", "--name", "Sam Seller")
    seen = 0

    def step(n, command, stage, probability, new_events, status="open"):
        """Run ``command`` on day ``n``; check the deal's figures and the history events it added."""
        nonlocal seen
        opp(*command.split(), OPP_NOW=day(n))
        deal = opp.json("show", "1")
        assert (deal["stage"], deal["probability"], deal["status"]) == (stage, probability, status)
        assert Decimal(str(deal["value"])) == Decimal("50000")
        assert Decimal(str(deal["forecast"])) == forecast("50000", probability)
        added = [(e["at"], e["action"], e["field"], e["old"], e["new"]) for e in deal["history"][seen:]]
        assert added == [(day(n), *event) for event in new_events]
        seen = len(deal["history"])
        return deal

    # 1. Create the opportunity linked to the organization.
    opp("create", "Initech - Enterprise licence", "--org", "Initech", OPP_NOW=day(1))
    created = opp.json("show", "1")
    assert created["customer"] == {"id": 1, "kind": "organization", "name": "Initech"}
    assert [e["action"] for e in created["history"]] == ["created"]
    seen = 1

    # 2. Set the value to the total contract amount.
    step(2, "edit 1 --value 50k", "lead", 15, [("updated", "value", "0.00", "50000.00")])

    # 3. Lead, at 15%: it already is; saying so again changes nothing.
    step(3, "stage Lead 1", "lead", 15, [])
    step(3, "edit 1 --probability 15%", "lead", 15, [])

    # 4. Assign a sales representative.
    deal = step(4, "assign sam 1", "lead", 15, [("assign", "assignee", None, "sam")])
    assert deal["assignee"] == "sam"

    # 5-10. Qualification after the first meeting, Proposal once sent, Negotiation over terms.
    previous = ("lead", 15)
    for n, (stage, probability) in enumerate(
        [("qualification", 30), ("proposal", 50), ("negotiation", 75)], 5
    ):
        moved = [
            ("stage", "stage", previous[0], stage),
            ("stage", "probability", str(previous[1]), str(probability)),
        ]
        step(n, f"stage {stage} 1", stage, probability, moved)
        # "Update probability to N%": the move already set it, so the edit writes nothing.
        step(n, f"edit 1 --probability {probability}", stage, probability, [])
        previous = (stage, probability)

    # 11-12. Closed-Won when the contract is signed, at 100%.
    closed = [
        ("stage", "stage", "negotiation", "closed-won"),
        ("stage", "probability", "75", "100"),
        ("stage", "status", "open", "won"),
        ("stage", "closed_at", None, day(8)),
    ]
    deal = step(8, "stage closed-won 1", "closed-won", 100, closed, status="won")
    step(9, "edit 1 --probability 100", "closed-won", 100, [], status="won")
    assert deal["closed_at"] == day(8) and deal["updated_at"] == day(8)
    assert deal["created_at"] == day(1) and deal["assignee"] == "sam"

    # The record of the sales process: every step, in order, by dana, none forced.
    history = opp.json("history", "1")
    assert [e["action"] for e in history] == ["created", "updated", "assign"] + ["stage"] * 10
    assert {e["actor"] for e in history} == {"dana"}
    assert {e["note"] for e in history} == {None}
    stages = [e["new"] for e in history if e["field"] == "stage"]
    assert stages == ["qualification", "proposal", "negotiation", "closed-won"]
    assert opp("list", "--status", "won", "-f", "ids").stdout == "1\n"
    assert opp("list", "-f", "ids").stdout == ""
