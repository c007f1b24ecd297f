"""What recording costs: database bytes per session for the bars, VIX and option quotes a paper
worker records, measured on a paper session against the local fake Alpaca.

    .venv/bin/python bench/recording_cost.py [--minutes 120] [--band-pct 2.0]

Runs the same paper cycles twice (recording on and off) into fresh SQLite files, VACUUMs both,
and prints the difference per minute and per 390-minute session, with the row counts, and the
size of the same rows exported to Parquet (`python -m db.recordings export`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from db.recordings import export
from tests.alpaca_helpers import fake_alpaca, session_time
from tests.fake_alpaca import alpaca_env
from worker.runtime import RunOptions, build_runtime

SESSION_MINUTES = 390


def run(url: str, minutes: int, record: bool, band: float) -> None:
    with fake_alpaca(start=session_time(10, 0)) as server:
        os.environ.update(alpaca_env(server.url, ALPACA_MAX_REQUESTS_PER_MINUTE="100000"))  # a local fake
        rt = build_runtime(RunOptions(mode="paper", db=url, model=None, record=record, record_band_pct=band), "worker")
        for _ in range(minutes):
            server.state.advance(1)
            rt.cycle.run(server.state.now.replace(second=0, microsecond=0))
        rt.journal.flush()
        rt.engine.dispose()


def size(path: Path) -> int:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
    engine.dispose()
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--band-pct", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        on, off = Path(tmp) / "on.db", Path(tmp) / "off.db"
        run(f"sqlite:///{on}", args.minutes, True, args.band_pct)
        run(f"sqlite:///{off}", args.minutes, False, args.band_pct)
        extra = size(on) - size(off)
        engine = create_engine(f"sqlite:///{on}")
        with engine.connect() as conn:
            bars = conn.execute(text("SELECT count(*) FROM bar")).scalar()
            quotes = conn.execute(text("SELECT count(*) FROM optionquote")).scalar()
        bars_n, quotes_n = export(engine, None, None, Path(tmp) / "parquet")
        parquet = sum(p.stat().st_size for p in (Path(tmp) / "parquet").iterdir())
    per_minute = extra / args.minutes
    print(
        f"{args.minutes} minutes, band {args.band_pct}%: {bars} bars and {quotes} option quotes recorded; "
        f"SQLite +{extra / 1e6:.2f} MB ({per_minute / 1e3:.1f} kB a minute, "
        f"{per_minute * SESSION_MINUTES / 1e6:.1f} MB a 390-minute session); "
        f"Parquet {parquet / 1e6:.2f} MB ({parquet / args.minutes * SESSION_MINUTES / 1e6:.1f} MB a session); "
        f"exported {bars_n} + {quotes_n} rows"
    )


if __name__ == "__main__":
    main()
