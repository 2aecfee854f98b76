"""Factories: keyword-only, they flush and never commit."""

from __future__ import annotations

import secrets
from functools import lru_cache

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts import passwords
from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, User
from medconsult.auth import CSRF_COOKIE, _signed, session_cookie_name
from medconsult.config import get_settings
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.patients import service as patients_service

DEFAULT_PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def _default_hash() -> str:
    # argon2id is deliberately slow; hash the shared test password once.
    return passwords.hash_password(DEFAULT_PASSWORD)


def create_user(
    session: Session,
    *,
    role: Role = Role.patient,
    email: str | None = None,
    full_name: str = "Test User",
    active: bool = True,
) -> User:
    user = User(
        email=email or f"{role.value}-{secrets.token_hex(4)}@example.org",
        password_hash=_default_hash(),
        role=role,
        full_name=full_name,
        is_active=active,
    )
    session.add(user)
    session.flush()
    if role is Role.patient:
        patients_service.ensure_profile(session, user=user)
    return user


def create_patient(session: Session, *, full_name: str = "Ada Patient", **kwargs: object) -> User:
    return create_user(session, role=Role.patient, full_name=full_name, **kwargs)  # type: ignore[arg-type]


def create_doctor(session: Session, *, full_name: str = "Dr Grey", **kwargs: object) -> User:
    return create_user(session, role=Role.doctor, full_name=full_name, **kwargs)  # type: ignore[arg-type]


def create_admin(session: Session, *, full_name: str = "Alex Admin", **kwargs: object) -> User:
    return create_user(session, role=Role.admin, full_name=full_name, **kwargs)  # type: ignore[arg-type]


def create_consultation(
    session: Session,
    *,
    patient: User,
    chief_complaint: str = "Cough and fever",
    history: str = "I have had a fever and a dry cough for three days.",
    status: ConsultationStatus = ConsultationStatus.awaiting_review,
    doctor: User | None = None,
) -> Consultation:
    consultation = Consultation(
        patient_id=patient.id,
        chief_complaint=chief_complaint,
        history=history,
        status=status,
        ai_consent=True,
        doctor_id=doctor.id if doctor else None,
    )
    session.add(consultation)
    session.flush()
    return consultation


def login(client: TestClient, session: Session, user: User) -> str:
    """Sign ``user`` in on ``client`` (cookie session) and return the CSRF token to send."""
    token = accounts_service.start_session(session, user=user, settings=get_settings())
    client.cookies.set(session_cookie_name(get_settings()), token)
    return csrf(client)


def csrf(client: TestClient) -> str:
    """Give the client a CSRF cookie (as a page view would) and return the matching token."""
    value = client.cookies.get(CSRF_COOKIE)
    if not value:
        value = secrets.token_urlsafe(32)
        client.cookies.set(CSRF_COOKIE, value)
    return _signed(value)
