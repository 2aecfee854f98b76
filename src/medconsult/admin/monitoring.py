"""Model monitoring: volumes, confidence, abstentions, emergencies and doctor agreement.

Every number is an aggregate computed by PostgreSQL (two queries per page), so the page stays
fast with a large history. Definitions:

- A consultation's suggestion is its current one (re-analyses replace it), dated by creation.
- The signed diagnosis is the consultation's latest review that no later review amends.
- That review is compared with the suggestion the doctor reviewed (``suggestion_id``), or the
  consultation's current suggestion when the review names none.
- Top-1 agreement: the signed label is the model's first label. Top-3: it is among the first
  three of ``ranked``. A diagnosis outside the model's labels counts as a disagreement.
- Advice drafts: every signed review (amendments included) with a diagnosis label, by whether
  the library draft was signed unchanged, edited, discarded, or not used at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from medconsult.db import utcnow
from medconsult.review.queries import CURRENT_CONCLUSION_SQL

HISTOGRAM_BINS = 10
ALLOWED_WINDOWS = (7, 30, 90, 365)

_DAILY_SQL = text(
    """
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS suggestions,
           count(*) FILTER (WHERE abstained) AS abstained,
           count(*) FILTER (WHERE urgency = 'emergency') AS emergencies
    FROM ai_suggestions
    WHERE is_current AND created_at >= :since
    GROUP BY 1
    ORDER BY 1
    """
)

_HISTOGRAM_SQL = text(
    """
    SELECT GREATEST(1, LEAST(width_bucket(top1_probability, 0.0, 1.0, :bins), :bins)) AS bin,
           count(*) AS n
    FROM ai_suggestions
    WHERE is_current AND created_at >= :since AND top1_probability IS NOT NULL
    GROUP BY 1
    """
)

_AGREEMENT_SQL = text(
    f"""
    WITH latest AS (
        SELECT DISTINCT ON (r.consultation_id)
               r.consultation_id, r.suggestion_id, r.final_label, r.signed_at
        FROM doctor_reviews r
        WHERE r.signed_at >= :since
          AND {CURRENT_CONCLUSION_SQL}
        ORDER BY r.consultation_id, r.signed_at DESC, r.created_at DESC
    ), judged AS (
        SELECT l.final_label,
               date_trunc('week', l.signed_at AT TIME ZONE 'UTC')::date AS week,
               COALESCE(s.model_version, c.model_version) AS model_version,
               COALESCE(s.top1_label, c.top1_label) AS top1_label,
               COALESCE(s.ranked, c.ranked) AS ranked
        FROM latest l
        LEFT JOIN ai_suggestions s ON s.id = l.suggestion_id
        LEFT JOIN ai_suggestions c
               ON l.suggestion_id IS NULL AND c.consultation_id = l.consultation_id AND c.is_current
        WHERE s.id IS NOT NULL OR c.id IS NOT NULL
    )
    SELECT GROUPING(final_label) AS no_label, GROUPING(week) AS no_week,
           GROUPING(model_version) AS no_version,
           final_label, week, model_version,
           count(*) AS reviewed,
           count(*) FILTER (WHERE top1_label = final_label) AS top1,
           count(*) FILTER (
               WHERE final_label IN (ranked->0->>'label', ranked->1->>'label', ranked->2->>'label')
           ) AS top3
    FROM judged
    GROUP BY GROUPING SETS ((), (final_label), (week), (model_version))
    """
)


_ADVICE_SQL = text(
    """
    SELECT COALESCE(advice_template_label, final_label) AS label,
           count(*) AS reviews,
           count(*) FILTER (WHERE advice_template_outcome = 'used') AS used,
           count(*) FILTER (WHERE advice_template_outcome = 'edited') AS edited,
           count(*) FILTER (WHERE advice_template_outcome = 'discarded') AS discarded
    FROM doctor_reviews
    WHERE signed_at >= :since AND COALESCE(advice_template_label, final_label) IS NOT NULL
    GROUP BY 1
    """
)


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
        return self.top1 / self.reviewed if self.reviewed else None

    @property
    def top3_rate(self) -> float | None:
        return self.top3 / self.reviewed if self.reviewed else None


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
        return self.abstained / self.suggestions if self.suggestions else None

    @property
    def emergency_rate(self) -> float | None:
        return self.emergencies / self.suggestions if self.suggestions else None


def window_days(raw: int | None) -> int:
    """The monitoring window: one of ALLOWED_WINDOWS, 30 days unless asked otherwise."""
    return raw if raw in ALLOWED_WINDOWS else 30


def compute(session: Session, *, days: int = 30, now: datetime | None = None) -> Monitoring:
    """All monitoring figures for the last ``days`` days (UTC)."""
    days = window_days(days)
    since = (now or utcnow()) - timedelta(days=days)
    daily = [
        DailyVolume(
            day=row.day,
            suggestions=row.suggestions,
            abstained=row.abstained,
            emergencies=row.emergencies,
        )
        for row in session.execute(_DAILY_SQL, {"since": since})
    ]
    histogram = [0] * HISTOGRAM_BINS
    for row in session.execute(_HISTOGRAM_SQL, {"since": since, "bins": HISTOGRAM_BINS}):
        histogram[int(row.bin) - 1] = int(row.n)
    overall = Agreement(key=None, reviewed=0, top1=0, top3=0)
    by_label: list[Agreement] = []
    by_week: list[Agreement] = []
    by_version: list[Agreement] = []
    for row in session.execute(_AGREEMENT_SQL, {"since": since}):
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
        for row in session.execute(_ADVICE_SQL, {"since": since})
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
