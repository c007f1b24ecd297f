"""Row writes for the journal's hot paths, in one transaction it already holds.

On SQLite they are positional SQL on the DBAPI cursor: measured, a SQLAlchemy Core statement
costs 0.1-0.3 ms of Python per call, which made an order (five statements) cost ~1.6 ms and the
decision rows (one per bar and symbol) the largest part of a backtest. Other databases take the
portable path: Core statements with full type processing. Both write the same values: times as
UTC (SQLite: SQLAlchemy's own text format), booleans as integers, the model's column defaults
for anything not given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update

_TEXT_CACHE: dict[datetime | float, str] = {}


def utc_text(value: datetime) -> str:
    """SQLAlchemy's SQLite datetime format; cached because a cycle's rows share their times."""
    text_value = _TEXT_CACHE.get(value)
    if text_value is None:
        text_value = _remember_text(value, value.astimezone(UTC))
    return text_value


def epoch_text(seconds: float) -> str:
    """`utc_text` for epoch seconds (decision bar times are kept as the bars' own floats)."""
    text_value = _TEXT_CACHE.get(seconds)
    if text_value is None:
        text_value = _remember_text(seconds, datetime.fromtimestamp(seconds, UTC))
    return text_value


def _remember_text(key: datetime | float, d: datetime) -> str:
    if len(_TEXT_CACHE) > 64:
        _TEXT_CACHE.clear()
    text_value = _TEXT_CACHE[key] = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (2x faster than strftime)
        d.year,
        d.month,
        d.day,
        d.hour,
        d.minute,
        d.second,
        d.microsecond,
    )
    return text_value


def sqlite_value(value: Any) -> Any:
    """A Python value as SQLAlchemy would bind it to SQLite."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, dict)):  # a JSON column (a structure's legs), as SQLAlchemy's JSON type stores it
        return json.dumps(value)
    return value


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """A positional INSERT of `columns`."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> int | None:
    """Run `sql` for each row inside the transaction SQLAlchemy began; the row id when there
    was one row (sqlite3 leaves `lastrowid` unchanged after executemany)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
            return cursor.lastrowid
        cursor.executemany(sql, rows)
        return None
    finally:
        cursor.close()


class RowWriter:
    """Inserts and by-id updates of one table, on whichever path the connection's database takes."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._columns = tuple(c.name for c in table.columns if not c.primary_key)
        self._defaults = {c.name: _scalar_default(c.default) for c in table.columns if not c.primary_key}
        self._insert_sql = insert_sql(table.name, self._columns)
        self._insert = insert(table)
        self._updates: dict[tuple[str, ...], tuple[str, Any]] = {}

    def insert_one(self, conn: Connection, row: Mapping[str, Any]) -> int:
        """Insert one row; its id."""
        if conn.dialect.name == "sqlite":
            return int(executemany(conn, self._insert_sql, [self._params(row)]) or 0)
        return int(conn.execute(self._insert, dict(row)).inserted_primary_key[0])  # type: ignore[index]

    def insert_many(self, conn: Connection, rows: list[Mapping[str, Any]]) -> None:
        """Insert `rows` (SQLite reports no ids after executemany)."""
        if conn.dialect.name == "sqlite":
            executemany(conn, self._insert_sql, [self._params(r) for r in rows])
        else:
            conn.execute(self._insert, [dict(r) for r in rows])

    def _params(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(sqlite_value(row[c]) if c in row else self._defaults[c] for c in self._columns)

    def update(self, conn: Connection, row_id: int, fields: Mapping[str, Any]) -> None:
        """Set `fields` on the row with this id."""
        names = tuple(fields)
        found = self._updates.get(names)
        if found is None:
            sql = f"UPDATE {self.table.name} SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?"
            core = update(self.table).where(self.table.c.id == bindparam("row_id"))
            core = core.values({n: bindparam(n) for n in names})
            found = self._updates[names] = (sql, core)
        if conn.dialect.name == "sqlite":
            executemany(conn, found[0], [(*(sqlite_value(v) for v in fields.values()), row_id)])
        else:
            conn.execute(found[1], {"row_id": row_id, **fields})


def _scalar_default(default: Any) -> Any:
    """A column's Python default when it is a plain value (the journal's tables have no others)."""
    if default is None:
        return None
    if getattr(default, "is_scalar", False):
        return sqlite_value(default.arg)
    raise ValueError(f"column default {default!r} is not a plain value")
