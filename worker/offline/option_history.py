"""`python -m worker.option_history`: real option minute bars into the local cache backtests price from.

    python -m worker.option_history download --symbols SPY,QQQ --start 2024-02-01 --end 2024-03-28
    python -m worker.option_history import ../shared/data/options/SPY_option_1min_tradebars_*.csv --expiry any
    python -m worker.option_history import-chains ../shared/data/options/SPY_0DTE_chains_5min_*.parquet \
        --bars ../shared/data/5min
    python -m worker.option_history import-chains recordings/quotes.parquet --bars recordings/bars.parquet
    python -m worker.option_history status

`download` needs an Alpaca account (APCA_API_KEY_ID, APCA_API_SECRET_KEY; paper keys do); it is
resumable (run it again after a stop) and stays within ALPACA_MAX_REQUESTS_PER_MINUTE. `import`
reads a vendor's minute bars (contract, datetime or time, open, high, low, close, volume; vwap and
transactions optional; the Polygon file in ../shared/data is one). Both check every row and print
what they refused and why (`core/options/bar_checks.py`); nothing refused is stored. `import-chains`
reads timestamped same-day quotes (a vendor's chain file, or a worker's recorded quotes exported by
`python -m db.recordings export`) with the underlying's bars their spots are checked against, and
writes each day whole: quotes, bars and the day's refusals (`core/options/chain_import.py`,
`core/options/quote_checks.py`); `--source chains:FOLDER` replays them. The cache
(`--folder`, default data/option_history) is what `--option-history` of the backtest, replay,
what-if and evaluation commands reads.

Exit status: 0 done; 2 bad input (a file or a setting); 3 the download stopped (run it again).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import pandas as pd

from core.options.bar_checks import CheckReport, check_bars
from core.options.chain_import import import_chains
from core.options.history import DEFAULT_FOLDER, OptionHistory


def import_files(history: OptionHistory, files: list[Path], expiry: str, underlying: str | None) -> CheckReport:
    """Check each file row by row and merge what passes into the cache."""
    total = CheckReport()
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        raw = pd.read_csv(path)
        try:
            kept, report = check_bars(raw, underlying, expiry)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        merged = history.add_checked(kept)
        report.refused.update(merged.refused)
        report.kept = merged.kept
        for reason, rows in merged.examples.items():
            report.examples.setdefault(reason, rows)
        total.merge(report)
    return total


def status(history: OptionHistory) -> str:
    lines = [f"option history in {history.folder}:"]
    under = sorted(p.name for p in history.folder.glob("*") if p.is_dir()) if history.folder.is_dir() else []
    for underlying in under:
        days = history.days(underlying)
        lines.append(f"  {underlying}: {len(days)} days, {days[0]} to {days[-1]}" if days else f"  {underlying}: none")
        quoted = history.quote_days(underlying)
        if quoted:
            lines.append(f"  {underlying} quotes: {len(quoted)} days, {quoted[0]} to {quoted[-1]}")
    return "\n".join(lines if under else [*lines, "  (empty)"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.option_history", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER), help="the Parquet cache (default %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    down = commands.add_parser("download", help="from Alpaca, a day at a time, resumable")
    down.add_argument("--symbols", default="SPY,QQQ")
    down.add_argument("--start", type=date.fromisoformat, required=True)
    down.add_argument("--end", type=date.fromisoformat, required=True)
    down.add_argument("--strike-range", type=float, default=3.0, help="%% around the day's open (default 3)")
    down.add_argument("--no-progress", action="store_true")
    down.add_argument("--trades", action="store_true", help="also each trade of the contracts with bars, where served")
    imp = commands.add_parser("import", help="a vendor's minute-bar CSV files")
    imp.add_argument("files", nargs="+", type=Path)
    imp.add_argument("--expiry", default="same_day", help="same_day (default), any, or YYYY-MM-DD")
    imp.add_argument("--underlying", default=None, help="refuse rows on any other underlying")
    chains = commands.add_parser("import-chains", help="timestamped same-day quotes (whole chains)")
    chains.add_argument("files", nargs="+", type=Path)
    chains.add_argument(
        "--bars", type=Path, required=True, help="the underlying's bars: a CSV, a folder or bars.parquet"
    )
    chains.add_argument("--underlying", default=None, help="the quotes' underlying (default: the one in the file)")
    commands.add_parser("status", help="what the cache holds")
    args = parser.parse_args(argv)
    history = OptionHistory(args.folder)
    if args.command == "status":
        print(status(history))
        return 0
    if args.command == "import-chains":
        try:
            result = import_chains(history, args.files, args.bars, args.underlying)
        except (OSError, ValueError, KeyError) as exc:
            print(f"import refused: {exc}", file=sys.stderr)
            return 2
        print(result.summary())
        print(status(history))
        return 0
    if args.command == "import":
        try:
            report = import_files(history, args.files, args.expiry, args.underlying)
        except (OSError, ValueError) as exc:
            print(f"import refused: {exc}", file=sys.stderr)
            return 2
        print(report.summary())
        print(status(history))
        return 0
    return _download(history, args)


def _download(history: OptionHistory, args: argparse.Namespace) -> int:
    from worker.adapters.alpaca_http import AlpacaSettings, SettingsError, make_clients
    from worker.adapters.alpaca_option_history import AlpacaOptionHistory, DownloadStoppedError

    try:
        clients = make_clients(AlpacaSettings.from_env("paper"))
    except SettingsError as exc:
        print(f"download refused: {exc}", file=sys.stderr)
        return 2
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    downloader = AlpacaOptionHistory(clients, history)
    try:
        result = downloader.download(
            symbols, args.start, args.end, args.strike_range, not args.no_progress, trades=args.trades
        )
    except DownloadStoppedError as exc:
        print(f"download stopped: {exc}", file=sys.stderr)
        print(status(history))
        return 3
    print(f"{len(result.written)} days written, {result.skipped} already cached, {result.requests} requests")
    if args.trades:
        print(f"{result.trades} option trades stored" + (f"; {result.trades_refused}" if result.trades_refused else ""))
    if result.no_price:
        print(f"{len(result.no_price)} days had no opening price from Alpaca and were left: {result.no_price[:5]}")
    print(result.report.summary())
    print(status(history))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
