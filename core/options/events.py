"""The calendar of scheduled events that move same-day option prices, known long before the day.

Same-day vol is not only the VIX: on an FOMC decision day the market prices the 14:00 statement
into every same-day option (on 2026-07-29 the at-the-money straddle implied 1.10x the VIX against
0.44-0.64x on calm days); CPI days open after an 8:30 release; the monthly expiry (the third
Friday) carries the month's index options and their hedging. Each is a fact known at the open,
so the same-day vol model (core/options/day_vol.py) may use it without look-ahead.

Sources (checked 2026-12-07 where a source could be reached; the rest as typed, marked so):
- FOMC: the Federal Reserve's meeting calendars (federalreserve.gov/monetarypolicy/fomccalendars.htm).
  2025 and 2026 checked against the Committee's announcement of its tentative 2025-2026 schedule
  of 2024-08-09 (as reported by the ABA Banking Journal, 2024-08-12, and mondovisione.com);
  2024 against the Fed's 2024 schedule as republished in press reports (Jan 30-31 ... Dec 17-18):
  every decision day below matches. 2023 as typed from the Fed's calendar page, not re-checked
  here. The decision day is the second day of each meeting; the statement is released at 14:00 ET.
- CPI: the Bureau of Labor Statistics' CPI release schedule (bls.gov/schedule/news_release/cpi.htm),
  8:30 ET. Checked: September 2025 CPI on 2025-10-24 (BLS notice "September 2025 CPI Release
  Rescheduled", bls.gov/bls/092025-cpi-reschedule-notice.htm) and no October 2025 release (BLS,
  "Revised news release dates following the 2025 lapse in appropriations"); January 2026 CPI moved
  from 2026-02-11 to 2026-02-13 by the brief 2026 lapse (BLS's revised dates, as reported by
  Bloomberg Law and AP on 2026-02-04, which also moved January's jobs report to 2026-02-11). The
  other dates are BLS's published schedules as typed, not re-checked here; none of them falls on a
  chain day of ../shared/data (CPI 2026-07-14 and 2026-08-12 bracket the 15 SPY days).
- Monthly expiry: the third Friday of each month (the standard monthly options' expiration),
  computed, not listed; moved to the Thursday where the exchange is closed on that Friday.
- Not modelled: the jobs report (Employment Situation, 8:30 ET; 2026-02-11 and, on BLS's usual
  first-Friday rule, 2026-08-07 among the chain days) and other releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from core.calendar import session_for

FOMC_DECISION_DAYS: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in (
        "2023-02-01", "2023-03-22", "2023-05-03", "2023-06-14", "2023-07-26", "2023-09-20", "2023-11-01",
        "2023-12-13",
        "2024-01-31", "2024-03-20", "2024-05-01", "2024-06-12", "2024-07-31", "2024-09-18", "2024-11-07",
        "2024-12-18",
        "2025-01-29", "2025-03-19", "2025-05-07", "2025-06-18", "2025-07-30", "2025-09-17", "2025-10-29",
        "2025-12-10",
        "2026-01-28", "2026-03-18", "2026-04-29", "2026-06-17", "2026-07-29", "2026-09-16", "2026-10-28",
        "2026-12-09",
    )
)  # fmt: skip

CPI_RELEASE_DAYS: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in (
        "2023-01-12", "2023-02-14", "2023-03-14", "2023-04-12", "2023-05-10", "2023-06-13", "2023-07-12",
        "2023-08-10", "2023-09-13", "2023-10-12", "2023-11-14", "2023-12-12",
        "2024-01-11", "2024-02-13", "2024-03-12", "2024-04-10", "2024-05-15", "2024-06-12", "2024-07-11",
        "2024-08-14", "2024-09-11", "2024-10-10", "2024-11-13", "2024-12-11",
        "2025-01-15", "2025-02-12", "2025-03-12", "2025-04-10", "2025-05-13", "2025-06-11", "2025-07-15",
        "2025-08-12", "2025-09-11", "2025-10-24", "2025-12-18",
        "2026-01-13", "2026-02-13", "2026-03-11", "2026-04-10", "2026-05-12", "2026-06-10", "2026-07-14",
        "2026-08-12", "2026-09-11", "2026-10-14", "2026-11-10", "2026-12-10",
    )
)  # fmt: skip


@dataclass(frozen=True)
class DayEvents:
    """The scheduled events of one session."""

    fomc: bool = False  # an FOMC decision (statement at 14:00 ET)
    cpi: bool = False  # a CPI release (8:30 ET, before the open)
    monthly_expiry: bool = False  # the third Friday (or the session before it when that Friday is a holiday)

    @property
    def names(self) -> tuple[str, ...]:
        """The events' names, for reports ('fomc', 'cpi', 'monthly_expiry')."""
        return tuple(n for n in ("fomc", "cpi", "monthly_expiry") if getattr(self, n))


def third_friday(year: int, month: int) -> date:
    """The month's third Friday."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def monthly_expiry(year: int, month: int) -> date:
    """The standard monthly options' last trading day: the third Friday, else the session before it."""
    day = third_friday(year, month)
    while session_for(day) is None:
        day -= timedelta(days=1)
    return day


def events_on(day: date) -> DayEvents:
    """The scheduled events of `day` (all False on a day outside the tables' years)."""
    return DayEvents(
        fomc=day in FOMC_DECISION_DAYS,
        cpi=day in CPI_RELEASE_DAYS,
        monthly_expiry=day == monthly_expiry(day.year, day.month),
    )
