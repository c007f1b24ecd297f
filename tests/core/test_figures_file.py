"""README figures come from `make figures`, never from a typist (issue 32.5).

The README's generated block must be, byte for byte, the rendering of docs/figures.json, and so
must docs/figures.md; outside the block the README may carry no result figure (a rule below);
and one figure is recomputed here from its source (the shipped model's stored record) and must
equal the file's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.figures import (
    BEGIN,
    END,
    FIGURES_JSON,
    FIGURES_MD,
    README,
    Figures,
    Section,
    from_json,
    load,
    outside_block,
    readme_block,
    render,
    to_json,
    with_block,
)

# What a result figure looks like when typed into prose or a table (the rule, documented in the
# README's "Figures" section): a bootstrap interval of numbers in brackets ([-12,404, 1,503]), an
# evaluation's id, a table whose header names a P&L or a win rate, a P&L or a "won"/"lost" amount
# in thousands, or a count of trades or sessions beside the words "out of sample" / "held out".
RULES = {
    "an interval in brackets": re.compile(r"\[\s*[-+]?\d[\d,]*(\.\d+)?\s*,\s*[-+]?\d[\d,]*(\.\d+)?\s*\]"),
    "an evaluation id": re.compile(r"eval-\d{8}-\d{6}"),
    "a results table": re.compile(
        r"^\|[^\n]*\b(P&L|win rate|win %|profit factor)\b[^\n]*\|[ \t]*\n\|[-| :]+\|", re.MULTILINE
    ),
    "a P&L in thousands": re.compile(r"(P&L|lost|won|made|gap)\W{0,3}(of\s)?[-+]?\d{1,3},\d{3}", re.IGNORECASE),
    "a sample's count": re.compile(r"\d+ (trades|sessions)[^.|]{0,40}(out-of-sample|out of sample|held[- ]out)"),
}


def _section(key: str = "demo") -> Section:
    return Section(key, "A title", "python x.py", "out of sample: 2026-02-20..2026-03-19", "the model",
                   ["policy", "P&L"], [["rules", "-1,234 [-2,000, -100]"]], "A note | with a pipe", 3.0,
                   {"pnl": -1234.0})  # fmt: skip


def test_the_rendering_round_trips_and_the_block_is_replaced_whole() -> None:
    figures = Figures("2026-12-07 23:00 UTC", "abc1234", "make figures", 65.0, [_section()])
    assert from_json(to_json(figures)) == figures
    text = render(figures)
    assert "| rules | -1,234 [-2,000, -100] |" in text and "A note | with a pipe" in text
    readme = f"# Title\n\nbefore\n{BEGIN}\nstale 13,505 [3,439, 21,376]\n{END}\nafter\n"
    updated = with_block(readme, text)
    assert readme_block(updated) == text
    assert outside_block(updated) == outside_block(readme) and "13,505" not in updated
    with pytest.raises(ValueError, match="no figures block"):
        with_block("# no markers\n", text)


def test_the_readme_block_is_the_rendering_of_the_figures_file() -> None:
    figures = load()
    assert figures is not None, f"{FIGURES_JSON} is missing: run `make figures`"
    rendered = render(figures)
    assert readme_block(README.read_text()) == rendered, "README's block differs from docs/figures.json: rerun"
    assert FIGURES_MD.read_text() == rendered, "docs/figures.md differs from docs/figures.json: rerun make figures"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_readme_quotes_no_result_figure_outside_the_block(rule: str) -> None:
    found = [m.group(0) for m in RULES[rule].finditer(outside_block(README.read_text()))]
    assert not found, f"README outside the generated block has {rule}: {found[:5]} (put it through make figures)"


def test_the_rules_catch_the_stale_claims_of_issue_32() -> None:
    """Each claim the issue found stale, typed as it was, is caught by a rule."""
    stale = [
        "| rules: iron condor | 13,505 [3,439, 21,376] | 1,620 to 24,732 | 79 | 1.99 |",
        "(0 trades in 60 out-of-sample sessions, see below)",
        "| world | loss limits | P&L instant | P&L broker-like | gap |\n|---|---|---|---|---|\n| real bars | off |",
        "the execution gap is +41 on the real sessions, a P&L of -98,731 broker-like",
        "the rules lost 86,945 over all folds",
        "evaluation `eval-20261206-055913-2ea5ad`",
    ]
    for line in stale:
        assert any(r.search(line) for r in RULES.values()), line


def test_a_figure_recomputed_from_its_source_equals_the_files() -> None:
    """The shipped model's stored record, read again from models/rppo-shipped.json, is the section
    the file holds: a record that changed without `make figures` fails here."""
    from bench._figures_record import shipped_record_section

    figures = load()
    assert figures is not None
    stored = figures.section("shipped_record")
    assert stored is not None
    again = shipped_record_section(Path(README.parent / "models" / "rppo-shipped.zip"))
    assert (again.title, again.sample, again.columns, again.rows, again.note) == (
        stored.title, stored.sample, stored.columns, stored.rows, stored.note,
    )  # fmt: skip


def test_every_section_says_its_sample_and_pricing() -> None:
    figures = load()
    assert figures is not None and figures.commit and figures.generated_utc
    for s in figures.sections:
        assert s.sample and s.priced and s.command, s.key
        assert re.search(r"\b(in|out of) sample\b", s.sample), f"{s.key}: in or out of sample is not said"
