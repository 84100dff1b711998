"""The store: SQLAlchemy tables, engine set-up and migrations. It knows tables, not policy."""
