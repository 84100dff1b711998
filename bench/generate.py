"""Generate a realistic, deterministic opp database for benchmarks.

    python bench/generate.py --deals 100000 --db /tmp/bench-100k.db [--seed 1]
    python bench/generate.py --deals 100000 --db postgresql://opp:opp@127.0.0.1/bench

The schema is opp's own, created and migrated by ``opp.store.engine.open_store``; the rows are written
straight through SQLAlchemy Core ``insert()`` executemany in batches (no services, no per-deal
transaction), in the shapes opp's services write them: a deal row as ``new_deal`` makes it, its
``created`` event with the same JSON snapshot, one ``stage`` event per field a move changes
(stage/probability, plus status/closed_at/lost_reason on closing), ``assign`` and ``note`` events,
and billable lines with their ``billable`` events. Each batch of deals is one ``commands`` row.

What is in it, for N deals (the same for the same --seed and N):

- 50 users; N/5 customers (70 % organizations, 30 % individuals) whose deal counts follow a
  Zipf-like law (a few customers have thousands of deals, most have one or none);
- deals about 60 % open (lead > qualification > proposal > negotiation), 25 % won, 15 % lost, each
  created at lead or qualification and moved one stage at a time to where it is now;
- values log-normal, in USD, EUR, GBP, NOK and JPY, with rates of each to USD dated every quarter
  from 2024 to 2027; expected closes spread over 2025-07 to 2027-06; every instant before REFERENCE_NOW
  (2026-07-01), which the runner passes to opp as OPP_NOW;
- notes on about 20 % of deals, later (re)assignments on about 8 %, billable lines on about 10 %;
- one more user, ``bench-rep``, with the same 60 tasks whatever N (50 open: 12 overdue, 3 due on
  REFERENCE_NOW's day, 15 within the week, 12 later, 8 undated; 10 done) on open deals spread over
  the ids: the acting user of the benchmarks' ``agenda`` and ``task list --mine``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from bisect import bisect_right
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path

from sqlalchemy import func, insert, select, text

from opp.core.pipeline.codec import instant_text, money_text, snapshot_text
from opp.store import schema
from opp.store.engine import open_store

REFERENCE_NOW = datetime(2026, 7, 1, 0, 0, 0)  # naive UTC, as opp stores instants
HISTORY_START = datetime(2024, 7, 1)
ACTOR = "bench"
BATCH = 10_000

OPEN_STAGES = [("lead", 15), ("qualification", 30), ("proposal", 50), ("negotiation", 75)]
PROBABILITY = dict(OPEN_STAGES) | {"closed-won": 100, "closed-lost": 0}
CURRENCIES = [
    ("USD", 0.45, 2, 1.0),
    ("EUR", 0.25, 2, 0.92),
    ("GBP", 0.12, 2, 0.79),
    ("NOK", 0.10, 2, 10.6),
    ("JPY", 0.08, 0, 150.0),
]  # code, share of deals, minor units, units per USD
PER_USD = {code: per_usd for code, _, _, per_usd in CURRENCIES}
USD_RATE = {"EUR": 1.08, "GBP": 1.27, "NOK": 0.094, "JPY": 0.0067}  # 1 X = rate USD, around 2026
RATE_DECIMALS = {"EUR": 4, "GBP": 4, "NOK": 5, "JPY": 6}
LOST_REASONS = ["price", "went with a competitor", "no budget", "timing", "no decision", None]

FIRST = [
    "Dana",
    "Sam",
    "Priya",
    "Alex",
    "Jordan",
    "Maria",
    "Chen",
    "Olu",
    "Ines",
    "Tomas",
    "Aisha",
    "Lars",
    "Mei",
    "Omar",
    "Sofia",
    "Ravi",
    "Nora",
    "Ivan",
    "Leah",
    "Kenji",
    "Zara",
    "Hugo",
    "Ada",
    "Emil",
    "Yara",
    "Felix",
    "Lina",
    "Mateo",
    "Sara",
    "Nils",
]
LAST = [
    "Scully",
    "Mulder",
    "Patel",
    "Kim",
    "Rivera",
    "Nakamura",
    "Okafor",
    "Berg",
    "Rossi",
    "Novak",
    "Haddad",
    "Larsen",
    "Wong",
    "Silva",
    "Dubois",
    "Fischer",
    "Costa",
    "Jensen",
    "Moreau",
    "Tanaka",
    "Haas",
    "Ortiz",
    "Quinn",
    "Vogel",
    "Ahmed",
    "Lund",
    "Petrov",
    "Marsh",
    "Keller",
    "Brandt",
]
ORG_A = [
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Oscorp",
    "Wonka",
    "Aperture",
    "Massive",
    "Gringotts",
    "Monarch",
    "Pied",
    "Sterling",
    "Blue",
    "Red",
    "Silver",
    "Golden",
    "Iron",
    "Polar",
    "Coastal",
    "Summit",
    "Harbor",
    "Cedar",
    "Maple",
    "Granite",
    "Falcon",
    "Orion",
    "Vertex",
    "Nimbus",
    "Atlas",
    "Zenith",
    "Beacon",
    "Pioneer",
]
ORG_B = [
    "Systems",
    "Logistics",
    "Foods",
    "Health",
    "Energy",
    "Bank",
    "Media",
    "Labs",
    "Works",
    "Retail",
    "Motors",
    "Dynamics",
    "Robotics",
    "Pharma",
    "Partners",
    "Studios",
    "Airlines",
    "Insurance",
    "Textiles",
    "Analytics",
    "Foundry",
    "Holdings",
    "Outfitters",
    "Brewing",
]
ORG_SUFFIX = ["Corp", "Inc", "Ltd", "GmbH", "AS", "KK", "LLC", "Group", "SA", "plc"]
# Title products with Zipf-like weights: the first are common, the last rare (``--search`` words).
PRODUCTS = [
    "Enterprise Software License",
    "Annual Renewal",
    "Support Contract",
    "Cloud Subscription",
    "Implementation Services",
    "Training Package",
    "Hardware Refresh",
    "Consulting Retainer",
    "Security Audit",
    "Data Platform",
    "Analytics Add-on",
    "Managed Services",
    "Expansion Seats",
    "Pilot Project",
    "Integration Bundle",
    "Premium Support Upgrade",
    "Compliance Review",
    "Warehouse Automation",
    "Field Service Tablets",
    "Migration Audit",
]
PRODUCT_WEIGHTS = list(accumulate(1 / (rank + 1) ** 1.2 for rank in range(len(PRODUCTS))))
NOTES = [
    "Called; they want a revised quote",
    "Sent the proposal",
    "Decision expected next week",
    "Legal review in progress",
    "Budget confirmed by finance",
    "Asked for references",
    "Demo went well",
    "Champion left the company",
    "Procurement wants a discount",
]
SERVICES = [
    ("IMPL-DAY", "Implementation day", 120_000, "day"),
    ("TRAIN", "Training session", 80_000, "session"),
    ("LIC-SEAT", "Licence seat", 4_500, "seat"),
    ("SUPPORT", "Premium support", 250_000, "year"),
]


def half_up_div(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


class Generator:
    def __init__(self, deals: int, seed: int) -> None:
        self.n = deals
        self.rng = random.Random(seed)
        self.users = self._users()
        self.customers = self._customers(max(20, deals // 5))
        # Zipf-like popularity over customers, ranks shuffled so popular ones are spread over the ids.
        ranks = list(range(len(self.customers)))
        self.rng.shuffle(ranks)
        self.customer_by_rank = [self.customers[i]["id"] for i in ranks]
        self.customer_cum = list(accumulate(1 / (r + 1) ** 0.8 for r in range(len(ranks))))
        self.customer_name = {c["id"]: c["name"] for c in self.customers}
        self.user_cum = list(accumulate(1 + (i % 7) for i in range(len(self.users))))  # some users busier
        self.currency_cum = list(accumulate(share for _, share, _, _ in CURRENCIES))
        self.rates = self._rates()

    # -- reference data ------------------------------------------------------------------------------------

    def _users(self) -> list[dict[str, object]]:
        rng, users = self.rng, []
        names = [(first, last) for first in FIRST for last in LAST]
        rng.shuffle(names)
        for i, (first, last) in enumerate(names[:50], start=1):
            handle = f"{first.lower()}{last.lower()[:1]}"
            users.append(
                {
                    "id": i,
                    "handle": handle if all(u["handle"] != handle for u in users) else handle + str(i),
                    "name": f"{first} {last}",
                    "email": f"{first.lower()}.{last.lower()}@example.com",
                    "created_at": HISTORY_START - timedelta(days=rng.randint(700, 900)),
                }
            )
        return users

    def _customers(self, count: int) -> list[dict[str, object]]:
        rng, seen, rows = self.rng, set(), []
        for i in range(1, count + 1):
            if rng.random() < 0.7:
                kind = "organization"
                name = f"{rng.choice(ORG_A)} {rng.choice(ORG_B)} {rng.choice(ORG_SUFFIX)}"
            else:
                kind = "individual"
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            if name in seen:
                name = f"{name} {i}"
            seen.add(name)
            slug = name.lower().replace(" ", ".")
            rows.append(
                {
                    "id": i,
                    "kind": kind,
                    "name": name,
                    "email": f"{slug}@example.com",
                    "phone": f"+1-555-{rng.randint(1000000, 9999999)}" if rng.random() < 0.5 else None,
                    "created_at": HISTORY_START - timedelta(days=rng.randint(200, 700)),
                }
            )
        return rows

    def _rates(self) -> list[dict[str, object]]:
        """EUR, GBP, NOK and JPY to USD, and GBP, NOK and JPY to EUR (their cross rates), one rate a
        quarter from 2024-01-01 to 2027-10-01 (USD to EUR is the inverse of EUR to USD)."""
        rows, rng = [], self.rng
        level = dict(USD_RATE)
        for year in range(2024, 2028):
            for month in (1, 4, 7, 10):
                for code in USD_RATE:
                    level[code] *= 1 + rng.uniform(-0.03, 0.03)
                    rows.append(
                        {
                            "from_currency": code,
                            "to_currency": "USD",
                            "rate": f"{level[code]:.{RATE_DECIMALS[code]}f}",
                            "valid_from": date(year, month, 1),
                            "created_at": datetime(2024, 1, 1),
                        }
                    )
                for code in ("GBP", "NOK", "JPY"):
                    rows.append(
                        {
                            "from_currency": code,
                            "to_currency": "EUR",
                            "rate": f"{level[code] / level['EUR']:.{RATE_DECIMALS[code]}f}",
                            "valid_from": date(year, month, 1),
                            "created_at": datetime(2024, 1, 1),
                        }
                    )
        return rows

    # -- deals -----------------------------------------------------------------------------------------------

    def _when(self, start: datetime, end: datetime) -> datetime:
        """A whole-second instant in [start, end] during (UTC) office hours-ish."""
        span = max(0, int((end - start).total_seconds()))
        return start + timedelta(seconds=self.rng.randint(0, span))

    def deals(self, first_id: int, count: int, command_id: int) -> tuple[list, list, list]:
        rng = self.rng
        opps, all_events, lines = [], [], []
        handles = [u["handle"] for u in self.users]
        for deal_id in range(first_id, first_id + count):
            events = []  # this deal's, put in time order (history ids follow time within a deal)
            customer_id = self.customer_by_rank[
                bisect_right(self.customer_cum, rng.random() * self.customer_cum[-1])
            ]
            code, _, places, per_usd = CURRENCIES[
                bisect_right(self.currency_cum, rng.random() * self.currency_cum[-1])
            ]
            usd = min(5_000_000.0, rng.lognormvariate(math.log(25_000), 1.1))
            value_minor = max(100, int(round(usd * per_usd, -2))) * 10**places  # whole hundreds
            product = PRODUCTS[bisect_right(PRODUCT_WEIGHTS, rng.random() * PRODUCT_WEIGHTS[-1])]
            title = f"{self.customer_name[customer_id]} - {product}"
            external_ref = f"CRM-{deal_id:07d}" if rng.random() < 0.3 else None
            description = f"{product} for {rng.randint(5, 500)} seats" if rng.random() < 0.3 else None
            owner = (
                bisect_right(self.user_cum, rng.random() * self.user_cum[-1]) if rng.random() < 0.9 else None
            )
            late_assign = owner is not None and rng.random() < 0.05  # created unassigned, assigned later
            reassign = owner is not None and not late_assign and rng.random() < 0.03
            first_owner = None if late_assign else owner
            if reassign:
                first_owner = rng.randrange(len(handles))
                if first_owner == owner:
                    first_owner = (owner + 1) % len(handles)

            roll = rng.random()
            status = "open" if roll < 0.60 else "won" if roll < 0.85 else "lost"
            start_index = 0 if rng.random() < 0.8 else 1
            if status == "open":
                final_index = min(
                    3,
                    max(
                        start_index,
                        [0, 0, 0, 0, 1, 1, 1, 2, 2, 3][rng.randrange(10)]
                        if rng.random() < 0.85
                        else rng.randrange(4),
                    ),
                )
                expected_close = date(2025, 10, 1) + timedelta(days=rng.randint(0, 638))  # to 2027-06-30
                created = self._when(
                    max(
                        HISTORY_START,
                        datetime.combine(expected_close, datetime.min.time()) - timedelta(days=400),
                    ),
                    REFERENCE_NOW - timedelta(days=2),
                )
                end = REFERENCE_NOW - timedelta(hours=1)
                closed = None
            else:
                closed = self._when(datetime(2025, 1, 1), REFERENCE_NOW - timedelta(days=1))
                cycle = timedelta(days=min(600.0, rng.lognormvariate(math.log(60), 0.7)))
                created = max(HISTORY_START - timedelta(days=180), closed - cycle)
                expected_close = (closed + timedelta(days=rng.randint(-30, 30))).date()
                final_index = 3 if status == "won" else rng.randint(start_index, 3)
                end = closed
            # The open stages it went through, one step at a time, at increasing instants.
            path = list(range(start_index, final_index + 1))
            moments = sorted(self._when(created, end) for _ in range(len(path) - 1))
            snapshot_stage, snapshot_prob = OPEN_STAGES[start_index]
            events.append(
                {
                    "opportunity_id": deal_id,
                    "command_id": command_id,
                    "at": created,
                    "actor": handles[first_owner] if first_owner is not None else ACTOR,
                    "action": "created",
                    "field": None,
                    "old": None,
                    "note": None,
                    "new": snapshot_text(
                        {
                            "title": title,
                            "customer_id": customer_id,
                            "value_minor": value_minor,
                            "currency": code,
                            "probability": snapshot_prob,
                            "stage": snapshot_stage,
                            "status": "open",
                            "expected_close": expected_close,
                            "external_ref": external_ref,
                            "closed_at": None,
                            "lost_reason": None,
                        },
                        assignee=handles[first_owner] if first_owner is not None else None,
                    ),
                }
            )
            actor = handles[owner] if owner is not None else ACTOR
            stage, probability, version, stage_changed = snapshot_stage, snapshot_prob, 1, created
            for step, at in zip(path[1:], moments, strict=False):
                new_stage, new_prob = OPEN_STAGES[step]
                if step == final_index and status == "open" and rng.random() < 0.1:
                    new_prob = min(95, max(5, new_prob + rng.choice([-10, -5, 5, 10])))
                events.append(self._event(deal_id, command_id, at, actor, "stage", "stage", stage, new_stage))
                events.append(
                    self._event(
                        deal_id,
                        command_id,
                        at,
                        actor,
                        "stage",
                        "probability",
                        str(probability),
                        str(new_prob),
                    )
                )
                stage, probability, version, stage_changed = new_stage, new_prob, version + 1, at
            lost_reason = None
            if status != "open":
                new_stage = "closed-won" if status == "won" else "closed-lost"
                lost_reason = rng.choice(LOST_REASONS) if status == "lost" else None
                for field, old, new in (
                    ("stage", stage, new_stage),
                    ("probability", str(probability), str(PROBABILITY[new_stage])),
                    ("status", "open", status),
                    ("closed_at", None, instant_text(closed)),
                    ("lost_reason", None, lost_reason),
                ):
                    if old != new:
                        events.append(
                            self._event(deal_id, command_id, closed, actor, "stage", field, old, new)
                        )
                stage, probability, version, stage_changed = (
                    new_stage,
                    PROBABILITY[new_stage],
                    version + 1,
                    closed,
                )
            last = max([created, *moments, *([closed] if closed else [])])
            if late_assign or reassign:
                at = self._when(created, end)
                old = handles[first_owner] if first_owner is not None else None
                events.append(
                    self._event(deal_id, command_id, at, actor, "assign", "assignee", old, handles[owner])
                )
                version, last = version + 1, max(last, at)
            if rng.random() < 0.2:
                for _ in range(rng.randint(1, 3)):
                    at = self._when(created, end)
                    event = self._event(deal_id, command_id, at, actor, "note", None, None, None)
                    event["note"] = rng.choice(NOTES)
                    events.append(event)
            if rng.random() < 0.1:
                lines.extend(self._billables(deal_id, command_id, code, places, created, end, actor, events))
            opps.append(
                {
                    "id": deal_id,
                    "title": title,
                    "description": description,
                    "customer_id": customer_id,
                    "value_minor": value_minor,
                    "currency": code,
                    "probability": probability,
                    "stage": stage,
                    "status": status,
                    "expected_close": expected_close,
                    "external_ref": external_ref,
                    "assignee_id": owner + 1 if owner is not None else None,
                    "lost_reason": lost_reason,
                    "created_at": created,
                    "updated_at": last,
                    "closed_at": closed,
                    "stage_changed_at": stage_changed,
                    "version": version,
                }
            )
            events.sort(key=lambda event: event["at"])
            all_events.extend(events)
        return opps, all_events, lines

    @staticmethod
    def _event(
        deal_id: int,
        command_id: int,
        at: datetime,
        actor: str,
        action: str,
        field: str | None,
        old: str | None,
        new: str | None,
    ) -> dict[str, object]:
        return {
            "opportunity_id": deal_id,
            "command_id": command_id,
            "at": at,
            "actor": actor,
            "action": action,
            "field": field,
            "old": old,
            "new": new,
            "note": None,
        }

    def _billables(self, deal_id, command_id, code, places, created, end, actor, events) -> list[dict]:
        rng, rows = self.rng, []
        for line in range(1, rng.randint(1, 4) + 1):
            service, name, price_cents, _unit = rng.choice(SERVICES)
            unit_price = (
                price_cents if code == "USD" else round(price_cents / 100 * PER_USD[code]) * 10**places
            )
            quantity_milli = rng.choice([1000, 2000, 5000, 10000, 500, 1500])
            tax_bp = rng.choice([0, 2000, 2500])
            amount = half_up_div(quantity_milli * unit_price, 1000)
            tax = half_up_div(amount * tax_bp, 10000)
            at = self._when(created, end)
            rows.append(
                {
                    "opportunity_id": deal_id,
                    "line": line,
                    "description": name,
                    "service_code": service if code == "USD" else None,
                    "quantity_milli": quantity_milli,
                    "unit_price_minor": unit_price,
                    "tax_bp": tax_bp,
                    "amount_minor": amount,
                    "tax_minor": tax,
                    "currency": code,
                    "rate": None,
                    "invoice_number": None,
                    "created_at": at,
                    "removed_at": None,
                    "source_currency": None,
                    "source_price_minor": None,
                    "rate_pair": None,
                }
            )
            quantity = Decimal(quantity_milli).scaleb(-3).normalize()
            event = self._event(deal_id, command_id, at, actor, "billable", "line", None, str(line))
            event["note"] = (
                f"added {name}: {quantity} × {money_text(unit_price, code)} = "
                f"{money_text(amount, code)} {code}"
            )
            events.append(event)
        return rows


#: The custom field ``region`` (``opp list --where region=EMEA``, ``forecast --by region``): a quarter
#: of the deals have none, the rest are spread over the three choices.
REGIONS = ("EMEA", "APAC", "AMER", None)


def region_values(field_id: int, first_id: int, count: int) -> list[dict[str, object]]:
    """The region of each deal of a batch (its field_values rows), fixed by the deal's id."""
    rows = []
    for deal_id in range(first_id, first_id + count):
        region = REGIONS[(deal_id * 7919) % 4]
        if region is not None:
            rows.append(
                {
                    "field_id": field_id,
                    "record_id": deal_id,
                    "text_value": region,
                    "number_value": None,
                    "date_value": None,
                }
            )
    return rows


