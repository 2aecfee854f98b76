"""The one definition of a consultation's current conclusion, for every reader.

A conclusion is a signed review; an amendment replaces the review it amends. The current
conclusion is therefore the signed review that no other review amends (the head of the chain).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session, aliased, joinedload

from medconsult.review.models import DoctorReview

# The same rule for the hand-written SQL of the monitoring reports (``r`` is the review's alias).
CURRENT_CONCLUSION_SQL = "NOT EXISTS (SELECT 1 FROM doctor_reviews a WHERE a.amends_id = r.id)"


def is_current_conclusion() -> ColumnElement[bool]:
    """True for a signed review that no amendment has replaced."""
    newer = aliased(DoctorReview)
    return ~exists().where(newer.amends_id == DoctorReview.id)


def latest_review(session: Session, *, consultation_id: uuid.UUID) -> DoctorReview | None:
    """The current conclusion: the signed review that no amendment has replaced."""
    return session.scalar(
        select(DoctorReview)
        .where(DoctorReview.consultation_id == consultation_id, is_current_conclusion())
        .order_by(DoctorReview.signed_at.desc())
        .limit(1)
    )


def latest_reviews_for(
    session: Session, *, consultation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DoctorReview]:
    """The current conclusion of each of several consultations (those that have one)."""
    if not consultation_ids:
        return {}
    reviews = session.scalars(
        select(DoctorReview)
        .where(DoctorReview.consultation_id.in_(consultation_ids), is_current_conclusion())
        # Amendments form one chain per consultation, so each has a single head; ordering
        # oldest first lets the newest win should two heads ever exist.
        .order_by(DoctorReview.signed_at)
    )
    return {review.consultation_id: review for review in reviews}


def review_history(session: Session, *, consultation_id: uuid.UUID) -> list[DoctorReview]:
    """Every signed review of a consultation, the current conclusion first."""
    return list(
        session.scalars(
            select(DoctorReview)
            .options(joinedload(DoctorReview.doctor))
            .where(DoctorReview.consultation_id == consultation_id)
            .order_by(DoctorReview.signed_at.desc(), DoctorReview.created_at.desc())
        )
    )


def history_and_conclusions(
    session: Session, *, consultation_id: uuid.UUID, other_ids: Sequence[uuid.UUID]
) -> tuple[list[DoctorReview], dict[uuid.UUID, DoctorReview]]:
    """In one statement, ``review_history`` of one consultation and ``latest_reviews_for``
    the others (a case page shows both: this case's reviews and earlier cases' conclusions)."""
    rows = session.scalars(
        select(DoctorReview)
        .options(joinedload(DoctorReview.doctor))
        .where(
            (DoctorReview.consultation_id == consultation_id)
            | (DoctorReview.consultation_id.in_(other_ids) & is_current_conclusion())
        )
        # Newest first for the history; for the conclusions the oldest-first rule of
        # latest_reviews_for is kept by letting the first (newest) head win below.
        .order_by(DoctorReview.signed_at.desc(), DoctorReview.created_at.desc())
    ).all()
    history = [review for review in rows if review.consultation_id == consultation_id]
    conclusions: dict[uuid.UUID, DoctorReview] = {}
    for review in rows:
        if review.consultation_id != consultation_id:
            conclusions.setdefault(review.consultation_id, review)
    return history, conclusions
