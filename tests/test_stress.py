"""Eight real opp processes at once doing mixed work on one database: nothing lost, nothing doubled.

Each worker is a thread that runs `opp` processes one after another as its own user; the invariants
below hold whatever order the database serialises them in.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import NOW, OPP_BIN

pytestmark = pytest.mark.slow  # eight real opp processes at once

WORKERS = 8
OPERATIONS_PER_WORKER = 5
DEALS = 12


def test_concurrent_operators_lose_nothing(opp, db: str, tmp_path: Path):
    for n in range(1, WORKERS + 1):
        opp("user", "add", f"op{n}")
    for i in range(DEALS):
        opp("create", f"Deal {i}", "--org", "Initech", "--value", "1000")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=db, OPP_NOW=NOW, HOME=str(tmp_path), OPP_LOCK_TIMEOUT="60")

    def work(worker: int) -> list[tuple[str, int, int, str]]:
        rng = random.Random(worker)
        done = []
        for step in range(OPERATIONS_PER_WORKER):
            deal = rng.randint(1, DEALS)
            kind = rng.choice(["claim", "stage", "edit", "note", "bill"])
            if kind == "claim":
                args = ["claim", str(deal)]
            elif kind == "stage":
                args = ["stage", rng.choice(["qualification", "lead"]), str(deal)]
            elif kind == "edit":
                args = ["edit", str(deal), "--value", str(1000 + worker * 100 + step)]
            elif kind == "note":
                args = ["note", str(deal), f"note {worker}.{step}"]
            else:
                args = ["bill", "add", str(deal), "--item", f"Item {worker}.{step}", "--price", "10"]
            result = subprocess.run(
                [OPP_BIN, "--as", f"op{worker}", *args], capture_output=True, text=True, env=env, timeout=120
            )
            done.append((kind, deal, result.returncode, result.stderr))
        return done

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = [o for batch in pool.map(work, range(1, WORKERS + 1)) for o in batch]

    codes = Counter(code for _, _, code, _ in outcomes)
    assert set(codes) <= {0, 4}, [o for o in outcomes if o[2] not in (0, 4)]
    refused = [o for o in outcomes if o[2] == 4]
    assert all(kind == "claim" and "is held by" in err for kind, _, _, err in refused), refused
    succeeded = Counter(kind for kind, _, code, _ in outcomes if code == 0)

    events = opp.json("history")
    by_action = Counter(e["action"] for e in events)
    # Every successful note, claim and billable line is in history exactly once.
    assert by_action["note"] == succeeded["note"]
    assert by_action["billable"] == succeeded["bill"]
    claims = [e for e in events if e["action"] == "assign" and e["note"] == "claim"]
    claimed_deals = Counter(e["opportunity_id"] for e in claims)
    assert all(count == 1 for count in claimed_deals.values()), "a deal was claimed twice"
    # Each claim the shell saw succeed is a claim event (claiming a deal one already holds writes none).
    assert len(claims) <= succeeded["claim"]
    deals = {d["id"]: d for d in opp.json("list", "--status", "all")}
    for event in claims:
        assert deals[event["opportunity_id"]]["assignee"] == event["actor"]
    # No lost update: each deal's value is the last value history recorded for it.
    for deal_id, deal in deals.items():
        values = [e["new"] for e in events if e["opportunity_id"] == deal_id and e["field"] == "value"]
        assert deal["value"] == (float(values[-1]) if values else 1000)
    # Billable lines: numbered 1..n per deal without gaps or duplicates.
    lines = 0
    for deal_id in deals:
        numbers = [line["line"] for line in opp.json("bill", "list", deal_id)["lines"]]
        assert numbers == list(range(1, len(numbers) + 1))
        lines += len(numbers)
    assert lines == succeeded["bill"]
    print(json.dumps({"processes": len(outcomes), "succeeded": succeeded, "refused": len(refused)}))
