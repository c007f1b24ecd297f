"""Rerun every result figure the README quotes and write them to one file (`make figures`).

    .venv/bin/python bench/figures.py [--data ../shared/data] [--workers 2] [--only KEY ...] [--render-only]

Writes docs/figures.json (core/figures.py's records: each section's command, days, in or out of
sample, how its options were priced, the formatted table and the raw values), docs/figures.md (its
rendering) and the same rendering between the README's markers. Out-of-sample figures come from the
held-out tail (core/market/holdout.py), which `make calibrate`, `make model` and `make evaluate`
never fit on unless told. `--only` reruns some sections and keeps the others from the file.
Machine-dependent speeds are not here: the README's Benchmarks table names each bench command and
its date. Without ../shared/data there is nothing real to measure and the command says so.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.figures import FIGURES_JSON, FIGURES_MD, README, Figures, Section, load, render, to_json, with_block
from core.market.holdout import session_split
from core.market.worlds import make_world, pick_sessions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MODEL = ROOT / "models" / "rppo-shipped.zip"
CHAINS = "options/SPY_0DTE_chains_5min_2026-07-17_2026-08-07_cboe_delayed.parquet"
KEYS = ("shipped_record", "evaluation", "demo", "execution_gap", "real_vs_model", "calibration")
GENERATED = ("docs/figures.json", "docs/figures.md", "README.md")


def commit() -> str:
    """HEAD's short hash, '+changes' when files other than the generated ones differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    dirty = [line for line in status.stdout.splitlines() if line[3:].strip() not in GENERATED]
    return head.stdout.strip() + ("+changes" if dirty else "")


def tail_days(source: str) -> tuple[str, str]:
    world = make_world(source, 7)
    tail = session_split(pick_sessions(world, None, None, None), source).held_out
    return tail[0].day.isoformat(), tail[-1].day.isoformat()


def run(keys: list[str], data: Path, workers: int) -> list[Section]:
    """The sections of `keys`, each timed; printed as they finish."""
    from bench._figures_record import shipped_record_section

    source = f"csv:{os.path.relpath(data, ROOT)}"
    out: list[Section] = []

    def done(sections: list[Section]) -> None:
        for s in sections:
            print(f"{s.title}: {s.seconds:.0f} s", flush=True)
        out.extend(sections)

    if "shipped_record" in keys:
        done([shipped_record_section(MODEL)])
    if "evaluation" in keys:
        from bench._figures_eval import evaluation_sections

        done(evaluation_sections(source, MODEL.relative_to(ROOT), workers))
    start, end = tail_days(source)
    if "demo" in keys:
        from bench._figures_eval import demo_section

        done([demo_section(source, start, end)])
    if "execution_gap" in keys:
        from bench._figures_runs import execution_gap_section

        done([execution_gap_section(source, start, end)])
    if "real_vs_model" in keys:
        from bench._figures_runs import real_vs_model_section

        found = real_vs_model_section(data / CHAINS, data, str(MODEL.relative_to(ROOT)))
        done([found] if found else [])
    if "calibration" in keys:
        from bench._figures_calibration import calibration_sections

        done(calibration_sections(data))
    return out


def merged(old: Figures | None, new: list[Section], keys: list[str]) -> list[Section]:
    """The new sections in KEYS order; with --only, the file's others kept where they were."""
    fresh = {s.key: s for s in new}
    if old is None:
        return new
    kept = [fresh.pop(s.key) if s.key in fresh else s for s in old.sections]
    return kept + list(fresh.values())


def write(figures: Figures) -> None:
    rendered = render(figures)
    FIGURES_JSON.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_JSON.write_text(to_json(figures))
    FIGURES_MD.write_text(rendered)
    README.write_text(with_block(README.read_text(), rendered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="a folder laid out like ../shared/data")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Ray workers for the evaluation")
    parser.add_argument("--only", nargs="+", choices=KEYS, help="rerun these sections, keep the file's others")
    parser.add_argument(
        "--render-only", action="store_true", help="rerun nothing: write docs/figures.md and the block from the JSON"
    )
    args = parser.parse_args()
    if args.render_only:  # after a change to core/figures.render: the same figures, rendered again
        found = load()
        if found is None:
            raise SystemExit(f"{FIGURES_JSON} is missing: run make figures")
        write(found)
        return
    os.chdir(ROOT)  # the sources are named relative to the checkout (csv:../shared/data), as the README names them
    if not any(args.data.glob("*_1min_*.csv")):
        raise SystemExit(f"{args.data}: no real sessions here, so no figure can be measured (nothing written)")
    started = time.monotonic()
    keys = list(args.only or KEYS)
    sections = run(keys, args.data.resolve(), args.workers)
    old = load() if args.only else None
    seconds = time.monotonic() - started + (old.seconds if old and args.only else 0.0)
    figures = Figures(
        generated_utc=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=commit(),
        command="make figures" if not args.only else "python bench/figures.py --only " + " ".join(args.only),
        seconds=round(seconds, 1),
        sections=merged(old, sections, keys),
    )
    write(figures)
    print(f"wrote {FIGURES_JSON.relative_to(ROOT)}, {FIGURES_MD.relative_to(ROOT)} and README's block "
          f"in {time.monotonic() - started:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
