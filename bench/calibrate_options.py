"""Calibrate the simulator's 0DTE surface against real quotes and print the error by moneyness.

    .venv/bin/python bench/calibrate_options.py [--data ../shared/data] [--fit]

For every same-day-expiry quote in data/options (SPY and QQQ, 2026-02-11/12) the model is priced
with the underlying taken from the 1-minute bars at the snapshot's minute and VIX at that day's
open (what the simulator uses), then compared on the mid and on the bid/ask spread. `--fit`
re-fits the surface parameters (Nelder-Mead on the median absolute error) and prints them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.calendar import NY, session_for
from core.market.csv_source import CsvWorld
from core.options.chain import price_arrays
from core.options.surface import DEFAULT_SURFACE, SurfaceParams

BUCKETS = [(0.0, 0.0025), (0.0025, 0.005), (0.005, 0.01), (0.01, 0.02), (0.02, 0.03)]


def load_quotes(data: Path) -> pd.DataFrame:
    world = CsvWorld(data)
    frames = []
    for path in sorted((data / "options").glob("*_0DTE_*.csv")):
        q = pd.read_csv(path)
        q = q[q["is_0dte"] & (q["ask"] > 0)].copy()
        q["underlying"] = q["contractSymbol"].str.extract(r"^([A-Z]+)")[0]
        q["t"] = pd.to_datetime(q["snapshot_approx_et"]).dt.tz_localize(NY)
        frames.append(q)
    quotes = pd.concat(frames, ignore_index=True)
    spots, vixes, minutes = [], [], []
    for row in quotes.itertuples():
        session = session_for(row.t.date())
        bars = world.session_bars(session, row.underlying)  # type: ignore[arg-type]
        i = max(bars.completed_count(row.t.floor("min").to_pydatetime()) - 1, 0)
        spots.append(float(bars.close[i]))
        vixes.append(world.vix_open(row.t.date()))
        minutes.append((session.close - row.t.to_pydatetime()).total_seconds() / 60.0)  # type: ignore[union-attr]
    quotes["spot"], quotes["vix"], quotes["minutes_left"] = spots, vixes, minutes
    quotes["moneyness"] = (quotes["strike"] / quotes["spot"] - 1.0).abs()
    return quotes[quotes["moneyness"] < BUCKETS[-1][1]].reset_index(drop=True)


def model_quotes(q: pd.DataFrame, p: SurfaceParams) -> tuple[np.ndarray, np.ndarray]:
    bids, asks = np.empty(len(q)), np.empty(len(q))
    for (spot, vix, minutes), idx in q.groupby(["spot", "vix", "minutes_left"]).groups.items():
        part = q.loc[idx]
        b, a, _, _ = price_arrays(
            spot, part["strike"].to_numpy(float), (part["optionType"] == "call").to_numpy(), vix, minutes, p
        )
        bids[q.index.get_indexer(idx)], asks[q.index.get_indexer(idx)] = b, a
    return bids, asks


def errors(q: pd.DataFrame, p: SurfaceParams) -> pd.DataFrame:
    bid, ask = model_quotes(q, p)
    out = pd.DataFrame(
        {
            "moneyness": q["moneyness"],
            "mid_err": np.abs((bid + ask) / 2 - (q["bid"] + q["ask"]) / 2),
            "spread_err": np.abs((ask - bid) - (q["ask"] - q["bid"])),
            "real_mid": (q["bid"] + q["ask"]) / 2,
        }
    )
    return out


def table(err: pd.DataFrame) -> str:
    lines = [
        "| |K/S - 1| | quotes | median real mid | median abs error of mid | median abs error of spread |",
        "|---|---|---|---|---|",
    ]
    for lo, hi in BUCKETS:
        part = err[(err["moneyness"] >= lo) & (err["moneyness"] < hi)]
        lines.append(
            f"| {lo * 100:.2f}-{hi * 100:.2f}% | {len(part)} | {part['real_mid'].median():.2f} | "
            f"{part['mid_err'].median():.3f} | {part['spread_err'].median():.3f} |"
        )
    lines.append(
        f"| all | {len(err)} | {err['real_mid'].median():.2f} | {err['mid_err'].median():.3f} | "
        f"{err['spread_err'].median():.3f} |"
    )
    return "\n".join(lines)


def fit(q: pd.DataFrame, start: SurfaceParams) -> SurfaceParams:
    names = ["level", "close_boost", "slope", "skew", "smile", "base_half", "rel_half", "wing"]

    def loss(x: np.ndarray) -> float:
        p = replace(start, **{n: float(v) for n, v in zip(names, x, strict=True)})
        if min(p.level, p.base_half, p.rel_half, p.wing) < 0 or p.close_boost < 0:
            return 1e9
        e = errors(q, p)
        return float(e["mid_err"].median() + e["spread_err"].median() + 0.2 * e["mid_err"].mean())

    x0 = np.array([getattr(start, n) for n in names])
    res = minimize(loss, x0, method="Nelder-Mead", options={"maxiter": 600, "xatol": 1e-4, "fatol": 1e-5})
    return replace(start, **{n: round(float(v), 4) for n, v in zip(names, res.x, strict=True)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--fit", action="store_true", help="re-fit the surface and print the new parameters")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "options").is_dir():
        raise SystemExit(f"{data}/options not found: the calibration needs the real 0DTE snapshots")
    quotes = load_quotes(data)
    print(f"{len(quotes)} real 0DTE quotes within 3% of the money (SPY and QQQ, 4 snapshots each)\n")
    print("Current surface (core/options/surface.py defaults):")
    print(table(errors(quotes, DEFAULT_SURFACE)))
    if args.fit:
        fitted = fit(quotes, DEFAULT_SURFACE)
        print("\nFitted surface:")
        print(table(errors(quotes, fitted)))
        print("\nSurfaceParams(" + ", ".join(f"{k}={v}" for k, v in asdict(fitted).items()) + ")")


if __name__ == "__main__":
    main()
