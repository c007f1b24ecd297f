"""Calibrate the simulator's 0DTE prices against real quotes; print the errors per underlying and |delta|.

    .venv/bin/python bench/calibrate_options.py [--source csv:../shared/data | recorded:URL] [--fit]
    make calibrate [SOURCE=recorded:sqlite:///data/worker.db]

Each real quote is compared with the quote the simulator gives from the same inputs (the
underlying and VIX it has at that moment, the minutes left): the absolute error of the mid (in
dollars and in % of the real mid) and the signed error of the spread (model minus real, in cents).
The signed mid error (model minus real, in % of the real mid) shows whether the model is one-sided
(too cheap when negative). Targets (issue 14): mid error at most 5% of the real mid for |delta|
0.2-0.8 on each underlying; spread error within one cent and unbiased. `--fit` re-fits each
underlying's surface (Nelder-Mead) and prints the SURFACES to paste into core/options/surface.py;
`--holdout` measures each day with surfaces fitted on the other days only; `--elasticity`
prints the VIX-against-SPY regression the CSV world's intraday VIX uses and the VIX1D-against-VIX
slope the same-day vol index uses (core/options/day_vol.py), both from the index files alone.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._real_quotes import from_csv, from_recorded
from core.options.chain import price_arrays
from core.options.pricing import implied_vol
from core.options.surface import SURFACES, SurfaceParams, surface_for

DELTA_BUCKETS = [(0.05, 0.2), (0.2, 0.5), (0.5, 0.8)]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IV_FIELDS = ["level", "close_boost", "close_tau", "slope", "skew", "smile"]
SPREAD_FIELDS = ["spread_slope", "spread_pivot"]


def model_quotes(q: pd.DataFrame, p: SurfaceParams) -> pd.DataFrame:
    """The simulator's bid and ask for every real quote of one underlying."""
    bid, ask, model_iv = np.empty(len(q)), np.empty(len(q)), np.empty(len(q))
    for (spot, day_vol, left), idx in q.groupby(["spot", "day_vol", "minutes_left"]).groups.items():
        rows = q.index.get_indexer(idx)
        part = q.iloc[rows]
        strikes, calls = part["strike"].to_numpy(float), part["is_call"].to_numpy(bool)
        b, a, v, _ = price_arrays(spot, strikes, calls, day_vol, left, p)
        bid[rows], ask[rows], model_iv[rows] = b, a, v
    out = q.copy()
    signed = (bid + ask) / 2.0 - q["real_mid"].to_numpy()
    out["mid_err"] = np.abs(signed)
    out["mid_err_pct"] = out["mid_err"] / q["real_mid"] * 100.0
    out["mid_signed_pct"] = signed / q["real_mid"] * 100.0  # negative: the model is too cheap
    out["spread_err_cents"] = ((ask - bid) - q["real_spread"].to_numpy()) * 100.0
    real_iv = [
        implied_vol(m, s, k, t, c)
        for m, s, k, t, c in zip(q["real_mid"], q["spot"], q["strike"], q["minutes_left"], q["is_call"], strict=True)
    ]
    out["iv_ratio"] = np.asarray(real_iv) / model_iv  # real implied vol over the model's: the band's unit
    return out


def iv_error_band(err: pd.DataFrame, low: float = 0.1, high: float = 0.9) -> dict[str, tuple[float, float]]:
    """Per underlying, the 10th and 90th percentiles of real IV / model IV at |delta| 0.2-0.8:
    the factors every past-day figure is also computed at (core/error_band.py IV_ERROR_BAND)."""
    band = err[(err["real_delta"].abs() >= 0.2) & (err["real_delta"].abs() < 0.8)]
    return {
        str(u): (round(float(g["iv_ratio"].quantile(low)), 3), round(float(g["iv_ratio"].quantile(high)), 3))
        for u, g in band.groupby("underlying")
    }


def errors(quotes: pd.DataFrame, surfaces: dict[str, SurfaceParams]) -> pd.DataFrame:
    parts = [model_quotes(g, surface_for(u, surfaces)) for u, g in quotes.groupby("underlying")]
    return pd.concat(parts, ignore_index=True)


