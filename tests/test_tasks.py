"""Tasks: the next steps on a deal (opp task ...), next_task on every deal, list --without-task, undo."""

from __future__ import annotations

import pytest

from tests.conftest import NOW

TASK_KEYS = ["id", "opportunity_id", "title", "due", "assignee", "status", "created_at", "done_at"]


@pytest.fixture
def deal(sam_and_a_deal: int) -> int:
    return sam_and_a_deal


def test_task_add_prints_the_contract_task_assigned_to_the_acting_user(opp, deal):
    task = opp.json("task", "add", deal, "Send the proposal", "--due", "2026-03-20")
    assert list(task) == TASK_KEYS
    assert task == {
        "id": 1,
        "opportunity_id": deal,
        "title": "Send the proposal",
        "due": "2026-03-20",
        "assignee": "dana",
        "status": "open",
        "created_at": NOW,
        "done_at": None,
    }


@pytest.mark.parametrize(
    ("typed", "due"),
    [
        ("today", "2026-03-10"),
        ("tomorrow", "2026-03-11"),
        ("+14d", "2026-03-24"),
        ("+2w", "2026-03-24"),
        ("eom", "2026-03-31"),
        ("eoq", "2026-03-31"),
        ("2026-12-31", "2026-12-31"),
    ],
)
def test_a_due_date_takes_every_date_form_opp_takes(opp, deal, typed, due):
    assert opp.json("task", "add", deal, "Call", "--due", typed)["due"] == due


def test_assign_names_a_known_user_in_any_case(opp, deal):
    assert opp.json("task", "add", deal, "Call", "--assign", "Sam")["assignee"] == "sam"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["99", "Call"], 3, "no opportunity 99"),
        (["x", "Call"], 2, "positive integer"),
        (["{deal}", "   "], 2, "must not be empty"),
        (["{deal}", "Call", "--due", "2026-02-30"], 2, "2026-02-30"),
        (["{deal}", "Call", "--due", "01/02/2026"], 2, "01/02/2026"),
        (["{deal}", "Call", "--assign", "nobody"], 3, "no user 'nobody'"),
        (["{deal}", "x" * 501], 2, "at most 500"),
    ],
)
def test_bad_task_input_is_refused_and_changes_nothing(opp, deal, unchanged, args, code, says):
    check = unchanged()
    line = opp.fails(code, "task", "add", *[arg.replace("{deal}", str(deal)) for arg in args])
    assert says in line
    check()


def test_done_and_reopen_set_and_clear_done_at(opp, deal):
    opp("task", "add", deal, "One")
    opp("task", "add", deal, "Two")
    done = opp.json("task", "done", "1", "2")
    assert [(task["status"], task["done_at"]) for task in done] == [("done", NOW), ("done", NOW)]
    again = opp.json("task", "reopen", "1")
    assert (again["status"], again["done_at"]) == ("open", None)


def test_done_is_all_or_nothing(opp, deal, unchanged):
    opp("task", "add", deal, "One")
    check = unchanged()
    assert "no task 7" in opp.fails(3, "task", "done", "1", "7")
    check()


def test_unknown_and_bad_task_ids(opp, deal):
    assert "no task 5" in opp.fails(3, "task", "reopen", "5")
    assert "no task 5" in opp.fails(3, "task", "edit", "5", "--title", "x")
    assert "positive integer" in opp.fails(2, "task", "done", "0")


def test_edit_changes_title_due_and_assignee_and_empty_due_clears_it(opp, deal):
    opp("task", "add", deal, "One", "--due", "2026-03-15")
    task = opp.json("task", "edit", "1", "--title", "Renamed", "--assign", "sam", "--due", "+1w")
    assert (task["title"], task["assignee"], task["due"]) == ("Renamed", "sam", "2026-03-17")
    assert opp.json("task", "edit", "1", "--due", "")["due"] is None
    assert "nothing to change" in opp.fails(2, "task", "edit", "1")