#: The work around the deals (opp issue 14) and the quotas of the weekly review (issue 16).
TASK_TITLES = (
    "Call back",
    "Send the revised quote",
    "Book a demo",
    "Chase the signature",
    "Follow up after the meeting",
    "Prepare the proposal",
    "Check the budget with finance",
)
TICKET_TITLES = (
    "Cannot log in",
    "Invoice question",
    "Installation help",
    "Data import fails",
    "Feature question",
)
ROLES = ("decision maker", "champion", "technical contact", "procurement", None)
QUOTA_PERIOD = "2026Q3"  # the reference quarter (REFERENCE_NOW is its first instant)


class Work:
    """Tasks (about one per deal), tickets (about one per 5 deals; a fifth of them on a customer alone,
    with ``ticket_time`` rows), deal contacts (individual customers on about 15 % of deals) and their
    history events, in the shapes opp.core.work writes them. Its own random stream (seeded from the
    seed), so the deals are the same as a database generated before it existed."""

    def __init__(self, gen: Generator, seed: int) -> None:
        self.rng = random.Random(seed * 1_000_003 + 17)
        self.handles = [str(u["handle"]) for u in gen.users]
        self.individuals = [int(c["id"]) for c in gen.customers if c["kind"] == "individual"]
        self.names = gen.customer_name
        self.next_task = 1
        self.next_ticket = 1

    def rows(self, opps: list[dict], command_id: int) -> tuple[list, list, list, list, list, list]:
        rng, handles = self.rng, self.handles
        tasks, tickets, times, contacts, events, loose_events = [], [], [], [], [], []
        today = REFERENCE_NOW.date()
        for deal in opps:
            deal_id, created = deal["id"], deal["created_at"]
            end = deal["closed_at"] or REFERENCE_NOW - timedelta(hours=1)
            owner = handles[deal["assignee_id"] - 1] if deal["assignee_id"] else rng.choice(handles)
            # Tasks: an open deal mostly has a next step (a fifth has none: list --without-task);
            # closed deals keep their done tasks and the odd follow-up.
            count = rng.choice((0, 1, 1, 1, 2)) if deal["status"] == "open" else rng.choice((0, 1, 1, 2))
            for _ in range(count):
                task_id, self.next_task = self.next_task, self.next_task + 1
                at = _between(rng, created, end)
                due = today + timedelta(days=rng.randint(-45, 60)) if rng.random() < 0.9 else None
                done = deal["status"] != "open" or rng.random() < 0.4
                assignee = owner if rng.random() < 0.85 else rng.choice(handles)
                title = rng.choice(TASK_TITLES)
                done_at = _between(rng, at, end) if done else None
                task, task_events = _task_rows(
                    task_id, deal_id, command_id, title, due, assignee, at, done_at
                )
                tasks.append(task)
                events += task_events
            # Contacts: an individual on some deals, in a role.
            if self.individuals and rng.random() < 0.15:
                person = rng.choice(self.individuals)
                role = rng.choice(ROLES)
                at = _between(rng, created, end)
                contacts.append(
                    {"opportunity_id": deal_id, "customer_id": person, "role": role, "created_at": at}
                )
                name = str(self.names[person])
                events.append(
                    _work_event(
                        deal_id,
                        command_id,
                        at,
                        owner,
                        "contact",
                        "contact",
                        None,
                        json.dumps({"id": person, "name": name, "role": role}, sort_keys=True),
                        f"added {name}" + (f" ({role})" if role else ""),
                    )
                )
            # Tickets: one per five deals; a fifth of them on the customer alone (no events).
            if rng.random() < 0.2:
                ticket_id, self.next_ticket = self.next_ticket, self.next_ticket + 1
                on_deal = rng.random() < 0.8
                opened = _between(rng, created, REFERENCE_NOW - timedelta(hours=1))
                status = rng.choice(("open", "pending", "solved", "closed", "closed"))
                solved = (
                    _between(rng, opened, REFERENCE_NOW - timedelta(minutes=1))
                    if status in ("solved", "closed")
                    else None
                )
                kind = "post-sale" if deal["status"] == "won" and rng.random() < 0.8 else "pre-sale"
                priority = rng.choice(("low", "normal", "normal", "normal", "high", "urgent"))
                title = rng.choice(TICKET_TITLES)
                tickets.append(
                    {
                        "id": ticket_id,
                        "opportunity_id": deal_id if on_deal else None,
                        "customer_id": deal["customer_id"],
                        "title": title,
                        "kind": kind,
                        "priority": priority,
                        "status": status,
                        "assignee": rng.choice(handles) if rng.random() < 0.7 else None,
                        "opened_at": opened,
                        "opened_by": owner,
                        "solved_at": solved,
                        "command_id": command_id,
                        "status_command_id": None if on_deal or status == "open" else command_id,
                    }
                )
                mine = events if on_deal else loose_events
                if on_deal:
                    mine.append(
                        _work_event(
                            deal_id,
                            command_id,
                            opened,
                            owner,
                            "ticket",
                            "ticket",
                            None,
                            title,
                            f"ticket {ticket_id} ({kind}, {priority})",
                            ticket_id=ticket_id,
                        )
                    )
                for _ in range(rng.randint(0, 3)):
                    hundredths = rng.choice((25, 50, 100, 150, 200, 400))
                    at = _between(rng, opened, solved or REFERENCE_NOW - timedelta(minutes=1))
                    times.append(
                        {
                            "ticket_id": ticket_id,
                            "hundredths": hundredths,
                            "note": None,
                            "at": at,
                            "actor": owner,
                            "command_id": command_id,
                        }
                    )
                    if on_deal:
                        hours = str(Decimal(hundredths).scaleb(-2).normalize())
                        mine.append(
                            _work_event(
                                deal_id,
                                command_id,
                                at,
                                owner,
                                "ticket",
                                "ticket_hours",
                                None,
                                hours,
                                None,
                                ticket_id=ticket_id,
                            )
                        )
                if solved is not None and on_deal:
                    note = f"ticket {ticket_id} {status}"
                    mine.append(
                        _work_event(
                            deal_id,
                            command_id,
                            solved,
                            owner,
                            "ticket",
                            "ticket_status",
                            "open",
                            status,
                            note,
                            ticket_id=ticket_id,
                        )
                    )
                    mine.append(
                        _work_event(
                            deal_id,
                            command_id,
                            solved,
                            owner,
                            "ticket",
                            "ticket_solved_at",
                            None,
                            instant_text(solved),
                            note,
                            ticket_id=ticket_id,
                        )
                    )
        events.sort(key=lambda event: (event["opportunity_id"], event["at"]))
        return tasks, tickets, times, contacts, events, loose_events

    def quotas(self, users: list[dict[str, object]], deals: int) -> list[dict[str, object]]:
        """A quarter's quota (USD) for each user with deals, about what a busy rep wins in a quarter."""
        per_user = max(1, deals // 400)  # 1M deals: ~2,500 won deals a rep a quarter at 25k
        rows = []
        for user in users:
            amount = int(per_user * 25_000 * self.rng.uniform(0.7, 1.3)) // 1000 * 1000 * 100
            rows.append(
                {
                    "user_id": user["id"],
                    "period": QUOTA_PERIOD,
                    "amount_minor": max(1_000_000, amount),
                    "currency": "USD",
                    "created_at": REFERENCE_NOW - timedelta(days=10),
                    "updated_at": REFERENCE_NOW - timedelta(days=10),
                }
            )
        return rows


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, span))


