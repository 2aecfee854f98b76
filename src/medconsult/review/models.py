"""Doctor reviews: the signed record. Never edited in place; an amendment is a new row."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medconsult.accounts.models import User
from medconsult.db import Base, Timestamped, UUIDPk, utcnow


class Decision(enum.StrEnum):
    accept = "accept"
    modify = "modify"
    reject = "reject"


class AdviceTemplateOutcome(enum.StrEnum):
    """What the doctor did with the advice draft offered from the library."""

    used = "used"  # signed unchanged
    edited = "edited"  # signed after changing it
    discarded = "discarded"  # thrown away (the advice sent is the doctor's own, or none)


class DoctorReview(UUIDPk, Timestamped, Base):
    __tablename__ = "doctor_reviews"

    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    suggestion_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ai_suggestions.id", ondelete="SET NULL")
    )
    decision: Mapped[Decision] = mapped_column(Enum(Decision, name="review_decision"))
    final_label: Mapped[str | None] = mapped_column(String(100))
    final_diagnosis: Mapped[str] = mapped_column(String(300))
    icd10_code: Mapped[str] = mapped_column(String(20), default="")
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    advice: Mapped[str] = mapped_column(Text, default="")
    private_note: Mapped[str] = mapped_column(Text, default="")
    # The advice library entry offered as the advice draft (None: no draft was used).
    advice_template_label: Mapped[str | None] = mapped_column(String(100))
    advice_template_version: Mapped[int | None] = mapped_column(Integer)
    advice_template_outcome: Mapped[AdviceTemplateOutcome | None] = mapped_column(
        Enum(AdviceTemplateOutcome, name="advice_template_outcome")
    )
    signed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    amends_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("doctor_reviews.id", ondelete="RESTRICT"), index=True
    )

    doctor: Mapped[User] = relationship()