def test_every_task_change_is_a_task_event_of_its_deal(opp, deal):
    opp("task", "add", deal, "One")
    opp("task", "edit", "1", "--title", "Renamed")
    opp("task", "done", "1")
    events = opp.json("history", deal, "--action", "task")
    assert [(e["field"], e["old"], e["new"]) for e in events] == [
        ("task", None, "One"),
        ("task_title", "One", "Renamed"),
        ("task_status", "open", "done"),
        ("task_done_at", None, NOW),
    ]


def test_task_events_never_change_the_deal_rebuilt_as_of_a_day(opp, deal):
    opp("task", "add", deal, "A task called title", "--assign", "sam")
    opp("task", "done", "1")
    as_of = opp.json("list", "--as-of", "2026-03-10", "--status", "all")[0]
    assert (as_of["title"], as_of["status"], as_of["assignee"]) == ("Initech - TPS audit", "open", None)


def test_list_orders_by_due_date_undated_last_then_id(opp, deal):
    opp("task", "add", deal, "Later", "--due", "2026-04-01")
    opp("task", "add", deal, "Undated")
    opp("task", "add", deal, "Sooner", "--due", "2026-03-12")
    opp("task", "add", deal, "Also sooner", "--due", "2026-03-12")
    assert [t["title"] for t in opp.json("task", "list")] == ["Sooner", "Also sooner", "Later", "Undated"]
    assert opp("task", "list", "-f", "ids").stdout == "3\n4\n1\n2\n"


def test_list_filters(opp, deal):
    other = opp.json("create", "Other", "--org", "Initech")["id"]
    opp("task", "add", deal, "Overdue", "--due", "2026-03-01")
    opp("task", "add", deal, "Sam's", "--due", "2026-03-20", "--assign", "sam")
    opp("task", "add", other, "Elsewhere", "--due", "2026-03-11")
    opp("task", "add", other, "Finished")
    opp("task", "done", "4")

    def titles(*args: str) -> list[str]:
        return [t["title"] for t in opp.json("task", "list", *args)]

    assert titles() == ["Overdue", "Elsewhere", "Sam's"]
    assert titles("--deal", str(deal)) == ["Overdue", "Sam's"]
    assert titles("--mine") == ["Overdue", "Elsewhere"]
    assert titles("--assignee", "SAM") == ["Sam's"]
    assert titles("--status", "done") == ["Finished"]
    assert titles("--status", "all") == ["Overdue", "Elsewhere", "Sam's", "Finished"]
    assert titles("--overdue") == ["Overdue"]
    assert titles("--due-before", "2026-03-20") == ["Overdue", "Elsewhere"]
    assert [t["title"] for t in opp.json("task", "list", "--mine", OPP_USER="sam")] == ["Sam's"]
    assert "either --assignee or --mine" in opp.fails(2, "task", "list", "--mine", "--assignee", "sam")
    assert "task statuses are open, done, all" in opp.fails(2, "task", "list", "--status", "late")
    assert "no opportunity 99" in opp.fails(3, "task", "list", "--deal", "99")
    assert "no user" in opp.fails(3, "task", "list", "--assignee", "nobody")


def test_an_open_deal_shows_its_next_task_due_first(opp, deal):
    assert opp.json("show", deal)["next_task"] is None
    opp("task", "add", deal, "Undated")
    assert opp.json("show", deal)["next_task"] == {"id": 1, "title": "Undated", "due": None}
    opp("task", "add", deal, "Later", "--due", "2026-04-01")
    opp("task", "add", deal, "Sooner", "--due", "2026-03-15")
    assert opp.json("list")[0]["next_task"] == {"id": 3, "title": "Sooner", "due": "2026-03-15"}
    opp("task", "done", "3")
    assert opp.json("show", deal)["next_task"]["id"] == 2
    opp("stage", "won", deal, "--force")
    assert opp.json("show", deal)["next_task"] is None  # a closed deal has no next step


