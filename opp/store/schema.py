"""The tables, in SQLAlchemy Core.

Money is an integer count of minor units (``*_minor``) beside an ISO 4217 code; instants are naive UTC
``DateTime``; dates are ``Date``. The history table is append-only and carries enough (field, old, new)
to rebuild a deal's state at any instant. Migrations under ``migrations/`` create exactly these tables;
a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: What the migrations give some indexes on PostgreSQL beyond what is declared here: a partial index's
#: condition, and the event id carried in the index for index-only scans. Not declared as SQLAlchemy's
#: ``postgresql_*`` options, because declaring one loads SQLAlchemy's whole PostgreSQL dialect (about
#: 40 ms) at the start of every command, on SQLite too; nothing creates tables from this module (the
#: migrations do), so those options would only describe them. tests/test_store.py checks the indexes.
POSTGRESQL_ONLY = {
    "ix_opportunities_open_stage_changed_at": "WHERE status = 'open' (migration 0006)",
    "ix_history_at_field_opportunity_id": "INCLUDE (id) (migration 0006)",
    "ix_history_field_at_action_opportunity_id": "INCLUDE (id) (migration 0012)",
}

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handle", String(64), nullable=False, unique=True),
    Column("name", String(200)),
    Column("email", String(320)),
    Column("created_at", DateTime, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(300), nullable=False),
    Column("email", String(320)),
    Column("phone", String(64)),
    Column("created_at", DateTime, nullable=False),
    Index("ix_customers_name", "name"),
)

stages = Table(
    "stages",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("probability", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
)

# One row per command that wrote something: groups the history events it wrote (for undo).
commands = Table(
    "commands",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("name", String(40), nullable=False),
    Column("undone_by", Integer, ForeignKey("commands.id")),
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(500), nullable=False),
    Column("description", Text),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("value_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("probability", Integer, nullable=False),
    Column("stage", String(40), ForeignKey("stages.key"), nullable=False),
    Column("status", String(8), nullable=False),
    Column("expected_close", Date),
    Column("external_ref", String(200), unique=True),
    Column("assignee_id", Integer, ForeignKey("users.id")),
    Column("lost_reason", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    Column("stage_changed_at", DateTime, nullable=False),
    # Bumped by every change: an edit made on stale data is refused instead of overwriting.
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_opportunities_assignee_id_status", "assignee_id", "status"),
    # A rep's deals of a stage in id order (migration 0015): `list --assignee X --stage S` pages unsorted.
    Index("ix_opportunities_assignee_id_stage", "assignee_id", "stage"),
    Index("ix_opportunities_customer_id", "customer_id"),
    Index("ix_opportunities_expected_close", "expected_close"),
    # The deals of a status in id order (migration 0013): a page of open deals, the default listing.
    Index("ix_opportunities_status_id", "status", "id"),
    # report stuck: the open deals longest stuck first, read in order. Partial (migration 0006 says why),
    # on PostgreSQL too: see POSTGRESQL_ONLY.
    Index("ix_opportunities_open_stage_changed_at", "stage_changed_at", sqlite_where=text("status = 'open'")),
)

history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("opportunity_id", Integer, ForeignKey("opportunities.id"), nullable=False),
    Column("command_id", Integer, ForeignKey("commands.id")),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    # 40 since revision 0009: a custom field's name (up to 40 characters) is its history field.
    Column("field", String(40)),
    Column("old", Text),
    Column("new", Text),
    Column("note", Text),
    Index("ix_history_opportunity_id_id", "opportunity_id", "id"),
    # Covers the time-travel aggregates (opp.core.pipeline.asof): the events after an instant, read from
    # the index.
    Index("ix_history_at_field_opportunity_id", "at", "field", "opportunity_id"),
    # One field's events since an instant (report pushes, the waterfall's deals changed or created since
    # its first day): migration 0012.
    Index(
        "ix_history_field_at_action_opportunity_id",
        "field",
        "at",
        "action",
        "opportunity_id",
    ),
    Index("ix_history_command_id", "command_id"),
)

# The service catalog. Prices are minor units of the service's currency; tax in hundredths of a percent.
services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("unit", String(40)),
    Column("tax_bp", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("retired_at", DateTime),
)

# A deal's billable lines, in the deal's currency. Amounts are computed once, when the line is added,
# and stored: a line never changes afterwards (an invoiced one can't even be removed).
billables = Table(
    "billables",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("opportunity_id", Integer, ForeignKey("opportunities.id"), nullable=False),
    Column("line", Integer, nullable=False),
    Column("description", String(500), nullable=False),
    Column("service_code", String(40)),
    Column("quantity_milli", BigInteger, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("tax_bp", Integer, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate", String(40)),
    Column("invoice_number", String(40)),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("opportunity_id", "line", name="uq_billables_opportunity_id_line"),
)

# Dated exchange rates: 1 FROM = rate TO from valid_from on (until a later rate of the same pair).
# The rate is kept as exact decimal text; conversion happens in SQL (see opp.store.dialect).
rates = Table(
    "rates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("from_currency", String(3), nullable=False),
    Column("to_currency", String(3), nullable=False),
    Column("rate", String(40), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("from_currency", "to_currency", "valid_from", name="uq_rates_pair_valid_from"),
)

# -- invoices (revision 0004) ---------------------------------------------------------------------------

# Billable lines gain (appended so that the columns keep the order the migration gives them):
# removed_at, as a removed line is kept so that its number is never handed out again; and, for a line
# whose catalog price was converted, the price and currency it came from and the rate used
# (``rate`` above, as exact text, of the pair ``rate_pair`` such as EUR/USD: 1 EUR = rate USD).
billables.append_column(Column("removed_at", DateTime))
billables.append_column(Column("source_currency", String(3)))
billables.append_column(Column("source_price_minor", BigInteger))
billables.append_column(Column("rate_pair", String(7)))
Index("ix_billables_invoice_number", billables.c.invoice_number)  # binds itself to the table

# Issued invoices: never updated once written. The customer's details, the deal's title and the issuer
# are copied in as they were at issue, so a printed invoice can always be printed again identically.
invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("opportunity_id", Integer, ForeignKey("opportunities.id"), nullable=False),
    Column("title", String(500), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("customer_kind", String(16), nullable=False),
    Column("customer_name", String(300), nullable=False),
    Column("customer_email", String(320)),
    Column("customer_phone", String(64)),
    Column("currency", String(3), nullable=False),
    Column("subtotal_minor", BigInteger, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("issuer", Text),
    Index("ix_invoices_opportunity_id", "opportunity_id"),
    Index("ix_invoices_issue_date", "issue_date"),
)

# The last invoice sequence number handed out per series ("2026" when the pattern has {year}, else
# "all"), bumped inside the transaction that writes the invoice: a failure leaves no gap.
invoice_counters = Table(
    "invoice_counters",
    metadata,
    Column("series", String(16), primary_key=True),
    Column("last", Integer, nullable=False),
)

# -- people and the work around a deal (revision 0007) ----------------------------------------------------

# An individual may work for an organization (``employer_id``, another customer) under a job title.
customers.append_column(Column("employer_id", Integer, ForeignKey("customers.id")))
customers.append_column(Column("job_title", String(200)))
Index("ix_customers_employer_id", customers.c.employer_id)

# The people (individuals) on a deal, each once, with their role in it.
deal_contacts = Table(
    "deal_contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("opportunity_id", Integer, ForeignKey("opportunities.id"), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("role", String(200)),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("opportunity_id", "customer_id", name="uq_deal_contacts_opportunity_id_customer_id"),
    Index("ix_deal_contacts_customer_id", "customer_id"),
)

# Changes to customers themselves (``customer edit``, ``customer merge``), grouped by their command like
# deal history, so that ``opp undo`` can take them back. No foreign key to customers: a merged customer is
# removed, and its event is what brings it back.
customer_history = Table(
    "customer_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False),
    Column("command_id", Integer, ForeignKey("commands.id")),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("field", String(32)),
    Column("old", Text),
    Column("new", Text),
    Column("note", Text),
    Index("ix_customer_history_customer_id_id", "customer_id", "id"),
    Index("ix_customer_history_command_id", "command_id"),
)

# -- the work around a deal: tasks and tickets (revision 0008) ------------------------------------------

# History events of tasks and tickets name the task or ticket they concern (null on every other event):
# undo reverts exactly that record, and a timeline links the event to it.
history.append_column(Column("task_id", Integer))
history.append_column(Column("ticket_id", Integer))

# A deal's next steps. ``assignee`` is a handle, as history's actor is: a task is assigned to the
# acting user by default, who need not be a user row. Dates only (``due``): a task is due on a day.
tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("opportunity_id", Integer, ForeignKey("opportunities.id"), nullable=False),
    Column("title", String(500), nullable=False),
    Column("due", Date),
    Column("assignee", String(64)),
    Column("status", String(8), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("done_at", DateTime),
    # A deal's open tasks, first due first: next_task, list --without-task, task list --deal.
    Index("ix_tasks_opportunity_id_status_due", "opportunity_id", "status", "due"),
    # Someone's open tasks by due date: agenda, task list --mine.
    Index("ix_tasks_assignee_status_due", "assignee", "status", "due"),
    # Everyone's open tasks by due date: agenda --all, task list --overdue.
    Index("ix_tasks_status_due", "status", "due"),
)

# Support tickets: on a deal (the deal's customer copied in) or on a customer alone. ``command_id`` is
# the command that opened it and ``status_command_id`` the one that last set its status: undo reverts a
# ticket on a customer alone by them, as such a ticket has no deal whose history holds its events.
tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("opportunity_id", Integer, ForeignKey("opportunities.id")),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("title", String(500), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("assignee", String(64)),
    Column("opened_at", DateTime, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("solved_at", DateTime),
    Column("command_id", Integer, ForeignKey("commands.id")),
    Column("status_command_id", Integer, ForeignKey("commands.id")),
    Index("ix_tickets_opportunity_id", "opportunity_id"),
    Index("ix_tickets_customer_id", "customer_id"),
    Index("ix_tickets_status", "status"),
)

# Time spent on a ticket, in hundredths of an hour (1.25 h = 125), one row per `ticket log`.
ticket_time = Table(
    "ticket_time",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("hundredths", BigInteger, nullable=False),
    Column("note", Text),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("command_id", Integer, ForeignKey("commands.id")),
    Index("ix_ticket_time_ticket_id", "ticket_id"),
)

# -- forecast categories and quotas (revision 0010) -----------------------------------------------------

# A stage's forecast category (closed-won ``closed``, closed-lost ``omitted``; an open stage's is set with
# ``opp stages edit --category``), and a deal's category set by hand (null: it follows its stage).
stages.append_column(Column("category", String(16), nullable=False, server_default="pipeline"))
opportunities.append_column(Column("category", String(16)))

# Covering indexes for the aggregates (migration 0011 says which query reads which): every figure of
# the forecast, the pipeline and the reports is read from an index alone, never from the table. Each
# holds the columns it is searched by, then the figures' (currency, value, probability, the close
# dates that pick a conversion rate) and what they are grouped by.
_AGGREGATED = ("currency", "value_minor", "probability", "assignee_id", "category")
for _name, _columns in (
    ("ix_opportunities_status_stage", ("status", "stage", "expected_close", "closed_at")),
    ("ix_opportunities_status_expected_close", ("status", "expected_close", "closed_at", "stage")),
    ("ix_opportunities_closed_at_status", ("closed_at", "status", "expected_close", "stage")),
):
    Index(_name, *(opportunities.c[column] for column in (*_columns, *_AGGREGATED)))

# One target per user and period: ``2026-11``, ``2026Q4`` or ``2026`` (the canonical text of the period),
# in minor units of its currency.
quotas = Table(
    "quotas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("period", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("user_id", "period", name="uq_quotas_user_id_period"),
    Index("ix_quotas_period", "period"),
)

# -- custom fields (revision 0009) ----------------------------------------------------------------------

# A team's own fields on deals or customers (``record`` says which): typed text, number, date or choice.
# Names are unique across both kinds, so that ``--where NAME`` and ``--by NAME`` name one field.
# ``choices`` is the choices of a choice field as a JSON array, in the order defined.
custom_fields = Table(
    "custom_fields",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("record", String(16), nullable=False),
    Column("type", String(16), nullable=False),
    Column("choices", Text),
    Column("created_at", DateTime, nullable=False),
)

# One row per record and field that holds a value (an unset value has no row). ``text_value`` is the
# value as history writes it (exact: a number's decimal text, a date's ISO text, a choice as defined);
# ``number_value`` and ``date_value`` repeat a number or a date in a type SQL compares and orders, so
# that ``--where`` and ``--by`` run in the database through the indexes below. ``record_id`` is a
# deal's or a customer's id as the field's ``record`` says (so no foreign key).
field_values = Table(
    "field_values",
    metadata,
    Column("field_id", Integer, ForeignKey("custom_fields.id"), primary_key=True),
    Column("record_id", Integer, primary_key=True),
    Column("text_value", String(500), nullable=False),
    Column("number_value", Float(53)),
    Column("date_value", Date),
    Index("ix_field_values_field_id_text_value", "field_id", "text_value"),
    Index("ix_field_values_field_id_number_value", "field_id", "number_value"),
    Index("ix_field_values_field_id_date_value", "field_id", "date_value"),
    # No index on record_id alone (migration 0014): every statement names the field too, and SQLite
    # keeps the rows in the primary key's tree: a deal's value is one look-up (--by, listings).
    sqlite_with_rowid=False,
)