def _work_event(
    deal_id, command_id, at, actor, action, field, old, new, note, *, task_id=None, ticket_id=None
):
    return {
        "opportunity_id": deal_id,
        "command_id": command_id,
        "at": at,
        "actor": actor,
        "action": action,
        "field": field,
        "old": old,
        "new": new,
        "note": note,
        "task_id": task_id,
        "ticket_id": ticket_id,
    }


def generate(deals: int, db: str, seed: int, *, batch: int = BATCH, quiet: bool = False) -> dict[str, float]:
    started = time.perf_counter()
    store = open_store(db)
    gen = Generator(deals, seed)
    work = Work(gen, seed)
    timings: dict[str, float] = {}
    try:
        with store.engine.connect() as conn:
            if store.is_sqlite:
                # Speed over durability while generating: a crash means generating again.
                conn.connection.dbapi_connection.execute("PRAGMA synchronous = OFF")
                conn.connection.dbapi_connection.execute("PRAGMA cache_size = -262144")  # 256 MiB
            with conn.begin():
                if conn.execute(select(func.count()).select_from(schema.opportunities)).scalar():
                    sys.exit(f"{db} already holds deals; generate into a new database")
                conn.execute(insert(schema.users), gen.users)
                for start in range(0, len(gen.customers), batch):
                    conn.execute(insert(schema.customers), gen.customers[start : start + batch])
                conn.execute(insert(schema.rates), gen.rates)
                conn.execute(insert(schema.quotas), work.quotas(gen.users, deals))
                region_id = conn.execute(
                    insert(schema.custom_fields).values(
                        name="region",
                        record="deal",
                        type="choice",
                        choices='["EMEA", "APAC", "AMER"]',
                        created_at=datetime(2024, 1, 1),
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    insert(schema.services),
                    [
                        {
                            "code": code,
                            "name": name,
                            "price_minor": price,
                            "currency": "USD",
                            "unit": unit,
                            "tax_bp": 2500,
                            "created_at": datetime(2024, 1, 1),
                            "retired_at": None,
                        }
                        for code, name, price, unit in SERVICES
                    ],
                )
            made, events_total, build, write = 0, 0, 0.0, 0.0
            work_total: dict[str, int] = {}
            while made < deals:
                count = min(batch, deals - made)
                with conn.begin():
                    t0 = time.perf_counter()
                    command_id = conn.execute(
                        insert(schema.commands).values(
                            at=REFERENCE_NOW - timedelta(hours=1), actor=ACTOR, name="generate"
                        )
                    ).inserted_primary_key[0]
                    opps, events, lines = gen.deals(made + 1, count, command_id)
                    t1 = time.perf_counter()
                    conn.execute(insert(schema.opportunities), opps)
                    tasks, tickets, times, contacts, work_events, _ = work.rows(opps, command_id)
                    for event in events:
                        event.update(task_id=None, ticket_id=None)
                    # One story per deal in time order (history ids follow time within a deal).
                    events = sorted(events + work_events, key=lambda e: (e["opportunity_id"], e["at"]))
                    conn.execute(insert(schema.history), events)
                    if lines:
                        conn.execute(insert(schema.billables), lines)
                    conn.execute(insert(schema.field_values), region_values(region_id, made + 1, count))
                    work_counts = write_work(conn, tasks, tickets, times, contacts)
                    t2 = time.perf_counter()
                build, write = build + t1 - t0, write + t2 - t1
                made += count
                events_total += len(events)
                for key, value in work_counts.items():
                    work_total[key] = work_total.get(key, 0) + value
                if not quiet:
                    rate = made / (time.perf_counter() - started)
                    print(
                        f"\r{made:>9,} deals, {events_total:>10,} events  ({rate:,.0f} deals/s)",
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
            add_bench_rep(conn, deals, seed)
            if not store.is_sqlite:
                with conn.begin():
                    for table in (
                        "users",
                        "customers",
                        "rates",
                        "services",
                        "commands",
                        "opportunities",
                        "history",
                        "billables",
                        "tasks",
                        "tickets",
                        "ticket_time",
                        "deal_contacts",
                        "quotas",
                    ):
                        conn.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT coalesce(max(id), 1) FROM {table}))"
                            )
                        )
            t3 = time.perf_counter()
            with conn.begin():
                conn.exec_driver_sql("ANALYZE")
            timings["analyze"] = time.perf_counter() - t3
    finally:
        store.close()
    timings.update(build=build, write=write, total=time.perf_counter() - started, events=events_total)
    timings.update(work_total)
    if not quiet:
        print(
            f"\n{deals:,} deals, {events_total:,} history events in {timings['total']:.1f} s "
            f"(rows built {build:.1f} s, written {write:.1f} s, ANALYZE {timings['analyze']:.1f} s)",
            file=sys.stderr,
        )
        print(", ".join(f"{key} {value:,}" for key, value in work_total.items()), file=sys.stderr)
    return timings


