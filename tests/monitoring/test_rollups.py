"""Monitoring roll-ups: the figures with roll-ups equal the direct SQL over the base tables,
after a sweep, after later changes to rolled-up days (before and after the next sweep)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from medconsult.admin import monitoring
from medconsult.consultations.models import Consultation
from medconsult.db import utcnow
from medconsult.diagnosis.models import AISuggestion
from medconsult.monitoring import rollups
from medconsult.monitoring.models import MonitoringDaily, MonitoringDirtyDay
from medconsult.review.models import AdviceTemplateOutcome, DoctorReview
from tests import factories

# The monitoring queries as they were before roll-ups, over the base tables only: the reference.
_DIRECT_DAILY = """
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS suggestions,
           count(*) FILTER (WHERE abstained) AS abstained,
           count(*) FILTER (WHERE urgency = 'emergency') AS emergencies
    FROM ai_suggestions WHERE is_current AND created_at >= :since GROUP BY 1 ORDER BY 1
"""
_DIRECT_HISTOGRAM = """
    SELECT GREATEST(1, LEAST(width_bucket(top1_probability, 0.0, 1.0, 10), 10)) AS bin,
           count(*) AS n
    FROM ai_suggestions
    WHERE is_current AND created_at >= :since AND top1_probability IS NOT NULL
    GROUP BY 1 ORDER BY 1
