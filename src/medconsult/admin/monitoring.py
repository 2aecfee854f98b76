"""Model monitoring: volumes, confidence, abstentions, emergencies and doctor agreement.

Every number is an aggregate computed by PostgreSQL. Definitions:

- A consultation's suggestion is its current one (re-analyses replace it), dated by creation.
- The signed diagnosis is the consultation's latest review that no later review amends.
- That review is compared with the suggestion the doctor reviewed (``suggestion_id``), or the
  consultation's current suggestion when the review names none.
- Top-1 agreement: the signed label is the model's first label. Top-3: it is among the first
  three of ``ranked``. A diagnosis outside the model's labels counts as a disagreement.
- Advice drafts: every signed review (amendments included) with a diagnosis label, by whether
  the library draft was signed unchanged, edited, discarded, or not used at all.

Speed at a large history: the same per-day SQL (``monitoring/rollups.py``) runs in two places.
The worker's sweep stores it per closed UTC day (older than yesterday) in the roll-up tables
(``monitoring/models.py``); a page sums the roll-ups of the window's full days and runs the SQL
on the base tables only for the rest: the window's first, partial day, yesterday and today, and
any closed day changed since it was rolled up (database triggers log such days in
``monitoring_dirty_days``). Four statements per page, one more to list the rolled-up days.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from medconsult.db import utcnow
from medconsult.monitoring.rollups import (
    ADVICE_SQL,
    AGREEMENT_SQL,
    DAILY_SQL,
    HISTOGRAM_BINS,
    HISTOGRAM_SQL,
    ROLLUP_DAYS,
)

ALLOWED_WINDOWS = (7, 30, 90, 365)
assert max(ALLOWED_WINDOWS) < ROLLUP_DAYS

# --- a page: live SQL for the days not rolled up, plus the roll-ups of the others ------------

_ROLLED_DAYS_SQL = text(
    """
    SELECT m.day FROM monitoring_daily m
    WHERE m.day > :first_day
      AND NOT EXISTS (SELECT 1 FROM monitoring_dirty_days d WHERE d.day = m.day)
    ORDER BY m.day
    """
)

_PAGE_DAILY_SQL = """
    SELECT day, sum(suggestions)::int AS suggestions, sum(abstained)::int AS abstained,
           sum(emergencies)::int AS emergencies
    FROM ({live}
          UNION ALL
          SELECT day, suggestions, abstained, emergencies
          FROM monitoring_daily WHERE day = ANY(CAST(:rolled AS date[]))) AS per_day
    GROUP BY day
    HAVING sum(suggestions) > 0
    ORDER BY day
"""

_PAGE_HISTOGRAM_SQL = """
    SELECT bin, sum(n)::int AS n
    FROM ({live}
          UNION ALL
          SELECT day, bin, n FROM monitoring_daily_histogram
          WHERE day = ANY(CAST(:rolled AS date[]))) AS per_day
    GROUP BY bin
"""

# Labels from the per-label rows; weeks, versions and the total from the per-version rows. The
# live rows (a few days) are computed once; the roll-ups are read by each part directly.
_PAGE_AGREEMENT_SQL = """
    WITH live AS MATERIALIZED ({live})
    SELECT 0 AS no_label, 1 AS no_week, 1 AS no_version,
           final_label, NULL::date AS week, NULL AS model_version,
           sum(reviewed)::int AS reviewed, sum(top1)::int AS top1, sum(top3)::int AS top3
    FROM (SELECT final_label, reviewed, top1, top3 FROM live WHERE by_label
          UNION ALL
          SELECT final_label, reviewed, top1, top3 FROM monitoring_daily_agreement
          WHERE by_label AND day = ANY(CAST(:rolled AS date[]))) AS by_label
    GROUP BY final_label
    UNION ALL
    SELECT 1, GROUPING(week), GROUPING(model_version),
           NULL, week, model_version,
           COALESCE(sum(reviewed), 0)::int, COALESCE(sum(top1), 0)::int,
           COALESCE(sum(top3), 0)::int
    FROM (SELECT date_trunc('week', day)::date AS week, model_version, reviewed, top1, top3
          FROM (SELECT day, model_version, reviewed, top1, top3 FROM live WHERE NOT by_label
                UNION ALL
                SELECT day, model_version, reviewed, top1, top3 FROM monitoring_daily_agreement
                WHERE NOT by_label AND day = ANY(CAST(:rolled AS date[]))) AS per_day
         ) AS by_version
    GROUP BY GROUPING SETS ((), (week), (model_version))
