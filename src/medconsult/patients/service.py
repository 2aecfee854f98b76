"""Patient profiles: who may read them, and audited updates."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult import access
from medconsult.accounts.models import Role, User
from medconsult.audit import service as audit_service
from medconsult.errors import Forbidden, NotFound
from medconsult.i18n import _
from medconsult.patients.models import PatientProfile
from medconsult.patients.schemas import ProfileUpdate


def ensure_profile(session: Session, *, user: User) -> PatientProfile:
    profile = session.scalar(select(PatientProfile).where(PatientProfile.user_id == user.id))
    if profile is None:
        profile = PatientProfile(user_id=user.id, full_name=user.full_name)
        session.add(profile)
        session.flush()
    return profile


def _audit_profile(
    session: Session,
    actor: User,
    action: str,
    profile: PatientProfile,
    **extras: Unpack[audit_service.Extras],
) -> None:
    """An event about one patient's profile (it names the profile and its patient)."""
    audit_service.record(
        session,
        actor=actor,
        action=action,
        record_type="patient_profile",
        record_id=profile.id,
        patient_id=profile.user_id,
        **extras,
    )


def get_profile(session: Session, *, actor: User, patient_id: uuid.UUID) -> PatientProfile:
    """Read a patient's profile (audited)."""
    access.check_patient(session, actor=actor, patient_id=patient_id, action="patient.profile.read")
    patient = session.get(User, patient_id)
    if patient is None or patient.role is not Role.patient:
        raise NotFound(_("Patient not found."))
    profile = ensure_profile(session, user=patient)
    _audit_profile(session, actor, "patient.profile.read", profile)
    return profile


def update_own_profile(session: Session, *, actor: User, data: ProfileUpdate) -> PatientProfile:
    """A patient edits their own profile (audited, with the names of changed fields only)."""
    if actor.role is not Role.patient:
        raise Forbidden(_("Only patients have a profile to edit."))
    profile = ensure_profile(session, user=actor)
    changed = []
    for field, value in data.model_dump().items():
        if getattr(profile, field) != value:
            setattr(profile, field, value)
            changed.append(field)
    session.flush()
    _audit_profile(
        session, actor, "patient.profile.update", profile, details={"fields": sorted(changed)}
    )
    return profile


def age_on(date_of_birth: date | None, today: date | None = None) -> int | None:
    if date_of_birth is None:
        return None
    today = today or date.today()
    return (
        today.year
        - date_of_birth.year
        - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))
    )
