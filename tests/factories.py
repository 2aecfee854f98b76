"""Factories: keyword-only, they flush and never commit."""

from __future__ import annotations

import secrets
from functools import lru_cache

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts import passwords
from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, User
from medconsult.auth import CSRF_COOKIE, session_cookie_name, signed_csrf_token
from medconsult.config import get_settings
from medconsult.consultations.models import URGENCY_RANK, Consultation, ConsultationStatus, Urgency
from medconsult.diagnosis.models import AISuggestion
from medconsult.jobs.models import AnalysisJob, JobStatus
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
    return signed_csrf_token(value, client.cookies.get(session_cookie_name(get_settings())))


# --- AI suggestions and analysis jobs (doctor review) -------------------------------------------

DEFAULT_ANALYSED_TEXT = "I have had a high fever, body aches and a dry cough for three days."


def create_suggestion(
    session: Session,
    *,
    consultation: Consultation,
    ranked: list[dict[str, object]] | None = None,
    analysed_text: str = DEFAULT_ANALYSED_TEXT,
    evidence: list[dict[str, object]] | None = None,
    red_flags: list[dict[str, object]] | None = None,
    urgency: str = "routine",
    abstained: bool = False,
    abstain_reasons: list[str] | None = None,
    ood_score: float | None = 0.1,
    model_version: str = "test-model-2026-01-01",
) -> AISuggestion:
    """A current AI suggestion; like the pipeline, it copies its urgency onto the consultation."""
    if ranked is None:
        ranked = [
            {"label": key, "display_name": name, "icd10": code, "probability": probability}
            for key, name, code, probability in (
                ("pneumonia", "Pneumonia", "J18.9", 0.62),
                ("common_cold", "Common cold", "J00", 0.25),
                ("bronchial_asthma", "Bronchial asthma", "J45.9", 0.13),
            )
        ]
    if evidence is None:
        evidence = [
            {"start": start, "end": start + len(word), "text": word, "score": 0.5}
            for word in ("fever", "dry cough")
            if (start := analysed_text.find(word)) >= 0
        ]
    suggestion = AISuggestion(
        consultation_id=consultation.id,
        model_version=model_version,
        ranked=ranked,
        top1_label=str(ranked[0]["label"]) if ranked else None,
        top1_probability=float(ranked[0]["probability"]) if ranked else None,  # type: ignore[arg-type]
        urgency=urgency,
        abstained=abstained,
        abstain_reasons=abstain_reasons or [],
        ood_score=ood_score,
        evidence=evidence,
        red_flags=red_flags or [],
        analysed_text=analysed_text,
        is_current=True,
    )
    session.add(suggestion)
    consultation.urgency = Urgency(urgency)
    consultation.urgency_rank = URGENCY_RANK[Urgency(urgency)]
    session.flush()
    return suggestion


def create_analysis_job(
    session: Session, *, consultation: Consultation, status: JobStatus = JobStatus.succeeded
) -> AnalysisJob:
    job = AnalysisJob(consultation_id=consultation.id, status=status)
    session.add(job)
    session.flush()
    return job


# --- Admin console: signed reviews and model artifacts -------------------------------------------


def create_signed_review(
    session: Session,
    *,
    consultation: Consultation,
    doctor: User,
    final_label: str | None,
    final_diagnosis: str = "",
    suggestion: AISuggestion | None = None,
    amends: object | None = None,
    signed_at: object | None = None,
) -> object:
    """A signed doctor review (decision ``modify``), optionally amending an earlier one."""
    from medconsult.db import utcnow
    from medconsult.review.models import Decision, DoctorReview

    review = DoctorReview(
        consultation_id=consultation.id,
        doctor_id=doctor.id,
        suggestion_id=suggestion.id if suggestion else None,
        decision=Decision.modify,
        final_label=final_label,
        final_diagnosis=final_diagnosis or (final_label or "Other"),
        signed_at=signed_at or utcnow(),
        amends_id=getattr(amends, "id", None),
    )
    session.add(review)
    consultation.status = ConsultationStatus.concluded
    session.flush()
    return review


def write_minimal_artifact(
    root: object, version: str, *, accuracy: float = 0.8, labels: tuple[str, ...] = ()
) -> object:
    """A complete model artifact directory as ``ml.artifacts.validate_artifact`` checks it.

    The weights file is a placeholder: enough for the registry and the admin console, which
    never load weights (the worker does, and is tested with real tiny models).
    """
    import json
    from pathlib import Path

    from medconsult.ml.labels import all_labels

    keys = labels or tuple(label.key for label in all_labels())
    directory = Path(str(root)) / version
    directory.mkdir(parents=True)
    files = {
        "config.json": {"id2label": {str(i): key for i, key in enumerate(keys)}},
        "labels.json": {"schema_version": 1, "labels": [{"key": key} for key in keys]},
        "tokenizer_config.json": {},
        "training_args.json": {"created_at": "2026-01-01T00:00:00+00:00", "base_model": "tiny"},
        "metrics.json": {
            "validation": {"accuracy": accuracy, "top3_accuracy": 0.95, "macro_f1": 0.7},
            "baseline_tfidf_logreg": {"accuracy": 0.75},
        },
        "calibration.json": {"temperature": 1.5, "threshold": 0.3},
    }
    for name, document in files.items():
        (directory / name).write_text(json.dumps(document), encoding="utf-8")
    (directory / "model.safetensors").write_bytes(b"placeholder")
    (directory / "README.md").write_text(
        f"---\nlicense: other\n---\n# Model card {version}\n\n<script>alert(1)</script>\n",
        encoding="utf-8",
    )
    return directory


# --- Two-step sign-in ----------------------------------------------------------------------------


def enable_mfa(session: Session, *, user: User) -> tuple[str, list[str]]:
    """Turn TOTP on for ``user`` (as if enrolled, no code used yet); (secret, recovery codes)."""
    import pyotp

    from medconsult.accounts import mfa
    from medconsult.accounts.models import MfaCredential
    from medconsult.db import utcnow

    secret = pyotp.random_base32()
    session.add(MfaCredential(user_id=user.id, secret=secret, confirmed_at=utcnow()))
    session.flush()
    return secret, mfa._new_recovery_codes(session, user=user)