"""

_PAGE_ADVICE_SQL = """
    SELECT label, sum(reviews)::int AS reviews, sum(used)::int AS used,
           sum(edited)::int AS edited, sum(discarded)::int AS discarded
    FROM ({live}
          UNION ALL
          SELECT day, label, reviews, used, edited, discarded
          FROM monitoring_daily_advice WHERE day = ANY(CAST(:rolled AS date[]))) AS per_day
    GROUP BY label
"""


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def live_ranges(since: datetime, rolled: Iterable[date]) -> list[tuple[datetime, datetime | None]]:
    """The time ranges from ``since`` on that no rolled-up day covers (the last one open)."""
    ranges: list[tuple[datetime, datetime | None]] = []
    cursor = since
    for day in sorted(rolled):
        start = _midnight(day)
        if start < cursor:
            continue
        if start > cursor:
            ranges.append((cursor, start))
        cursor = start + timedelta(days=1)
    ranges.append((cursor, None))
    return ranges


def _in_ranges(
    column: str, ranges: Sequence[tuple[datetime, datetime | None]]
) -> tuple[str, dict[str, Any]]:
    """An SQL condition on ``column`` (each range an index range scan) and its parameters."""
    parts = []
    params: dict[str, Any] = {}
    for index, (start, end) in enumerate(ranges):
        params[f"from_{index}"] = start
        if end is None:
            parts.append(f"{column} >= :from_{index}")
        else:
            params[f"to_{index}"] = end
            parts.append(f"({column} >= :from_{index} AND {column} < :to_{index})")
    return "(" + " OR ".join(parts) + ")", params


@dataclass(frozen=True)
class AdviceUsage:
    """What doctors did with the advice draft of one condition, over ``reviews`` signed reviews."""

    label: str
    reviews: int
    used: int
    edited: int
    discarded: int

    @property
    def without_draft(self) -> int:
        return self.reviews - self.used - self.edited - self.discarded


def _share(part: int, whole: int) -> float | None:
    """``part`` as a fraction of ``whole``; None (no figure, not 0%) when there is no whole."""
    return part / whole if whole else None


@dataclass(frozen=True)
class DailyVolume:
    day: date
    suggestions: int
    abstained: int
    emergencies: int


@dataclass(frozen=True)
class Agreement:
    """Doctor agreement over ``reviewed`` signed reviews (one group of them)."""

    key: str | None
    reviewed: int
    top1: int
    top3: int

    @property
    def top1_rate(self) -> float | None:
        return _share(self.top1, self.reviewed)

    @property
    def top3_rate(self) -> float | None:
        return _share(self.top3, self.reviewed)


@dataclass(frozen=True)
class Monitoring:
    since: datetime
    days: int
    daily: list[DailyVolume]
    histogram: list[int]  # HISTOGRAM_BINS counts of top-1 probability, [0, 0.1) first
    overall: Agreement
    by_label: list[Agreement]
    by_week: list[Agreement]  # key: the ISO date of the week's Monday
    by_version: list[Agreement]
    advice: list[AdviceUsage] = field(default_factory=list)
    suggestions: int = field(init=False)
    abstained: int = field(init=False)
    emergencies: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "suggestions", sum(d.suggestions for d in self.daily))
        object.__setattr__(self, "abstained", sum(d.abstained for d in self.daily))
        object.__setattr__(self, "emergencies", sum(d.emergencies for d in self.daily))

    @property
    def abstain_rate(self) -> float | None:
        return _share(self.abstained, self.suggestions)

    @property
    def emergency_rate(self) -> float | None:
        return _share(self.emergencies, self.suggestions)


def window_days(raw: int | None) -> int:
    """The monitoring window: one of ALLOWED_WINDOWS, 30 days unless asked otherwise."""
    return raw if raw in ALLOWED_WINDOWS else 30


def compute(session: Session, *, days: int = 30, now: datetime | None = None) -> Monitoring:
    """All monitoring figures for the last ``days`` days (UTC)."""
    days = window_days(days)
    since = (now or utcnow()) - timedelta(days=days)
    rolled = list(session.scalars(_ROLLED_DAYS_SQL, {"first_day": since.date()}))
    ranges = live_ranges(since, rolled)
    created, created_params = _in_ranges("created_at", ranges)
    signed, signed_params = _in_ranges("signed_at", ranges)
    signed_r, _ = _in_ranges("r.signed_at", ranges)
    base = {"rolled": rolled, "bins": HISTOGRAM_BINS}

    def run(page_sql: str, live_sql: str, where: str, params: dict[str, Any]) -> Any:
        statement = text(page_sql.format(live=live_sql.format(where=where)))
        return session.execute(statement, {**base, **params})

    daily = [
        DailyVolume(
            day=row.day,
            suggestions=row.suggestions,
            abstained=row.abstained,
            emergencies=row.emergencies,
        )
        for row in run(_PAGE_DAILY_SQL, DAILY_SQL, created, created_params)
    ]
    histogram = [0] * HISTOGRAM_BINS
    for row in run(_PAGE_HISTOGRAM_SQL, HISTOGRAM_SQL, created, created_params):
        histogram[int(row.bin) - 1] = int(row.n)
    overall = Agreement(key=None, reviewed=0, top1=0, top3=0)
    by_label: list[Agreement] = []
    by_week: list[Agreement] = []
    by_version: list[Agreement] = []
    for row in run(_PAGE_AGREEMENT_SQL, AGREEMENT_SQL, signed_r, signed_params):
        if row.no_label and row.no_week and row.no_version:
            overall = Agreement(key=None, reviewed=row.reviewed, top1=row.top1, top3=row.top3)
        elif not row.no_label:
            by_label.append(Agreement(row.final_label, row.reviewed, row.top1, row.top3))
        elif not row.no_week:
            by_week.append(Agreement(row.week.isoformat(), row.reviewed, row.top1, row.top3))
        else:
            by_version.append(Agreement(row.model_version, row.reviewed, row.top1, row.top3))
    by_label.sort(key=lambda a: (-a.reviewed, a.key or ""))
    by_week.sort(key=lambda a: a.key or "")
    by_version.sort(key=lambda a: a.key or "")
    advice = [
        AdviceUsage(row.label, row.reviews, row.used, row.edited, row.discarded)
        for row in run(_PAGE_ADVICE_SQL, ADVICE_SQL, signed, signed_params)
    ]
    advice.sort(key=lambda a: (-a.reviews, a.label))
    return Monitoring(
        since=since,
        days=days,
        daily=daily,
        histogram=histogram,
        overall=overall,
        by_label=by_label,
        by_week=by_week,
        by_version=by_version,
        advice=advice,
    )


# --- charts: geometry only; templates/admin/_charts.html draws the SVG (autoescaped) ---------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    max_value: float
    baseline: float


CHART_WIDTH = 640
CHART_HEIGHT = 180
_TOP = 10.0
_BOTTOM = 24.0


def bar_chart(
    values: list[tuple[str, float]], *, value_format: str = "{:g}", scale_max: float | None = None
) -> BarChart:
    """Vertical bars scaled to ``scale_max`` (else the largest value), with labels for titles."""
    plot_height = CHART_HEIGHT - _TOP - _BOTTOM
    top = scale_max or max((v for _, v in values), default=0.0) or 1.0
    slot = CHART_WIDTH / max(len(values), 1)
    gap = min(4.0, slot * 0.2)
    bars = []
    for index, (label, value) in enumerate(values):
        height = plot_height * (value / top)
        bars.append(
            Bar(
                x=round(index * slot + gap / 2, 2),
                y=round(_TOP + plot_height - height, 2),
                width=round(slot - gap, 2),
                height=round(height, 2),
                label=label,
                value=value_format.format(value),
            )
        )
    return BarChart(CHART_WIDTH, CHART_HEIGHT, bars, top, _TOP + plot_height)


def daily_chart(monitoring: Monitoring) -> BarChart:
    """Suggestions per day over the whole window, days without any shown as zero."""
    by_day = {d.day: d.suggestions for d in monitoring.daily}
    first = monitoring.since.date()
    days = [first + timedelta(days=i) for i in range(monitoring.days + 1)]
    return bar_chart([(day.isoformat(), float(by_day.get(day, 0))) for day in days])


def histogram_chart(monitoring: Monitoring) -> BarChart:
    width = 1.0 / HISTOGRAM_BINS
    return bar_chart(
        [
            (f"{i * width:.1f}-{(i + 1) * width:.1f}", float(n))
            for i, n in enumerate(monitoring.histogram)
        ]
    )


def agreement_chart(monitoring: Monitoring) -> tuple[BarChart, BarChart]:
    """Top-1 and top-3 agreement per week, as percentages."""
    top1 = [(a.key or "", 100 * (a.top1_rate or 0.0)) for a in monitoring.by_week]
    top3 = [(a.key or "", 100 * (a.top3_rate or 0.0)) for a in monitoring.by_week]
    return (
        bar_chart(top1, value_format="{:.0f}%", scale_max=100.0),
        bar_chart(top3, value_format="{:.0f}%", scale_max=100.0),
    )
