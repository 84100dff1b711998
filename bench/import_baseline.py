"""The floor for ``opp import``: the same rows written with plain ``sqlite3`` ``executemany``.

    python bench/import_baseline.py FILE.csv DB --now 2026-07-01T00:00:00Z --actor bench [--plain]

Reads a CSV written by ``bench/import_speed.py`` (opp's own columns, every cell already in the form opp
stores: stage keys, values with the currency's decimals, handles as assignees, ISO dates and instants,
every customer with its kind) and writes, in one ``BEGIN IMMEDIATE`` transaction, exactly the rows that
``opp --db DB import FILE`` writes into a fresh database:

- ``customers``: one per (kind, name) not seen before, in order of first appearance
  (email and phone NULL, created_at the command's instant);
- ``users``: one per assignee handle not seen before (name and email NULL, created_at the instant);
- ``commands``: one row (the instant, the actor, ``import``);
- ``opportunities``: one per row, every column as ``new_deal`` fills it;
- ``history``: one ``created`` event per deal, with the same JSON snapshot (``json.dumps``,
  ``sort_keys``) and the deal's created_at as its instant.

Ids are handed out by the script itself (the database is fresh and the transaction holds the write
lock), so each table takes one ``executemany`` per batch of rows, with no ``RETURNING`` and no lookups.
The only work in Python is what the rows need: the CSV reader, dicts for customers and users, the
text of instants as SQLAlchemy stores them, and the snapshot's JSON. It validates nothing; it is not a
replacement for opp's rules, only the speed of writing the rows. ``import_speed.py --check`` compares
every table it writes with opp's, so the two write the same rows.

``--plain`` writes the deals alone: the same ``opportunities`` rows (customers and users as ids, none
of them made, so foreign keys are off; the one ``commands`` row; no events, no snapshots), the plainest
``executemany`` into the one table, for scale.

Both go through the tables' triggers as any writer does, so the deals and the new customers are also
written into the search index (``deals_fts``, ``customers_fts``) a row at a time: with SQLite's own
``lower()``, which folds ASCII only (opp's folds every script, the same text for this file), and
with FTS5 writing out a segment of index at every statement of the executemany.

The connection is set up as opp's is (WAL, kept by the file; ``synchronous = NORMAL``,
``foreign_keys = ON``, the default page cache). Imports nothing but the standard library.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
from datetime import datetime

BATCH = 5000


def stored_instant(text: str) -> str:
    """An instant from the file (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ``) as SQLAlchemy stores it."""
    if len(text) == 10:
        return text + " 00:00:00.000000"
    return f"{text[:10]} {text[11:19]}.000000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("db")
    parser.add_argument("--now", required=True, help="the instant opp is given as OPP_NOW (UTC, with Z)")
    parser.add_argument("--actor", required=True)
    parser.add_argument("--plain", action="store_true", help="the deals alone, into opportunities")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S.%f")

    conn = sqlite3.connect(args.db, isolation_level=None)
    conn.execute(f"PRAGMA foreign_keys = {'OFF' if args.plain else 'ON'}")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    stages = {key: (kind, probability) for key, kind, probability in conn.execute(
        "SELECT key, kind, probability FROM stages")}  # fmt: skip
    command_id = conn.execute(
        "INSERT INTO commands (at, actor, name) VALUES (?, ?, 'import')", (now, args.actor)
    ).lastrowid
    next_deal = (conn.execute("SELECT max(id) FROM opportunities").fetchone()[0] or 0) + 1
    next_customer = (conn.execute("SELECT max(id) FROM customers").fetchone()[0] or 0) + 1
    next_user = (conn.execute("SELECT max(id) FROM users").fetchone()[0] or 0) + 1
    customers: dict[tuple[str, str], int] = {}
    users: dict[str, int] = {}

    insert_customers = (
        "INSERT INTO customers (id, kind, name, email, phone, created_at) VALUES (?, ?, ?, NULL, NULL, ?)"
    )
    insert_users = "INSERT INTO users (id, handle, name, email, created_at) VALUES (?, ?, NULL, NULL, ?)"
    insert_deals = (
        "INSERT INTO opportunities (id, title, description, customer_id, value_minor, currency, "
        "probability, stage, status, expected_close, external_ref, assignee_id, lost_reason, created_at, "
        "updated_at, closed_at, stage_changed_at, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
    )
    insert_events = (
        "INSERT INTO history (opportunity_id, command_id, at, actor, action, field, old, new, note) "
        "VALUES (?, ?, ?, ?, 'created', NULL, NULL, ?, NULL)"
    )
    actor = args.actor
    dumps = json.dumps

    def flush() -> None:
        if args.plain:
            conn.executemany(insert_deals, deals)
            deals.clear()
            new_customers.clear()
            new_users.clear()
            events.clear()
            return
        if new_customers:
            conn.executemany(insert_customers, new_customers)
        if new_users:
            conn.executemany(insert_users, new_users)
        conn.executemany(insert_deals, deals)
        conn.executemany(insert_events, events)
        new_customers.clear()
        new_users.clear()
        deals.clear()
        events.clear()

    new_customers: list[tuple[object, ...]] = []
    new_users: list[tuple[object, ...]] = []
    deals: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    with open(args.csv, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        columns = next(reader)
        index = {name: columns.index(name) for name in columns}
        (title_i, customer_i, kind_i, value_i, currency_i, stage_i, probability_i, close_i, ref_i,
         assignee_i, description_i, created_i, closed_i, reason_i) = (index[name] for name in (
            "title", "customer", "customer_kind", "value", "currency", "stage", "probability",
            "expected_close", "external_ref", "assignee", "description", "created_at", "closed_at",
            "lost_reason"))  # fmt: skip
        for cells in reader:
            key = (cells[kind_i], cells[customer_i])
            customer_id = customers.get(key)
            if customer_id is None:
                customer_id = customers[key] = next_customer
                new_customers.append((next_customer, key[0], key[1], now))
                next_customer += 1
            handle = cells[assignee_i] or None
            assignee_id = None
            if handle is not None:
                assignee_id = users.get(handle)
                if assignee_id is None:
                    assignee_id = users[handle] = next_user
                    new_users.append((next_user, handle, now))
                    next_user += 1
            stage = cells[stage_i]
            status, default_probability = stages[stage]
            probability = int(cells[probability_i]) if cells[probability_i] else default_probability
            value = cells[value_i]
            created_text = cells[created_i]
            created = stored_instant(created_text)
            closed_text = cells[closed_i] or None
            closed = stored_instant(closed_text) if closed_text else None
            lost_reason = (cells[reason_i] or None) if status == "lost" else None
            ref = cells[ref_i] or None
            close = cells[close_i] or None
            deals.append((
                next_deal, cells[title_i], cells[description_i] or None, customer_id,
                int(value.replace(".", "")), cells[currency_i], probability, stage, status,
                close, ref, assignee_id, lost_reason, created, now, closed, closed or created,
            ))  # fmt: skip
            if args.plain:
                next_deal += 1
                if len(deals) >= BATCH:
                    flush()
                continue
            snapshot = {
                "title": cells[title_i],
                "customer_id": customer_id,
                "value": value,
                "currency": cells[currency_i],
                "probability": probability,
                "stage": stage,
                "status": status,
                "expected_close": close,
                "external_ref": ref,
                "assignee": handle,
                "closed_at": closed_text,
                "lost_reason": lost_reason,
            }
            events.append((next_deal, command_id, created, actor, dumps(snapshot, sort_keys=True)))
            next_deal += 1
            if len(deals) >= BATCH:
                flush()
    flush()
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main()
