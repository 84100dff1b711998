"""An import killed with SIGKILL part-way leaves nothing of itself behind, and an intact database."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BACKEND, NOW, OPP_BIN

pytestmark = pytest.mark.slow  # a real opp process, killed part-way

ROWS = 300_000  # many seconds of import, even at full speed: it is killed after 3


def _big_csv(path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["title", "customer", "customer_kind", "value", "currency", "stage", "external_ref"])
        for i in range(ROWS):
            customer = f"Customer {i % 500}"
            writer.writerow([f"Deal {i}", customer, "organization", "1000", "EUR", "lead", f"X-{i}"])


def test_an_import_killed_part_way_leaves_the_database_as_it_was(opp, db, tmp_path, databases):
    opp("create", "Before", "--org", "Initech", "--value", "10")
    before = databases.snapshot(db)
    source = tmp_path / "big.csv"
    _big_csv(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=db, OPP_USER="dana", OPP_NOW=NOW, HOME=str(tmp_path))
    process = subprocess.Popen(
        [OPP_BIN, "import", str(source)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    # Part-way: the import has written for a while (its transaction is open) but is far from done.
    time.sleep(3.0)
    assert process.poll() is None, "the import finished before it could be killed; make the file bigger"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert databases.snapshot(db) == before
    assert [d["title"] for d in opp.json("list")] == ["Before"]
    if BACKEND == "sqlite":
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()
    # The database takes new work at once. (PostgreSQL's sequences do not roll back: ids the killed
    # import drew are skipped, so ids still increase but are not consecutive there.)
    new_id = opp.json("create", "After", "--org", "Initech")["id"]
    assert new_id == 2 if BACKEND == "sqlite" else new_id > 1
