"""Monitoring roll-ups: the per-day SQL of the monitoring figures, and the worker's sweep that
stores it for closed days (``refresh_rollups``).

A closed day is a UTC day before yesterday. The sweep rolls up every closed day of the last
``ROLLUP_DAYS`` that is not rolled up yet or has changed since: changes to closed days are
logged by database triggers in ``monitoring_dirty_days`` (migration ``0010_rollups``).
``admin.monitoring`` sums the roll-ups and runs the same SQL live for the other days.
Agreement is rolled up per day by label and, separately, by model version (migration
``0011_agreement_by_label``): a page sums a year of days without the product of the two.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from medconsult.db import utcnow
from medconsult.review.queries import CURRENT_CONCLUSION_SQL

HISTOGRAM_BINS = 10
ROLLUP_DAYS = 366  # how far back roll-ups are kept: the longest monitoring window, plus a day
ROLLUP_LAG_DAYS = 2  # yesterday and today are always computed live
_ROLLUP_LOCK = 7_391_204  # advisory lock key: one sweep rolls up at a time

# --- per-day SQL: {where} selects the rows (a time range for pages, a day list for the sweep) --

_DAY = "(created_at AT TIME ZONE 'UTC')::date"

DAILY_SQL = f"""
    SELECT {_DAY} AS day,
           count(*) AS suggestions,
           count(*) FILTER (WHERE abstained) AS abstained,
           count(*) FILTER (WHERE urgency = 'emergency') AS emergencies
    FROM ai_suggestions
    WHERE is_current AND {{where}}
    GROUP BY 1
"""

HISTOGRAM_SQL = f"""
    SELECT {_DAY} AS day,
           GREATEST(1, LEAST(width_bucket(top1_probability, 0.0, 1.0, :bins), :bins)) AS bin,
           count(*) AS n
    FROM ai_suggestions
    WHERE is_current AND top1_probability IS NOT NULL AND {{where}}
    GROUP BY 1, 2
"""

AGREEMENT_SQL = f"""
    WITH candidates AS MATERIALIZED (  -- the day's current conclusions first, by their index
        SELECT r.id, r.consultation_id, r.suggestion_id, r.final_label, r.signed_at, r.created_at
        FROM doctor_reviews r
        WHERE {{where}} AND {CURRENT_CONCLUSION_SQL}
    ), latest AS (
        SELECT r.consultation_id, r.suggestion_id, r.final_label,
               (r.signed_at AT TIME ZONE 'UTC')::date AS day
        FROM candidates r
        WHERE NOT EXISTS (  -- should a case ever have two, the later one counts
              SELECT 1 FROM doctor_reviews o
              WHERE o.consultation_id = r.consultation_id
                AND (o.signed_at, o.created_at, o.id) > (r.signed_at, r.created_at, r.id)
                AND NOT EXISTS (SELECT 1 FROM doctor_reviews a WHERE a.amends_id = o.id))
    ), judged AS (
        SELECT l.day, l.final_label,
               COALESCE(s.model_version, c.model_version) AS model_version,
               COALESCE(s.top1_label, c.top1_label) AS top1_label,
               COALESCE(s.ranked, c.ranked) AS ranked
        FROM latest l
        LEFT JOIN ai_suggestions s ON s.id = l.suggestion_id
        LEFT JOIN ai_suggestions c
               ON l.suggestion_id IS NULL AND c.consultation_id = l.consultation_id AND c.is_current
        WHERE s.id IS NOT NULL OR c.id IS NOT NULL
    )
    SELECT day, GROUPING(model_version) = 1 AS by_label, final_label, model_version,
           count(*) AS reviewed,
           count(*) FILTER (WHERE top1_label = final_label) AS top1,
           count(*) FILTER (
               WHERE final_label IN (ranked->0->>'label', ranked->1->>'label', ranked->2->>'label')
           ) AS top3
    FROM judged
    -- Per day by label, and per day by model version (the version rows also give the day's
    -- totals): not by both, whose product is many times the rows for a page to sum.
    GROUP BY GROUPING SETS ((day, final_label), (day, model_version))
