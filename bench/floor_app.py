"""The floor a database command of opp is measured against: a one-command Typer app that imports
SQLAlchemy, opens the database and runs one query, in the same process shape as ``opp``.

    python bench/floor_app.py DB_PATH_OR_URL
"""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command()
def main(db: str) -> None:
    """Print the schema revision of DB (one cheap query through SQLAlchemy)."""
    from sqlalchemy import create_engine, text

    if "://" not in db:
        db = "sqlite:///" + db
    elif db.startswith("postgresql://"):
        db = "postgresql+psycopg://" + db.split("://", 1)[1]
    engine = create_engine(db)
    with engine.connect() as conn:
        typer.echo(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
    engine.dispose()


if __name__ == "__main__":
    app()
