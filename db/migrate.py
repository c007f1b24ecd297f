"""Bring a database to the newest schema: `python -m db.migrate [--db URL]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from db.engine import database_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url(url))
    return cfg


def upgrade(url: str | None = None) -> str:
    """Migrate to head and return the URL migrated."""
    resolved = database_url(url)
    command.upgrade(alembic_config(resolved), "head")
    return resolved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="SQLAlchemy URL (default: DATABASE_URL or sqlite:///data/trading.db)")
    args = parser.parse_args()
    print(f"migrated {shown(upgrade(args.db))}")


def shown(url: str) -> str:
    """A database URL as it may be printed or logged: the password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
