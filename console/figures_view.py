"""What `make figures` measured, said on the console: the demo preset's P&L after costs on real
sessions (the Overview, under the demo banner) and the shipped model rerun on the held-out tail
(the Models page). Read from docs/figures.json (core/figures.py), never typed; where the file is
missing the text says so plainly. Strings only, no Streamlit."""

from __future__ import annotations

import os
from pathlib import Path

from console.formatting import plain
from core.figures import FIGURES_JSON, Figures, load

NO_FILE = (
    "Not measured on this checkout: there is no figures file ({path}), so nothing here says what these rules "
    "make on real sessions. `make figures` measures it (real sessions in ../shared/data needed)."
)


def figures_path() -> Path:
    """docs/figures.json, or FIGURES_FILE where set (another checkout's, or a test's)."""
    return Path(os.environ.get("FIGURES_FILE") or FIGURES_JSON)


def read_figures() -> Figures | None:
    return load(figures_path())


def _money(v: object) -> str:
    return "-" if v is None else f"{float(v):+,.0f}"  # type: ignore[arg-type]


def demo_measured(figures: Figures | None) -> str:
    """One paragraph: the demo preset's own P&L after costs, with its interval, its days, in or out
    of sample and how it was priced; or plainly that it was not measured."""
    section = figures.section("demo") if figures else None
    if figures is None or section is None:
        return NO_FILE.format(path=plain(figures_path().name))
    v = section.values
    lo, hi = v.get("pnl_lo"), v.get("pnl_hi")
    verdict = ""
    if hi is not None and float(hi) < 0:
        verdict = " This baseline loses money after costs: the whole 95% interval is below zero."
    elif lo is not None and float(lo) < 0:
        verdict = " The interval includes a loss: no edge is shown."
    band = ""
    if v.get("band_lo") is not None:
        band = f", {_money(v['band_lo'])} to {_money(v['band_hi'])} at the price model's error bounds"
    win = "" if v.get("win_rate") is None else f", {float(v['win_rate']) * 100:.0f}% of trades won"
    return plain(
        f"Measured: these rules (policy_mode {v.get('policy_mode')}, max_trades_per_symbol_day "
        f"{v.get('max_trades_per_symbol_day')}) made {_money(v.get('pnl'))} after costs on 100,000 over "
        f"{v.get('sessions')} real sessions, {v.get('start')} to {v.get('end')} (95% interval {_money(lo)} to "
        f"{_money(hi)}{band}; {v.get('trades')} trades{win}). Sample: {section.sample}. Priced: {section.priced}. "
        f"From make figures, {figures.generated_utc}, commit {figures.commit}.{verdict}"
    )


def shipped_rerun(figures: Figures | None) -> str | None:
    """The shipped model rerun on the held-out tail by `make figures`, in one line; None without it."""
    section = figures.section("shipped_model") if figures else None
    if figures is None or section is None:
        return None
    by_policy = {row[0].split(" ")[0]: row for row in section.rows}
    said = []
    for policy in ("rl", "rl@0.50"):
        row = by_policy.get(policy)
        if row:
            said.append(f"{policy}: {row[1]} trades, P&L {row[2]}")
    return plain(
        f"Rerun by make figures ({figures.generated_utc}, commit {figures.commit}) on {section.sample}: "
        + "; ".join(said)
        + ". Priced "
        + section.priced
        + "."
    )