"""

ADVICE_SQL = """
    SELECT (signed_at AT TIME ZONE 'UTC')::date AS day,
           COALESCE(advice_template_label, final_label) AS label,
           count(*) AS reviews,
           count(*) FILTER (WHERE advice_template_outcome = 'used') AS used,
           count(*) FILTER (WHERE advice_template_outcome = 'edited') AS edited,
           count(*) FILTER (WHERE advice_template_outcome = 'discarded') AS discarded
    FROM doctor_reviews
    WHERE {where} AND COALESCE(advice_template_label, final_label) IS NOT NULL
    GROUP BY 1, 2
"""


_ROLLUP_INSERTS = (
    (
        "INSERT INTO monitoring_daily (day, suggestions, abstained, emergencies, computed_at) "
        "SELECT d, COALESCE(x.suggestions, 0), COALESCE(x.abstained, 0), "
        "COALESCE(x.emergencies, 0), now() "
        "FROM unnest(CAST(:days AS date[])) AS d LEFT JOIN ({sql}) AS x ON x.day = d",
        DAILY_SQL,
        _DAY,
    ),
    (
        "INSERT INTO monitoring_daily_histogram (day, bin, n) SELECT day, bin, n FROM ({sql}) x",
        HISTOGRAM_SQL,
        _DAY,
    ),
    (
        "INSERT INTO monitoring_daily_agreement "
        "(day, by_label, final_label, model_version, reviewed, top1, top3) "
        "SELECT day, by_label, final_label, model_version, reviewed, top1, top3 FROM ({sql}) x",
        AGREEMENT_SQL,
        "(r.signed_at AT TIME ZONE 'UTC')::date",
    ),
    (
        "INSERT INTO monitoring_daily_advice (day, label, reviews, used, edited, discarded) "
        "SELECT day, label, reviews, used, edited, discarded FROM ({sql}) x",
        ADVICE_SQL,
        "(signed_at AT TIME ZONE 'UTC')::date",
    ),
)
_ROLLUP_TABLES = (
    "monitoring_daily",
    "monitoring_daily_histogram",
    "monitoring_daily_agreement",
    "monitoring_daily_advice",
)


def lock_rollups(session: Session) -> None:
    """Hold the roll-ups until the transaction ends (one sweep writes them at a time; a second
    waits, then finds the days done)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ROLLUP_LOCK})


def refresh_rollups(session: Session, *, now: datetime | None = None) -> int:
    """Roll up every closed day of the last ``ROLLUP_DAYS`` that is not rolled up yet or has
    changed since (caller commits); how many days."""
    lock_rollups(session)
    today = (now or utcnow()).date()
    first = today - timedelta(days=ROLLUP_DAYS)
    last = today - timedelta(days=ROLLUP_LAG_DAYS)
    dirty = set(session.scalars(text("DELETE FROM monitoring_dirty_days RETURNING day")))
    rolled = set(
        session.scalars(
            text("SELECT day FROM monitoring_daily WHERE day >= :first"), {"first": first}
        )
    )
    closed = {first + timedelta(days=i) for i in range((last - first).days + 1)}
    todo = sorted((closed - rolled) | (dirty & closed))
    for table in _ROLLUP_TABLES:
        session.execute(
            text(f"DELETE FROM {table} WHERE day = ANY(CAST(:days AS date[])) OR day < :first"),
            {"days": todo, "first": first},
        )
    if todo:
        for insert, sql, day in _ROLLUP_INSERTS:
            where = f"{day} = ANY(CAST(:days AS date[]))"
            session.execute(
                text(insert.format(sql=sql.format(where=where))),
                {"days": todo, "bins": HISTOGRAM_BINS},
            )
    return len(todo)