"""
_DIRECT_AGREEMENT = """
    WITH latest AS (
        SELECT DISTINCT ON (r.consultation_id)
               r.consultation_id, r.suggestion_id, r.final_label, r.signed_at
        FROM doctor_reviews r
        WHERE r.signed_at >= :since
          AND NOT EXISTS (SELECT 1 FROM doctor_reviews a WHERE a.amends_id = r.id)
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
    SELECT GROUPING(final_label) AS a, GROUPING(week) AS b, GROUPING(model_version) AS c,
           final_label, week, model_version, count(*) AS reviewed,
           count(*) FILTER (WHERE top1_label = final_label) AS top1,
           count(*) FILTER (
               WHERE final_label IN (ranked->0->>'label', ranked->1->>'label', ranked->2->>'label')
           ) AS top3
    FROM judged
    GROUP BY GROUPING SETS ((), (final_label), (week), (model_version))
"""
_DIRECT_ADVICE = """
    SELECT COALESCE(advice_template_label, final_label) AS label, count(*) AS reviews,
           count(*) FILTER (WHERE advice_template_outcome = 'used') AS used,
           count(*) FILTER (WHERE advice_template_outcome = 'edited') AS edited,
           count(*) FILTER (WHERE advice_template_outcome = 'discarded') AS discarded
    FROM doctor_reviews
    WHERE signed_at >= :since AND COALESCE(advice_template_label, final_label) IS NOT NULL
    GROUP BY 1
"""


def direct(session: Session, *, days: int, now: datetime) -> dict[str, Any]:
    since = {"since": now - timedelta(days=days)}
    agreement = session.execute(text(_DIRECT_AGREEMENT), since).all()
    return {
        "daily": [tuple(row) for row in session.execute(text(_DIRECT_DAILY), since)],
        "histogram": [tuple(row) for row in session.execute(text(_DIRECT_HISTOGRAM), since)],
        "overall": [tuple(r[6:]) for r in agreement if r.a and r.b and r.c],
        "by_label": sorted(
            (tuple(r[3:4] + r[6:]) for r in agreement if not r.a), key=lambda t: str(t)
        ),
        "by_week": sorted((r.week.isoformat(), *r[6:]) for r in agreement if r.a and not r.b),
        "by_version": sorted(tuple(r[5:]) for r in agreement if r.a and r.b and not r.c),
        "advice": sorted(tuple(row) for row in session.execute(text(_DIRECT_ADVICE), since)),
    }


def figures(session: Session, *, days: int, now: datetime) -> dict[str, Any]:
    m = monitoring.compute(session, days=days, now=now)
    return {
        "daily": [(d.day, d.suggestions, d.abstained, d.emergencies) for d in m.daily],
        "histogram": [(i + 1, n) for i, n in enumerate(m.histogram) if n],
        "overall": [(m.overall.reviewed, m.overall.top1, m.overall.top3)],
        "by_label": sorted(((a.key, a.reviewed, a.top1, a.top3) for a in m.by_label), key=str),
        "by_week": sorted((a.key, a.reviewed, a.top1, a.top3) for a in m.by_week),
        "by_version": sorted((a.key, a.reviewed, a.top1, a.top3) for a in m.by_version),
        "advice": sorted((a.label, a.reviews, a.used, a.edited, a.discarded) for a in m.advice),
    }


ROLLUP_TABLES = (
    "monitoring_daily_histogram",
    "monitoring_daily_agreement",
    "monitoring_daily_advice",
    "monitoring_dirty_days",
)
LABELS = ["acne", "allergy", "arthritis", "jaundice", "pneumonia"]


def _history(session: Session, now: datetime) -> list[Consultation]:
    """40 cases over the last 50 days: abstentions, emergencies, no label, amendments, reviews
    naming no suggestion, replaced suggestions, advice drafts."""
    doctor = factories.create_doctor(session)
    patient = factories.create_patient(session)
    cases = []
    for i in range(40):
        when = now - timedelta(days=(i * 37) % 50, hours=i % 24)
        consultation = factories.create_consultation(session, patient=patient)
        ranked: list[dict[str, object]] = [
            {"label": LABELS[(i + k) % 5], "display_name": "x", "icd10": "", "probability": p}
            for k, p in enumerate(((i % 10) / 10 + 0.05, 0.1, 0.05))
        ]
        suggestion = factories.create_suggestion(
            session,
            consultation=consultation,
            ranked=ranked,
            urgency="emergency" if i % 7 == 0 else "routine",
            abstained=i % 5 == 0,
            model_version=f"v{i % 2}",
        )
        suggestion.created_at = when
        if i % 4 != 3:
            review = factories.create_signed_review(
                session,
                consultation=consultation,
                doctor=doctor,
                final_label=None if i % 9 == 0 else LABELS[(i + i % 3) % 5],
                suggestion=suggestion if i % 6 else None,
                signed_at=when + timedelta(hours=1),
            )
            if i % 8 == 1:
                assert isinstance(review, DoctorReview)
                review.advice_template_label = LABELS[i % 5]
                review.advice_template_outcome = AdviceTemplateOutcome.edited
            if i % 5 == 2:
                factories.create_signed_review(
                    session,
                    consultation=consultation,
                    doctor=doctor,
                    final_label=LABELS[i % 5],
                    suggestion=suggestion,
                    amends=review,
                    signed_at=when + timedelta(days=3),
                )
        cases.append(consultation)
    session.flush()
    return cases


def _assert_equal_to_direct(session: Session, now: datetime) -> None:
    for days in monitoring.ALLOWED_WINDOWS:
        assert figures(session, days=days, now=now) == direct(session, days=days, now=now), days


@pytest.fixture
def now(session: Session) -> datetime:
    """Now, with the roll-ups to this test alone: a live server's worker may have written some
    for its own data, and its sweep waits while this test holds them."""
    rollups.lock_rollups(session)
    for table in ("monitoring_daily", *ROLLUP_TABLES):
        session.execute(text(f"DELETE FROM {table}"))
    return utcnow()


class TestRollups:
    def test_figures_equal_the_direct_sql_without_and_with_rollups(
        self, session: Session, now: datetime
    ) -> None:
        _history(session, now)
        _assert_equal_to_direct(session, now)

        rolled = rollups.refresh_rollups(session, now=now)

        assert rolled == rollups.ROLLUP_DAYS - rollups.ROLLUP_LAG_DAYS + 1
        assert session.scalar(select(func.count()).select_from(MonitoringDaily)) == rolled
        assert rollups.refresh_rollups(session, now=now) == 0  # nothing changed since
        _assert_equal_to_direct(session, now)
        # The pages really read the roll-ups: a stored day's figure shows through.
        session.execute(
            text("UPDATE monitoring_daily SET suggestions = suggestions + 1000 WHERE day = :d"),
            {"d": (now - timedelta(days=10)).date()},
        )
        assert monitoring.compute(session, days=30, now=now).suggestions == 1000 + sum(
            row[1] for row in direct(session, days=30, now=now)["daily"]
        )

    def test_a_change_to_a_rolled_up_day_is_seen_before_and_after_the_next_sweep(
        self, session: Session, now: datetime
    ) -> None:
        cases = _history(session, now)
        rollups.refresh_rollups(session, now=now)
        doctor = factories.create_doctor(session)
        old = [c for c in cases if c.submitted_at is not None][:12]
        # An amendment today of a review signed weeks ago moves its case to today.
        review = session.scalars(
            select(DoctorReview)
            .where(DoctorReview.signed_at < now - timedelta(days=5))
            .order_by(DoctorReview.signed_at)
        ).first()
        assert review is not None
        factories.create_signed_review(
            session,
            consultation=session.get_one(Consultation, review.consultation_id),
            doctor=doctor,
            final_label="jaundice",
            amends=review,
        )
        # A re-analysis replaces an old case's suggestion.
        previous = session.scalars(
            select(AISuggestion).where(
                AISuggestion.consultation_id == old[3].id, AISuggestion.is_current
            )
        ).one()
        previous.is_current = False
        session.flush()
        factories.create_suggestion(session, consultation=old[3], urgency="emergency")
        # An erased case disappears from every day it counted in.
        session.execute(delete(Consultation).where(Consultation.id == old[5].id))
        session.flush()

        assert session.scalar(select(func.count()).select_from(MonitoringDirtyDay)) > 0
        _assert_equal_to_direct(session, now)
        assert rollups.refresh_rollups(session, now=now) > 0
        assert session.scalar(select(func.count()).select_from(MonitoringDirtyDay)) == 0
        _assert_equal_to_direct(session, now)

    def test_todays_writes_log_no_day_to_recompute(self, session: Session, now: datetime) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        suggestion = factories.create_suggestion(session, consultation=consultation)
        factories.create_signed_review(
            session,
            consultation=consultation,
            doctor=factories.create_doctor(session),
            final_label="acne",
            suggestion=suggestion,
        )

        assert session.scalar(select(func.count()).select_from(MonitoringDirtyDay)) == 0
