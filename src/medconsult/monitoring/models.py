"""Monitoring roll-ups: per-day aggregates the worker's sweep writes (``monitoring.py``).

Each table holds, per closed UTC day, what the monitoring queries would compute for that day.
``monitoring_daily`` has one row per day rolled up (zeros included), so it also says which
days are. ``monitoring_dirty_days`` is an append-only log of closed days whose figures changed
since (written by database triggers, see the migration ``0010_rollups``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medconsult.db import Base


class MonitoringDaily(Base):
    __tablename__ = "monitoring_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    suggestions: Mapped[int] = mapped_column(Integer)
    abstained: Mapped[int] = mapped_column(Integer)
    emergencies: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime]


class _DayRow:
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)


class MonitoringDailyHistogram(_DayRow, Base):
    __tablename__ = "monitoring_daily_histogram"

    bin: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)


class MonitoringDailyAgreement(_DayRow, Base):
    """A day's agreement by label (``by_label``, no model version) or by model version (no
    label): two groupings of the same reviews, each summing to the day's total."""

    __tablename__ = "monitoring_daily_agreement"

    by_label: Mapped[bool] = mapped_column(Boolean)
    final_label: Mapped[str | None] = mapped_column(String(100))
    model_version: Mapped[str | None] = mapped_column(String(200))
    reviewed: Mapped[int] = mapped_column(Integer)
    top1: Mapped[int] = mapped_column(Integer)
    top3: Mapped[int] = mapped_column(Integer)


class MonitoringDailyAdvice(_DayRow, Base):
    __tablename__ = "monitoring_daily_advice"

    label: Mapped[str] = mapped_column(String(100))
    reviews: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer)
    edited: Mapped[int] = mapped_column(Integer)
    discarded: Mapped[int] = mapped_column(Integer)


class MonitoringDirtyDay(_DayRow, Base):
    __tablename__ = "monitoring_dirty_days"
