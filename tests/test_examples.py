"""Every script in examples/ runs against a temporary database holding the demo pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.slow  # shell scripts running the installed opp

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_NOW = "2026-11-26T09:00:00Z"
SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.sh"))
MAVEN_SAMPLE = """opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value
1C1I7A6R,Moses Frase,GTX Plus Basic,Cancity,Won,10/20/2016,3/1/2017,1054
HAXMC4IX,James Ascencio,MG Advanced,,Engaging,11/3/2016,,
PE84CX4O,Zane Levy,GTX Plus Pro,,Prospecting,,,
ZNBS69V1,Anna Snelling,MG Special,Ron-tech,Lost,10/29/2016,3/1/2017,0
"""


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("examples") / "demo.db"
    cli = Cli(path)
    cli.env["OPP_NOW"] = DEMO_NOW
    cli("demo")
    return path


def run(script: str, *args: str, db: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(
        **extra,
        OPP_DB=str(db),
        OPP_USER="dana",
        OPP_NOW=DEMO_NOW,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return subprocess.run(
        ["bash", str(EXAMPLES / script), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_examples_include_the_documented_scripts():
    assert {
        "weekly-review.sh",
        "jq-recipes.sh",
        "spreadsheet-import.sh",
        "bulk-reassign.sh",
        "maven-crm-import.sh",
        "maven-crm-migrate.sh",
        "review-page.sh",
    } <= set(SCRIPTS)
    assert (EXAMPLES / "maven-crm.toml").is_file()


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_example_script_runs(script, demo_template, tmp_path):
    if script == "jq-recipes.sh" and shutil.which("jq") is None:
        pytest.skip("jq is not installed; the jq recipes need it")
    db = tmp_path / "opp.db"
    shutil.copyfile(demo_template, db)
    cli = Cli(db)
    cli.env["OPP_NOW"] = DEMO_NOW
    if script == "weekly-review.sh":
        result = run(script, db=db)
        assert result.returncode == 6, result.stderr  # the demo has one overdue deal
        assert "Initech - TPS Report Automation" in result.stdout.split("== Stuck")[0]
        assert "== Forecast for this quarter, by assignee ==" in result.stdout
        cli("stage", "negotiation", "15", "--force")
        cli("edit", "15", "--close", "2027-01-31")
        assert run(script, db=db).returncode == 0
    elif script == "review-page.sh":
        result = run(script, db=db, REVIEW_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("# Pipeline review 2026Q4")
        pages = list(tmp_path.glob("review-*.html"))
        assert len(pages) == 1 and f"The page to print: {pages[0]}" in result.stdout
        page = pages[0].read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page
        assert run(script, db=db, REVIEW_DIR=str(tmp_path)).returncode == 0  # the same day again: replaced
        assert run(script, db=db, REVIEW_DIR=str(tmp_path / "missing")).returncode == 5
    elif script == "jq-recipes.sh":
        result = run(script, db=db)
        assert result.returncode == 0, result.stderr
        assert "dana\t2\t420000\tUSD" in result.stdout
        assert "Sakura Robotics - Maintenance Contract 2027" in result.stdout
    elif script == "spreadsheet-import.sh":
        result = run(script, db=db)
        assert result.returncode == 0, result.stderr
        assert "would import 4 rows" in result.stderr
        deals = {d["external_ref"]: d for d in cli.json("list", "--status", "all")}
        assert deals["S-101"]["expected_close"] == "2027-01-31"
        assert deals["S-103"]["customer"]["kind"] == "individual"
        assert deals["S-102"]["assignee"] == "priya"
        assert deals["S-104"]["assignee"] == "noor-haddad"
        assert deals["S-104"]["description"] == "=ask finance about the discount"
        again = run(script, db=db)
        assert "0 created, 0 updated, 4 unchanged" in again.stderr
    elif script == "bulk-reassign.sh":
        sams = [d["id"] for d in cli.json("list", "--assignee", "sam")]
        result = run(script, "sam", "priya", db=db)
        assert result.returncode == 0, result.stderr
        assert f"moved {len(sams)} open deals from sam to priya" in result.stdout
        assert cli.json("list", "--assignee", "sam") == []
        cli("undo")
        assert [d["id"] for d in cli.json("list", "--assignee", "sam")] == sams
    elif script == "maven-crm-import.sh":
        sample = tmp_path / "sales_pipeline.csv"
        sample.write_text(MAVEN_SAMPLE, encoding="utf-8")
        result = run(script, str(sample), "-o", "json", db=db)
        assert result.returncode == 0, result.stderr
        deals = {d["external_ref"]: d for d in cli.json("list", "--status", "all") if d["external_ref"]}
        assert deals["1C1I7A6R"]["stage"] == "closed-won"
        assert deals["HAXMC4IX"]["customer"]["name"] == "(no account)"
    elif script == "maven-crm-migrate.sh":
        sample = tmp_path / "sales_pipeline.csv"
        sample.write_text(MAVEN_SAMPLE, encoding="utf-8")
        rejects = tmp_path / "rejects.csv"
        result = run(script, str(sample), str(rejects), db=db)
        assert result.returncode == 0, result.stderr
        said = result.stdout.splitlines()
        assert said[:2] == [
            "imported 2 new deals, updated 0, 0 unchanged; 2 customers and 2 users created",
            f"set aside 2 rows, written to {rejects} with the line and reason of each; the reasons:",
        ]
        assert said[2].split(None, 1) == ["2", "customer is empty, and this import requires it"]
        deals = {d["external_ref"]: d for d in cli.json("list", "--status", "all") if d["external_ref"]}
        assert deals["1C1I7A6R"]["fields"]["product"] == "GTX Plus Basic"
        assert (deals["ZNBS69V1"]["stage"], deals["ZNBS69V1"]["probability"]) == ("closed-lost", 0)
        assert [line.split(",")[0] for line in rejects.read_text().splitlines()[1:]] == [
            "HAXMC4IX",
            "PE84CX4O",
        ]
        again = run(script, str(sample), str(rejects), db=db)
        assert "imported 0 new deals, updated 0, 2 unchanged;" in again.stdout
    else:
        result = run(script, db=db)
        assert result.returncode == 0, result.stderr
