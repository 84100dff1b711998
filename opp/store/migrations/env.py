"""Alembic environment: opp always hands over an open connection inside its own write transaction."""

from alembic import context

from opp.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
