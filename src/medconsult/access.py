"""The access policy: one rule for every route and service, every refusal audited.

1. Without a session, pages redirect to sign-in and the API answers 401 (``auth.py``).
2. A role that may not use a route or an action gets 403.
3. A record the caller may not know exists gets 404, exactly like a record that does not exist:
   another patient's consultation or profile, a patient no doctor has been consulted about, or
   another user's notice.
4. Administrators manage accounts, not clinical records: a clinical record answers them 403
   (they know records exist, they may not read them).

Each refusal is recorded as a ``denied`` audit event. ``audit_service.record`` writes it through
``db.keep_on_rollback``, so it outlives the rollback of the request that raised the error.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, NoReturn, Unpack

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from medconsult.accounts.models import Role, User
from medconsult.audit import service as audit_service
from medconsult.audit.models import Outcome
from medconsult.consultations.models import Consultation
from medconsult.errors import Forbidden, NotFound
from medconsult.i18n import N_, _

ADMIN_CLINICAL_DENIED = N_("Administrators do not have access to clinical records.")
ROLE_DENIED = N_("You do not have access to this page.")


class Subject(audit_service.Subject, total=False):
    """What a refused action was about, as the denial's audit event records it."""

    details: dict[str, Any] | None


def _audit_denial(
    session: Session, *, actor: User, action: str, **subject: Unpack[Subject]
) -> None:
    audit_service.record(session, actor=actor, action=action, outcome=Outcome.denied, **subject)


def require_role(
    session: Session,
    *,
    actor: User,
    roles: Collection[Role],
    action: str,
    message: str | None = None,
    clinical: bool = False,
    **subject: Unpack[Subject],
) -> None:
    """Rule 2 (and 4 where ``clinical``): 403 unless ``actor`` has one of ``roles``; audited.

    ``message`` is the (translated) refusal; an admin refused clinical work reads rule 4's.
    """
    if actor.role in roles:
        return
    _audit_denial(session, actor=actor, action=action, **subject)
    if clinical and actor.role is Role.admin:
        raise Forbidden(_(ADMIN_CLINICAL_DENIED))
    raise Forbidden(message or _(ROLE_DENIED))


# Who does what on a consultation, and what everyone else is told (rule 2).
CASE_WORK_DENIED = {
    Role.doctor: N_("Only doctors can review consultations."),
    Role.patient: N_("Only the patient answers the questions."),
}


def require_case_role(
    session: Session,
    *,
    actor: User,
    role: Role,
    action: str,
    consultation: Consultation | None = None,
) -> None:
    """Only ``role`` does this work on a consultation: everyone else gets 403 (rule 2; admins
    rule 4), told so in ``CASE_WORK_DENIED``'s words; audited."""
    require_role(
        session,
        actor=actor,
        roles=(role,),
        action=action,
        message=_(CASE_WORK_DENIED[role]),
        clinical=True,
        **(audit_service.consultation_record(consultation) if consultation else {}),
    )


def require_doctor(
    session: Session, *, actor: User, action: str, consultation: Consultation | None = None
) -> None:
    """Only doctors work on cases: everyone else gets 403 (rule 2; admins rule 4)."""
    require_case_role(
        session, actor=actor, role=Role.doctor, action=action, consultation=consultation
    )


def _refuse_record(
    session: Session, *, actor: User, action: str, not_found: str, **subject: Unpack[Subject]
) -> NoReturn:
    """Rules 3 and 4: audit, then 403 to an admin and 404 to everyone else."""
    _audit_denial(session, actor=actor, action=action, **subject)
    if actor.role is Role.admin:
        raise Forbidden(_(ADMIN_CLINICAL_DENIED))
    raise NotFound(not_found)


def may_read_consultation(actor: User, consultation: Consultation) -> bool:
    """Its patient, or any doctor."""
    return (
        actor.role is Role.patient and consultation.patient_id == actor.id
    ) or actor.role is Role.doctor


def check_consultation(
    session: Session,
    *,
    actor: User,
    consultation: Consultation | None,
    action: str,
    consultation_id: uuid.UUID,
) -> Consultation:
    """The consultation if ``actor`` may read it; otherwise 404 (403 to an admin), audited."""
    if consultation is not None and may_read_consultation(actor, consultation):
        return consultation
    _refuse_record(
        session,
        actor=actor,
        action=action,
        record_type="consultation",
        record_id=consultation_id,
        patient_id=consultation.patient_id if consultation is not None else None,
        not_found=_("Consultation not found."),
    )


def readable_consultation(
    session: Session, *, actor: User, consultation_id: uuid.UUID, action: str
) -> Consultation:
    """The consultation with this id, if ``actor`` may read it (``check_consultation``)."""
    return check_consultation(
        session,
        actor=actor,
        consultation=session.get(Consultation, consultation_id),
        action=action,
        consultation_id=consultation_id,
    )


def doctor_may_see_patient(session: Session, *, patient_id: uuid.UUID) -> bool:
    """Doctors see the profiles of patients who have consulted."""
    return bool(session.scalar(select(exists().where(Consultation.patient_id == patient_id))))


def check_patient(session: Session, *, actor: User, patient_id: uuid.UUID, action: str) -> None:
    """Pass if ``actor`` may read this patient's clinical data (the patient, or a doctor the
    patient has consulted); otherwise 404 (403 to an admin), audited."""
    allowed = (actor.role is Role.patient and actor.id == patient_id) or (
        actor.role is Role.doctor and doctor_may_see_patient(session, patient_id=patient_id)
    )
    if allowed:
        return
    _refuse_record(
        session,
        actor=actor,
        action=action,
        not_found=_("Patient not found."),
        **audit_service.patient_record(patient_id),
    )


def check_own(
    session: Session,
    *,
    actor: User,
    owner_id: uuid.UUID | None,
    action: str,
    record_type: str,
    record_id: uuid.UUID,
    not_found: str,
) -> None:
    """Pass if ``actor`` owns the record (``owner_id`` None: there is none); otherwise 404,
    audited. For records that are nobody else's business, whatever the role (notices)."""
    if owner_id is not None and owner_id == actor.id:
        return
    _audit_denial(session, actor=actor, action=action, record_type=record_type, record_id=record_id)
    raise NotFound(not_found)
