"""Coming from another CRM: Maven Analytics' sales_pipeline.csv imported with the documented command
(examples/maven-crm-import.sh), checked against figures computed independently from the CSV."""

from __future__ import annotations

import csv
import json
import os
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import NOW, Cli

DATASET = Path(os.environ.get("MAVEN_CRM", "/work/shared/datasets/maven-crm")) / "sales_pipeline.csv"
SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "maven-crm-import.sh"
STAGES = {"Prospecting": "lead", "Engaging": "qualification", "Won": "closed-won", "Lost": "closed-lost"}

pytestmark = [
    pytest.mark.skipif(not DATASET.is_file(), reason=f"the Maven CRM dataset is not at {DATASET}"),
    pytest.mark.slow,  # runs the example script, real opp processes
]


def rows() -> list[dict[str, str]]:
    with DATASET.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def day(text: str) -> datetime:
    return datetime.strptime(text, "%m/%d/%Y")


def rate(won: int, lost: int) -> float:
    return float((Decimal(won) / Decimal(won + lost)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def handle(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@pytest.fixture(scope="module")
def maven(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, subprocess.CompletedProcess[str]]:
    """The dataset imported once for the whole module, by running the example script."""
    db = tmp_path_factory.mktemp("maven") / "maven.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(
        OPP_DB=str(db), OPP_USER="importer", OPP_NOW=NOW, PATH=f"{Path(sys.executable).parent}:{env['PATH']}"
    )
    result = subprocess.run(
        ["bash", str(SCRIPT), str(DATASET), "-o", "json"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    return Cli(db), result


def test_every_opportunity_is_imported_with_customers_and_agents(maven):
    _, result = maven
    data = rows()
    summary = json.loads(result.stdout)
    assert summary["created"] == len(data) == 8800
    assert summary["users_created"] == len({r["sales_agent"] for r in data}) == 30
    accounts = {r["account"] for r in data if r["account"]}
    assert summary["customers_created"] == len(accounts) + 1  # and "(no account)"
    assert "moses-frase" in summary["new_users"]


def test_the_deal_count_per_stage_matches_the_csv(maven):
    cli, _ = maven
    expected = Counter(STAGES[r["deal_stage"]] for r in rows())
    pipeline = cli.json("pipeline")
    counts = {s["stage"]: s["count"] for s in pipeline["stages"]}
    assert counts["lead"] == expected["lead"] == 500
    assert counts["qualification"] == expected["qualification"]
    won_lost = cli.json("report", "win-rate")
    assert (won_lost["won"], won_lost["lost"]) == (expected["closed-won"], expected["closed-lost"])
    no_account = [r for r in rows() if not r["account"]]
    assert len(no_account) == 1425
    shown = cli.json("customer", "show", "(no account)")
    assert shown["totals"]["count"] == 1425


def test_the_won_value_matches_the_csv(maven):
    cli, _ = maven
    won = sum(Decimal(r["close_value"]) for r in rows() if r["deal_stage"] == "Won")
    forecast = cli.json("forecast", "--stage", "won")
    assert Decimal(str(forecast["total"]["value"])) == won
    assert forecast["currency"] == "USD"


def test_the_win_rate_matches_the_csv(maven):
    cli, _ = maven
    stages = Counter(r["deal_stage"] for r in rows())
    assert cli.json("report", "win-rate")["win_rate"] == rate(stages["Won"], stages["Lost"])


def test_the_sales_cycle_matches_the_csv(maven):
    cli, _ = maven
    days = [(day(r["close_date"]) - day(r["engage_date"])).days for r in rows() if r["deal_stage"] == "Won"]
    cycle = cli.json("report", "cycle")
    assert cycle["count"] == len(days)
    average = (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    median = Decimal(str(statistics.median(days))).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert Decimal(str(cycle["average_days"])) == average
    assert Decimal(str(cycle["median_days"])) == median


def test_the_win_rate_per_agent_matches_the_csv(maven):
    cli, _ = maven
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows():
        tally[handle(r["sales_agent"])][r["deal_stage"]] += 1
    expected = {
        agent: (c["Won"], c["Lost"], rate(c["Won"], c["Lost"]))
        for agent, c in tally.items()
        if c["Won"] + c["Lost"]
    }
    by_agent = cli.json("report", "win-rate", "--by", "assignee")
    assert {r["key"]: (r["won"], r["lost"], r["win_rate"]) for r in by_agent} == expected


def test_open_deals_have_no_close_date_and_closed_ones_close_when_the_csv_says(maven):
    cli, _ = maven
    data = {r["opportunity_id"]: r for r in rows()}
    for deal in cli.json("export", "-f", "json", "--stage", "qualification", "--limit", "50"):
        assert deal["closed_at"] is None
        assert deal["created_at"].startswith(
            day(data[deal["external_ref"]]["engage_date"]).strftime("%Y-%m-%d")
        )
    for deal in cli.json("export", "-f", "json", "--stage", "won", "--limit", "50"):
        source = data[deal["external_ref"]]
        closed = day(source["close_date"]).strftime("%Y-%m-%d")
        assert (deal["closed_at"][:10], deal["expected_close"]) == (closed, closed)
        assert Decimal(str(deal["value"])) == Decimal(source["close_value"])
        assert deal["description"] == source["product"]


# -- the reviewed recipe: examples/maven-crm.toml and examples/maven-crm-migrate.sh ---------------------

MIGRATE = SCRIPT.parent / "maven-crm-migrate.sh"


def test_the_profile_recipe_imports_the_deals_with_an_account_and_sets_the_rest_aside(tmp_path):
    db, rejects = tmp_path / "migrated.db", tmp_path / "rejects.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(
        OPP_DB=str(db), OPP_USER="importer", OPP_NOW=NOW, PATH=f"{Path(sys.executable).parent}:{env['PATH']}"
    )

    def migrate() -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", str(MIGRATE), str(DATASET), str(rejects)], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stderr
        return result

    data = rows()
    with_account = [r for r in data if r["account"]]
    first = migrate()
    lines = first.stdout.splitlines()
    assert lines[0] == (
        f"imported {len(with_account)} new deals, updated 0, 0 unchanged; "
        f"{len({r['account'] for r in with_account})} customers and 30 users created"
    )
    assert lines[1].startswith(f"set aside {len(data) - len(with_account)} rows, written to {rejects}")
    assert lines[2].split(None, 1) == ["1425", "customer is empty, and this import requires it"]
    with rejects.open(encoding="utf-8", newline="") as f:
        set_aside = list(csv.DictReader(f))
    assert [r["opportunity_id"] for r in set_aside] == [r["opportunity_id"] for r in data if not r["account"]]
    assert set_aside[0]["line"] == str(data.index(next(r for r in data if not r["account"])) + 2)
    cli = Cli(db)
    by_product = Counter(r["product"] for r in with_account if r["deal_stage"] == "Won")
    won = {row["key"]: row["won"] for row in cli.json("report", "win-rate", "--by", "product")}
    assert won == dict(by_product)
    assert cli.json("report", "win-rate", "--where", "product=gtk 500")["won"] == by_product["GTK 500"]
    again = migrate()  # the same file again: every deal found by its external_ref, nothing doubled
    assert again.stdout.splitlines()[0].startswith(f"imported 0 new deals, updated 0, {len(with_account)}")
