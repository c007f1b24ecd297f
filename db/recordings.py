"""`python -m db.recordings`: what the worker recorded (bars and option quotes), exported to
Parquet or pruned.

    python -m db.recordings summary [--db URL]
    python -m db.recordings export --start 2026-03-02 --end 2026-03-06 --to recordings/ [--db URL]
    python -m db.recordings prune --before 2026-01-01 [--db URL]

Export writes `bars.parquet` and `quotes.parquet` for the sessions asked (New York dates);
prune deletes the recorded rows before a date, in one transaction, and says how many.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, func, select

from core.calendar import NY
from db.engine import make_engine
from db.migrate import upgrade
from db.models import Bar, OptionQuote


def _utc_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    lo = datetime.combine(start, time(0), NY) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(0), NY) if end else None
    return lo, hi


def summary(engine: Engine) -> str:
    with engine.connect() as conn:
        bars = conn.execute(select(func.count(), func.min(Bar.time), func.max(Bar.time))).one()
        quotes = conn.execute(select(func.count(), func.min(OptionQuote.time), func.max(OptionQuote.time))).one()
    return f"bars: {bars[0]} ({bars[1]} .. {bars[2]}); option quotes: {quotes[0]} ({quotes[1]} .. {quotes[2]})"


def export(engine: Engine, start: date | None, end: date | None, folder: Path) -> tuple[int, int]:
    """Bars and quotes of [start, end] (New York dates) to Parquet; returns the row counts."""
    lo, hi = _utc_bounds(start, end)
    folder.mkdir(parents=True, exist_ok=True)
    counts = []
    for model, name in ((Bar, "bars"), (OptionQuote, "quotes")):
        query = select(model)
        if lo is not None:
            query = query.where(model.time >= lo)  # type: ignore[attr-defined]
        if hi is not None:
            query = query.where(model.time < hi)  # type: ignore[attr-defined]
        with engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all())
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        counts.append(len(frame))
    return counts[0], counts[1]


def prune(engine: Engine, before: date) -> tuple[int, int]:
    """Delete the recorded rows before `before` (New York date); returns (bars, quotes) deleted."""
    cut, _ = _utc_bounds(before, None)
    with engine.begin() as conn:
        bars = conn.execute(delete(Bar).where(Bar.time < cut)).rowcount  # type: ignore[arg-type]
        quotes = conn.execute(delete(OptionQuote).where(OptionQuote.time < cut)).rowcount  # type: ignore[arg-type]
    return int(bars), int(quotes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m db.recordings", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["summary", "export", "prune"])
    parser.add_argument(
        "--db", default=None, help="SQLAlchemy URL (default: DATABASE_URL or sqlite:///data/trading.db)"
    )
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--before", type=date.fromisoformat)
    parser.add_argument("--to", type=Path, default=Path("recordings"))
    args = parser.parse_args(argv)
    engine = make_engine(upgrade(args.db))
    if args.command == "summary":
        print(summary(engine))
    elif args.command == "export":
        bars, quotes = export(engine, args.start, args.end, args.to)
        print(f"exported {bars} bars and {quotes} option quotes to {args.to}/bars.parquet and quotes.parquet")
    else:
        if args.before is None:
            raise SystemExit("prune needs --before DATE")
        bars, quotes = prune(engine, args.before)
        print(f"deleted {bars} bars and {quotes} option quotes before {args.before}")


if __name__ == "__main__":
    main()
