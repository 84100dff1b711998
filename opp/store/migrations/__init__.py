"""Alembic migrations, shipped inside the package and applied automatically when a database opens."""