#: The acting user of the benchmarks' ``agenda`` and ``task list --mine`` (opp issue 14): a rep with the
#: same small workload whatever the number of deals, so those commands' figures show how opp grows with
#: the data around them and not with the rep's own list.
BENCH_REP = "bench-rep"
BENCH_REP_TASKS = 60  # 50 open (12 overdue, 3 due today, 15 within the week, 12 later, 8 undated), 10 done


def bench_rep_rows(
    seed: int, user_id: int, first_task: int, open_deals: list[int], command_id: int
) -> tuple[dict[str, object], list[dict[str, object]], list[dict[str, object]]]:
    """The bench rep's user row, tasks and task events: the same counts for every size (its own random
    stream, so the rest of the database is as it was before the rep existed)."""
    rng = random.Random(seed * 7_919 + 51)
    today = REFERENCE_NOW.date()
    user = {
        "id": user_id,
        "handle": BENCH_REP,
        "name": "Bench Rep",
        "email": "bench.rep@example.com",
        "created_at": HISTORY_START - timedelta(days=800),
    }
    offsets: list[int | None] = (
        [-rng.randint(1, 40) for _ in range(12)]
        + [0] * 3
        + [rng.randint(1, 7) for _ in range(15)]
        + [rng.randint(8, 60) for _ in range(12)]
        + [None] * 8
    )
    tasks, events = [], []
    for i in range(BENCH_REP_TASKS):
        task_id = first_task + i
        deal_id = open_deals[(i * len(open_deals)) // BENCH_REP_TASKS]
        done = i >= len(offsets)
        offset = offsets[i] if not done else -rng.randint(1, 30)
        due = today + timedelta(days=offset) if offset is not None else None
        # After every other event of the deal (those end a minute before REFERENCE_NOW), so history
        # ids still follow time within a deal.
        at = REFERENCE_NOW - timedelta(seconds=50)
        done_at = REFERENCE_NOW - timedelta(seconds=10) if done else None
        title = TASK_TITLES[i % len(TASK_TITLES)]
        task, task_events = _task_rows(task_id, deal_id, command_id, title, due, BENCH_REP, at, done_at)
        tasks.append(task)
        events += task_events
    return user, tasks, events


def _task_rows(
    task_id: int,
    deal_id: int,
    command_id: int,
    title: str,
    due: date | None,
    assignee: str,
    at: datetime,
    done_at: datetime | None,
) -> tuple[dict, list[dict]]:
    """A task's row and its history events: added, and (when done) its status and done time, as
    ``opp task add`` and ``opp task done`` write them."""
    task = {
        "id": task_id,
        "opportunity_id": deal_id,
        "title": title,
        "due": due,
        "assignee": assignee,
        "status": "done" if done_at is not None else "open",
        "created_at": at,
        "done_at": done_at,
    }
    when = f", due {due.isoformat()}" if due is not None else ""
    added = f"for {assignee}{when}"
    events = [
        _work_event(deal_id, command_id, at, assignee, "task", "task", None, title, added, task_id=task_id)
    ]
    if done_at is not None:
        note = f"task {task_id} done"
        for field, old, new in (
            ("task_status", "open", "done"),
            ("task_done_at", None, instant_text(done_at)),
        ):
            events.append(
                _work_event(
                    deal_id, command_id, done_at, assignee, "task", field, old, new, note, task_id=task_id
                )
            )
    return task, events


def add_bench_rep(conn, deals: int, seed: int) -> None:
    """Add the bench rep and its tasks on open deals spread over the ids (one transaction)."""
    with conn.begin():
        user_id = conn.execute(select(func.max(schema.users.c.id))).scalar() + 1
        first_task = (conn.execute(select(func.max(schema.tasks.c.id))).scalar() or 0) + 1
        o = schema.opportunities
        open_deals = []
        for i in range(BENCH_REP_TASKS):
            start = 1 + (i * deals) // BENCH_REP_TASKS
            found = conn.execute(
                select(o.c.id).where(o.c.id >= start, o.c.status == "open").order_by(o.c.id).limit(1)
            ).scalar()
            open_deals.append(found if found is not None else start)
        command_id = conn.execute(
            insert(schema.commands).values(
                at=REFERENCE_NOW - timedelta(hours=1), actor=ACTOR, name="generate"
            )
        ).inserted_primary_key[0]
        user, tasks, events = bench_rep_rows(seed, user_id, first_task, open_deals, command_id)
        conn.execute(insert(schema.users), [user])
        conn.execute(insert(schema.tasks), tasks)
        conn.execute(insert(schema.history), events)


def write_work(conn, tasks, tickets, times, contacts) -> dict[str, int]:
    """Write one batch of :meth:`Work.rows` (tasks, tickets and their time, contacts; not the events)."""
    for table, batch_rows in (
        (schema.tasks, tasks),
        (schema.tickets, tickets),
        (schema.ticket_time, times),
        (schema.deal_contacts, contacts),
    ):
        if batch_rows:
            conn.execute(insert(table), batch_rows)
    return {
        "tasks": len(tasks),
        "tickets": len(tickets),
        "ticket_time": len(times),
        "deal_contacts": len(contacts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, required=True, help="number of deals")
    parser.add_argument("--db", required=True, help="SQLite path or PostgreSQL URL (a new, empty database)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=BATCH, help="deals per transaction (default 10000)")
    parser.add_argument("--replace", action="store_true", help="delete an existing SQLite file first")
    args = parser.parse_args()
    if args.replace and "://" not in args.db:
        for suffix in ("", "-wal", "-shm"):
            Path(args.db + suffix).unlink(missing_ok=True)
    generate(args.deals, args.db, args.seed, batch=args.batch)


if __name__ == "__main__":
    main()