def table(err: pd.DataFrame) -> str:
    lines = [
        "| underlying | abs(delta) | quotes | median real mid | median abs mid error | as % of mid | "
        "median signed mid error | median spread error (cents) | mean spread error (cents) | "
        "real 1-cent spreads | model 1-cent spreads |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for underlying, g in err.groupby("underlying"):
        for lo, hi in DELTA_BUCKETS:
            part = g[(g["real_delta"].abs() >= lo) & (g["real_delta"].abs() < hi)]
            if part.empty:
                continue
            real_penny = (part["real_spread"].round(2) <= 0.01).mean() * 100
            model_penny = ((part["real_spread"] + part["spread_err_cents"] / 100).round(2) <= 0.01).mean() * 100
            lines.append(
                f"| {underlying} | {lo:.2f}-{hi:.2f} | {len(part)} | {part['real_mid'].median():.2f} | "
                f"{part['mid_err'].median():.3f} | {part['mid_err_pct'].median():.1f}% | "
                f"{part['mid_signed_pct'].median():+.1f}% | "
                f"{part['spread_err_cents'].median():+.1f} | {part['spread_err_cents'].mean():+.2f} | "
                f"{real_penny:.0f}% | {model_penny:.0f}% |"
            )
    return "\n".join(lines)


def snapshots(err: pd.DataFrame) -> str:
    """Per snapshot: how far the at-the-money level is off (the IV level is one number per moment)."""
    lines = [
        "| underlying | time (ET) | VIX | day vol used | quotes 0.2-0.8 | median mid error % | median signed % |",
        "|---|---|---|---|---|---|---|",
    ]
    band = err[(err["real_delta"].abs() >= 0.2) & (err["real_delta"].abs() < 0.8)]
    for (u, t), g in band.groupby(["underlying", "time"]):
        vix, day_vol = g["vix"].iloc[0], g["day_vol"].iloc[0]
        lines.append(
            f"| {u} | {t:%Y-%m-%d %H:%M} | {vix:.2f} | {day_vol:.2f} | {len(g)} | "
            f"{g['mid_err_pct'].median():.1f}% | {g['mid_signed_pct'].median():+.1f}% |"
        )
    return "\n".join(lines)


def _fit_fields(q: pd.DataFrame, start: SurfaceParams, names: list[str], loss_of: str) -> SurfaceParams:
    def loss(x: np.ndarray) -> float:
        p = replace(start, **{n: float(v) for n, v in zip(names, x, strict=True)})
        if p.level <= 0 or p.close_boost < 0 or p.close_tau < 5:
            return 1e9
        e = model_quotes(q, p)
        if loss_of == "mid":
            traded = e[(e["real_delta"].abs() >= 0.2) & (e["real_delta"].abs() < 0.8)]
            return float(traded["mid_err_pct"].median() + 0.2 * traded["mid_err_pct"].mean())
        s = e[(e["real_delta"].abs() >= 0.05) & (e["real_delta"].abs() < 0.8)]["spread_err_cents"]
        return float(abs(s.median()) + abs(s.mean()) + s.abs().mean())

    x0 = np.array([getattr(start, n) for n in names])
    res = minimize(loss, x0, method="Nelder-Mead", options={"maxiter": 800, "xatol": 1e-4, "fatol": 1e-5})
    return replace(start, **{n: round(float(v), 4) for n, v in zip(names, res.x, strict=True)})


def fit(quotes: pd.DataFrame) -> dict[str, SurfaceParams]:
    """Each underlying's IV shape on the mid error, then its spread width on the spread error."""
    fitted = dict(SURFACES)
    for underlying, g in quotes.groupby("underlying"):
        p = _fit_fields(g.reset_index(drop=True), surface_for(underlying), IV_FIELDS, "mid")
        fitted[underlying] = _fit_fields(g.reset_index(drop=True), p, SPREAD_FIELDS, "spread")
    return fitted


def quote_days(quotes: pd.DataFrame) -> pd.Series:
    """Each quote's trading day."""
    return quotes["time"].map(lambda t: t.date())


def leave_one_day_out(quotes: pd.DataFrame, days: pd.Series) -> pd.DataFrame:
    """Each day's errors under surfaces fitted on the other days only: what the model does on a
    day it has not seen (a model that only fits its own days shows it here)."""
    held_out = []
    for day in sorted(days.unique()):
        fitted = fit(quotes[days != day].reset_index(drop=True))
        held_out.append(errors(quotes[days == day].reset_index(drop=True), fitted))
    return pd.concat(held_out, ignore_index=True)


def vix1d_beta(folder: Path) -> str:
    """The slope of VIX1D's daily log change on VIX's (core/options/day_vol.py VIX1D_BETA) and the
    median VIX1D/VIX ratio at the open (VIX1D_OPEN_PER_VIX), from the index files alone."""
    files = sorted(folder.glob("VIX1D_daily*.csv"))
    if not files:
        return "no VIX1D_daily*.csv"
    one_day = pd.read_csv(files[0])
    vix = pd.read_csv(next(folder.glob("VIX_daily*.csv")))
    vix.columns = [c.lower() for c in vix.columns]
    both = one_day.assign(date=pd.to_datetime(one_day["date"])).merge(
        vix.assign(date=pd.to_datetime(vix["date"])), on="date", suffixes=("_1d", "_vix")
    )
    x, y = np.log(both["close_vix"]).diff(), np.log(both["close_1d"]).diff()
    ok = x.notna() & y.notna()
    slope, _ = np.polyfit(x[ok], y[ok], 1)
    ratio = (both["open_1d"] / both["open_vix"]).median()
    corr = np.corrcoef(x[ok], y[ok])[0, 1]
    return f"{len(both)} sessions: slope {slope:.2f}, correlation {corr:.2f}, median VIX1D/VIX at the open {ratio:.3f}"


def elasticity(folder: Path) -> str:
    """ln(VIX close/open) on ln(SPY close/open), same day, from the daily files."""
    spy = pd.read_csv(next(folder.glob("SPY_daily*.csv")))
    vix = pd.read_csv(next(folder.glob("VIX_daily*.csv")))
    vix.columns = [c.lower() for c in vix.columns]
    both = spy.merge(vix, on="date", suffixes=("_spy", "_vix"))
    x, y = np.log(both["close_spy"] / both["open_spy"]), np.log(both["close_vix"] / both["open_vix"])
    slope, intercept = np.polyfit(x, y, 1)
    corr = np.corrcoef(x, y)[0, 1]
    return f"{len(both)} sessions: slope {slope:.2f}, intercept {intercept:.4f}, correlation {corr:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=f"csv:{SHARED}", help="csv:DIR (Yahoo snapshots) or recorded:URL")
    parser.add_argument("--fit", action="store_true", help="re-fit each underlying's surface and print it")
    parser.add_argument(
        "--holdout", action="store_true", help="also fit on all days but one and measure on that day, for each day"
    )
    parser.add_argument("--parity-spot", action="store_true", help="csv: the underlying from put-call parity")
    parser.add_argument("--elasticity", action="store_true", help="print the VIX-SPY regression (csv only)")
    args = parser.parse_args()
    kind, _, where = args.source.partition(":")
    if kind == "recorded":
        quotes = from_recorded(where or "sqlite:///data/worker.db")
    elif kind == "csv":
        folder = Path(where)
        if not (folder / "options").is_dir():
            raise SystemExit(f"{folder}/options not found: the calibration needs real 0DTE quotes")
        quotes = from_csv(folder, parity_spot=args.parity_spot)
        if args.elasticity:
            print("VIX elasticity to SPY:", elasticity(folder))
            print("VIX1D against VIX (daily log changes):", vix1d_beta(folder), "\n")
    else:
        raise SystemExit(f"--source {args.source!r}: expected csv:DIR or recorded:URL")
    print(f"{len(quotes)} real 0DTE quotes within 3% of the money from {args.source}\n")
    current = errors(quotes, SURFACES)
    print("Current surfaces (core/options/surface.py):")
    print(table(current))
    print()
    print(snapshots(current))
    if args.fit:
        fitted = fit(quotes)
        print("\nFitted surfaces:")
        print(table(errors(quotes, fitted)))
        print()
        for underlying, p in fitted.items():
            changed = {f.name: getattr(p, f.name) for f in fields(p) if f.name in IV_FIELDS + SPREAD_FIELDS}
            print(f'    "{underlying}": SurfaceParams(' + ", ".join(f"{k}={v}" for k, v in changed.items()) + "),")
    if args.holdout:
        days = quote_days(quotes)
        if days.nunique() < 2:
            raise SystemExit("--holdout needs quotes from at least two days")
        print(f"\nLeave one day out ({days.nunique()} days: each day measured with surfaces fitted on the others):")
        held_out = leave_one_day_out(quotes, days)
        print(table(held_out))
        print("\nIV error band (real IV / model IV, held out, 10th and 90th percentiles; core/error_band.py):")
        print(f"    IV_ERROR_BAND = {iv_error_band(held_out)}")


if __name__ == "__main__":
    main()
