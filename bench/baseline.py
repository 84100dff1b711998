"""The plain-Python reference for each benchmark case: the same question asked of the same database with
``sqlite3`` (or ``psycopg`` for a PostgreSQL URL) and hand-written SQL, no SQLAlchemy, no Typer.

    python bench/baseline.py CASE DB [--today 2026-07-01] [--assignee H] [--search WORD] [--id N] [--json]

CASE is one of: forecast-stage, forecast-period, pipeline, win-rate, list-filter, list-search,
list-search-rare, show.
It prints its answer (to /dev/null in the runner); with ``--json`` in a normalized form that
``bench/run.py --check`` compares with opp's own JSON, so "the same query" is checked, not assumed.

Converting to USD is done as opp defines it (per deal, at the rate in force on the deal's close date,
else expected close, else today, rounded half up once), but in SQL integer arithmetic over a small
table of the USD rates built in Python: exact for the generator's data (direct rates to USD with at
most 6 decimals, amounts far below 2^63 / 10^10). It does not look for inverse rates, as the generated
databases need none. Searching asks the same trigram index opp does, then ``LIKE`` with SQLite's
``lower()``, which folds ASCII case only (opp folds every script): the same answer on the generator's
ASCII text.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

MINOR = {"USD": 2, "EUR": 2, "GBP": 2, "NOK": 2, "JPY": 0}
OPEN_STAGES = ("lead", "qualification", "proposal", "negotiation")


class Db:
    def __init__(self, target: str) -> None:
        self.pg = "://" in target
        if self.pg:
            import psycopg

            self.conn = psycopg.connect(target.replace("postgresql+psycopg://", "postgresql://"))
        else:
            import sqlite3

            self.conn = sqlite3.connect(target)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.pg:
            sql = sql.replace("?", "%s")
        cur = self.conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall()

    def day_of(self, column: str) -> str:
        return f"CAST({column} AS DATE)" if self.pg else f"date({column})"

    def date_literal(self, text: str) -> str:
        return f"DATE '{text}'" if self.pg else f"'{text}'"


def usd_rates_cte(db: Db) -> str:
    """A VALUES table of every X→USD rate with its validity and exact integer factors."""
    found = db.rows(
        "SELECT from_currency, rate, valid_from FROM rates WHERE to_currency = 'USD' "
        "ORDER BY from_currency, valid_from"
    )
    rows = []
    for i, (code, rate, valid_from) in enumerate(found):
        nxt = found[i + 1] if i + 1 < len(found) and found[i + 1][0] == code else None
        digits = rate.split(".")[1] if "." in rate else ""
        scaled = int(rate.replace(".", ""))
        shift = MINOR["USD"] - MINOR.get(code, 2)
        mul = scaled * 10 ** max(shift, 0)
        den = 10 ** len(digits) * 10 ** max(-shift, 0)
        until = nxt[2] if nxt else "9999-12-31"
        rows.append(
            f"('{code}', {db.date_literal(str(valid_from))}, {db.date_literal(str(until))}, {mul}, {den})"
        )
    return "r(cur, vf, vt, mul, den) AS (VALUES " + ", ".join(rows) + ")"


def usd_figures(db: Db, where: str, today: str, params: tuple = ()) -> list[tuple]:
    """Per stage: count, value and forecast in USD minor units, each deal converted and rounded once."""
    day = f"COALESCE({db.day_of('o.closed_at')}, o.expected_close, {db.date_literal(today)})"
    sql = f"""
        WITH {usd_rates_cte(db)}
        SELECT o.stage, count(*),
          sum(CASE WHEN o.currency = 'USD' THEN o.value_minor
                   ELSE (2 * o.value_minor * r.mul + r.den) / (2 * r.den) END),
          sum(CASE WHEN o.currency = 'USD' THEN (2 * o.value_minor * o.probability + 100) / 200
                   ELSE (2 * o.value_minor * o.probability * r.mul + 100 * r.den) / (200 * r.den) END),
          sum(CASE WHEN o.currency <> 'USD' AND r.cur IS NULL THEN 1 ELSE 0 END)
        FROM opportunities o
        LEFT JOIN r ON r.cur = o.currency AND {day} >= r.vf AND {day} < r.vt
        WHERE {where}
        GROUP BY o.stage"""
    rows = db.rows(sql, params)
    if any(row[4] for row in rows):
        sys.exit("baseline: a deal has no USD rate in force")
    return [(stage, count, int(value), int(forecast)) for stage, count, value, forecast, _ in rows]


def case_forecast(db: Db, args: dict, where: str, params: tuple = ()) -> object:
    rows = usd_figures(db, where, args["today"], params)
    order = {key: i for i, key in enumerate((*OPEN_STAGES, "closed-won", "closed-lost"))}
    rows.sort(key=lambda row: order.get(row[0], 99))
    return {"groups": [list(row) for row in rows], "total": [sum(row[i] for row in rows) for i in (1, 2, 3)]}


def forecast_stage(db: Db, args: dict) -> object:
    return case_forecast(db, args, "o.status IN ('open', 'won')")


def forecast_period(db: Db, args: dict) -> object:
    # 2026Q4, as the runner asks opp for.
    return case_forecast(
        db,
        args,
        "o.status IN ('open', 'won') AND o.expected_close BETWEEN ? AND ?",
        _dates(db, "2026-10-01", "2026-12-31"),
    )


def _dates(db: Db, *days: str) -> tuple:
    if db.pg:
        from datetime import date

        return tuple(date.fromisoformat(day) for day in days)
    return days


def pipeline(db: Db, args: dict) -> object:
    figures = {row[0]: row for row in usd_figures(db, "o.status = 'open'", args["today"])}
    rows = [list(figures.get(stage, (stage, 0, 0, 0))) for stage in OPEN_STAGES]
    return {"groups": rows, "total": [sum(row[i] for row in rows) for i in (1, 2, 3)]}


def win_rate(db: Db, args: dict) -> object:
    won, lost = db.rows(
        "SELECT sum(CASE WHEN status = 'won' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN status = 'lost' THEN 1 ELSE 0 END) "
        "FROM opportunities WHERE status IN ('won', 'lost')"
    )[0]
    won, lost = int(won or 0), int(lost or 0)
    rate = (
        None
        if won + lost == 0
        else str((Decimal(won) / (won + lost)).quantize(Decimal("0.0001"), "ROUND_HALF_UP"))
    )
    return {"won": won, "lost": lost, "win_rate": rate}


DEAL_COLUMNS = (
    "o.id, o.title, o.description, o.customer_id, c.kind, c.name, o.value_minor, o.currency, "
    "o.probability, (2 * o.value_minor * o.probability + 100) / 200, o.stage, o.status, "
    "o.expected_close, o.external_ref, u.handle, o.lost_reason, o.created_at, o.updated_at, "
    "o.closed_at"
)
DEAL_FROM = (
    "opportunities o JOIN customers c ON c.id = o.customer_id LEFT JOIN users u ON u.id = o.assignee_id"
)


def list_filter(db: Db, args: dict) -> object:
    # opp: naming a stage means every status; --assignee is a handle.
    rows = db.rows(
        f"SELECT {DEAL_COLUMNS} FROM {DEAL_FROM} WHERE o.stage = ? AND o.assignee_id = "
        "(SELECT id FROM users WHERE handle = ?) ORDER BY o.id LIMIT 50",
        ("proposal", args["assignee"]),
    )
    return [row[0] for row in rows]


#: A word no generated deal holds: the search must look at every candidate the index gives (none).
RARE_WORD = "zyxwvut"


def list_search(db: Db, args: dict) -> object:
    """The substring match as opp asks it: candidates from the trigram index (FTS5 on SQLite, pg_trgm
    through lower() on PostgreSQL), then the LIKE; a scan on a database without the index."""
    text = args["search"].lower()
    needle = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    match = "LIKE ? ESCAPE '\\'"
    like = f"(lower(o.title) {match} OR lower(c.name) {match} OR lower(o.description) {match})"
    params: tuple = (needle, needle, needle)
    if db.pg:  # one subquery per table, so that each can use its pg_trgm index
        like = (
            f"(o.id IN (SELECT id FROM opportunities WHERE lower(title) {match} OR lower(description) "
            f"{match}) OR o.customer_id IN (SELECT id FROM customers WHERE lower(name) {match}))"
        )
    elif db.rows("SELECT count(*) FROM sqlite_master WHERE name = 'deals_fts'", ())[0][0]:
        phrase = '"' + text.replace('"', '""') + '"'
        like = (
            "(o.id IN (SELECT rowid FROM deals_fts WHERE deals_fts MATCH ?) OR o.customer_id IN "
            f"(SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?)) AND {like}"
        )
        params = (phrase, phrase, *params)
    rows = db.rows(
        f"SELECT {DEAL_COLUMNS} FROM {DEAL_FROM} WHERE o.status = 'open' AND {like} ORDER BY o.id LIMIT 50",
        params,
    )
    return [row[0] for row in rows]


def list_search_rare(db: Db, args: dict) -> object:
    return list_search(db, {**args, "search": RARE_WORD})


def show(db: Db, args: dict) -> object:
    deal_id = int(args["id"])
    deal = db.rows(f"SELECT {DEAL_COLUMNS} FROM {DEAL_FROM} WHERE o.id = ?", (deal_id,))
    events = db.rows(
        "SELECT id, opportunity_id, command_id, at, actor, action, field, old, new, note "
        "FROM history WHERE opportunity_id = ? ORDER BY id",
        (deal_id,),
    )
    billed = db.rows(
        "SELECT count(*), coalesce(sum(amount_minor), 0) FROM billables "
        "WHERE opportunity_id = ? AND removed_at IS NULL",
        (deal_id,),
    )
    return {"id": deal[0][0], "events": [event[0] for event in events], "lines": billed[0][0]}


CASES = {
    "forecast-stage": forecast_stage,
    "forecast-period": forecast_period,
    "pipeline": pipeline,
    "win-rate": win_rate,
    "list-filter": list_filter,
    "list-search": list_search,
    "list-search-rare": list_search_rare,
    "show": show,
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] not in CASES:
        sys.exit(__doc__)
    case, target, rest = argv[0], argv[1], argv[2:]
    args = {"today": "2026-07-01", "assignee": None, "search": None, "id": None, "json": False}
    while rest:
        flag = rest.pop(0)
        if flag == "--json":
            args["json"] = True
        else:
            args[flag.lstrip("-")] = rest.pop(0)
    db = Db(target)
    answer = CASES[case](db, args)
    if args["json"]:
        json.dump(answer, sys.stdout, default=str)
    else:
        sys.stdout.write(repr(answer) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