def test_list_without_task_finds_open_deals_nobody_works_on(opp, deal):
    idle = opp.json("create", "Idle", "--org", "Initech")["id"]
    finished = opp.json("create", "Finished", "--org", "Initech")["id"]
    opp("stage", "won", finished, "--force")
    opp("task", "add", deal, "Call")
    opp("task", "add", idle, "Done already")
    opp("task", "done", "2")
    assert opp("list", "--without-task", "-f", "ids").stdout == f"{idle}\n"
    assert opp("list", "--without-task", "--status", "all", "-f", "ids").stdout == f"{idle}\n"


def test_undo_takes_back_each_kind_of_task_change(opp, deal):
    opp("task", "add", deal, "One", "--due", "2026-03-15")
    opp("task", "edit", "1", "--title", "Renamed", "--due", "", "--assign", "sam")
    opp("task", "done", "1")
    opp("task", "reopen", "1")
    assert opp.json("undo")["name"] == "task reopen"
    assert opp.json("task", "list", "--status", "all")[0]["status"] == "done"
    assert opp.json("undo")["name"] == "task done"
    task = opp.json("task", "list")[0]
    assert (task["status"], task["done_at"]) == ("open", None)
    assert opp.json("undo")["name"] == "task edit"
    task = opp.json("task", "list")[0]
    assert (task["title"], task["due"], task["assignee"]) == ("One", "2026-03-15", "dana")
    assert opp.json("undo")["name"] == "task add"
    assert opp.json("task", "list", "--status", "all") == []
    undo_events = [e for e in opp.json("history", deal) if e["action"] == "undo"]
    assert [e["field"] for e in undo_events][-1] == "task"


def test_undo_of_a_task_is_refused_after_another_user_changed_the_deal(opp, deal):
    opp("task", "add", deal, "One")
    opp("edit", deal, "--title", "Sam renamed it", OPP_USER="sam")
    assert "changed by sam" in opp.fails(4, "undo")


def test_export_what_tasks(opp, deal):
    opp("task", "add", deal, "One", "--due", "2026-03-15")
    text = opp("export", "--what", "tasks").stdout
    assert text.splitlines() == [
        ",".join(TASK_KEYS),
        f"1,{deal},One,2026-03-15,dana,open,{NOW},",
    ]
    assert opp.json("export", "--what", "tasks")[0]["title"] == "One"
    assert "cannot export" in opp.fails(2, "export", "--what", "contacts")
    assert "apply to --what deals" in opp.fails(2, "export", "--what", "tasks", "--status", "won")


def test_completion_offers_open_task_and_ticket_ids_and_the_fixed_words(opp, deal, db):
    from opp.cli.complete import offer
    from opp.core.lookups import names

    opp("task", "add", deal, "Call back")
    opp("task", "add", deal, "Finished")
    opp("task", "done", "2")
    opp("ticket", "add", deal, "Login fails")
    assert names(db, "task", "") == [("1", "Call back")]
    assert names(db, "ticket", "1") == [("1", "Login fails")]
    assert names(db, "task", "9") == []
    assert offer(("pre-sale", "post-sale"))("po") == ["post-sale"]


def test_the_demo_has_tasks_some_overdue_and_tickets(cli):
    cli("demo", OPP_NOW="2027-01-10T08:30:00Z")
    agenda = cli.json("agenda", "--all", OPP_NOW="2027-01-10T08:30:00Z")
    assert {"overdue", "today", "upcoming"} <= {task["bucket"] for task in agenda}
    assert len(cli.json("ticket", "list", "--status", "all")) == 5
    assert cli.json("report", "support", "--by", "customer", "--hourly-cost", "80")


def test_demo_work_naming_an_unknown_deal_is_refused_by_line(cli, tmp_path):
    (tmp_path / "deals.csv").write_text("title,customer,value\nOnly deal,Initech,100\n")
    (tmp_path / "tasks.csv").write_text("external_ref,title,due,assignee,status\nCRM-9,Call,,dana,open\n")
    line = cli.fails(2, "demo", "--file", tmp_path / "deals.csv")
    assert "tasks.csv line 2: no deal with the external ref 'CRM-9'" in line
