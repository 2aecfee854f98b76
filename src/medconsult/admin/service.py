"""Admin console services: accounts, sessions and the audit trail, on top of the domain services.

Admins manage accounts and oversee the model; they do not read clinical text. Nothing here
returns a consultation's history or a review's notes (the de-identified retraining export in
``admin.feedback`` is the one documented exception).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, User, UserSession
from medconsult.audit import service as audit_service
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.db import utcnow
from medconsult.errors import ValidationFailed
from medconsult.i18n import _

# Admins create staff accounts here; patients register themselves.
STAFF_ROLES = (Role.doctor, Role.admin)
PAGE_SIZE = 50
MAX_PAGE = 10_000


# --- accounts --------------------------------------------------------------------------------


def create_staff_account(
    session: Session, *, actor: User, email: str, role: Role, full_name: str = ""
) -> tuple[User, str]:
    """Create a doctor or admin account; returns it with a one-time set-password token."""
    if role not in STAFF_ROLES:
        raise ValidationFailed({"role": _("Choose doctor or administrator.")})
    user, token = accounts_service.create_user(
        session, actor=actor, email=email, role=role, full_name=full_name
    )
    assert token is not None  # no password given: create_user always issues a link
    return user, token


def set_active(session: Session, *, actor: User, user_id: uuid.UUID, active: bool) -> User:
    """Deactivate (every session of the user ends at once) or reactivate an account."""
    return accounts_service.set_active(session, actor=actor, user_id=user_id, active=active)


def set_role(session: Session, *, actor: User, user_id: uuid.UUID, role: Role) -> User:
    """Change a role; the last active administrator keeps theirs."""
    return accounts_service.set_role(session, actor=actor, user_id=user_id, role=role)


def reset_password(session: Session, *, actor: User, user_id: uuid.UUID) -> str:
    """End the user's sessions, disable the old password and issue a one-time link."""
    return accounts_service.reset_password(session, actor=actor, user_id=user_id)


def end_session(
    session: Session, *, actor: User, user_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    accounts_service.end_session_by_id(session, actor=actor, user_id=user_id, session_id=session_id)


def live_sessions(session: Session, *, user_id: uuid.UUID) -> Sequence[UserSession]:
    """The user's sessions that have not expired (expired rows go on their next use)."""
    now = utcnow()
    return [
        row
        for row in accounts_service.list_sessions(session, user_id=user_id)
        if row.expires_at > now
    ]


def session_counts(session: Session, *, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Unexpired sessions per user, for one page of the account list."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(UserSession.user_id, func.count().label("n"))
        .where(UserSession.user_id.in_(user_ids), UserSession.expires_at > utcnow())
        .group_by(UserSession.user_id)
    )
    return {row.user_id: row.n for row in rows}


def role_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(User.role, func.count()).where(User.is_active).group_by(User.role)
    ).all()
    return {str(role): count for role, count in rows}


# --- audit trail -----------------------------------------------------------------------------


class AuditQuery(BaseModel):
    """The audit viewer's filter as typed by the admin (query parameters), before validation."""

    model_config = ConfigDict(frozen=True)

    actor: Annotated[str, Field(max_length=254)] = ""
    patient: Annotated[str, Field(max_length=254)] = ""
    action: Annotated[str, Field(max_length=100)] = ""
    outcome: Annotated[str, Field(max_length=20)] = ""
    since: Annotated[str, Field(max_length=10)] = ""
    until: Annotated[str, Field(max_length=10)] = ""

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}


def _user_ref(session: Session, raw: str, *, field: str) -> uuid.UUID:
    """A user named by id or email address."""
    raw = raw.strip()
    try:
        return uuid.UUID(raw)
    except ValueError:
        pass
    user = accounts_service.get_user_by_email(session, raw[:254])
    if user is None:
        raise ValidationFailed({field: _("No account with this id or email address.")})
    return user.id


def _day(raw: str, *, field: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(raw.strip()), time.min, tzinfo=UTC)
    except ValueError:
        raise ValidationFailed({field: _("Enter a date as YYYY-MM-DD.")}) from None


def parse_audit_query(session: Session, query: AuditQuery) -> audit_service.AuditFilter:
    """Validate the viewer's filter; raises ValidationFailed naming each bad field."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    for field, parse in (
        ("actor", lambda raw: _user_ref(session, raw, field="actor")),
        ("patient", lambda raw: _user_ref(session, raw, field="patient")),
        ("since", lambda raw: _day(raw, field="since")),
        # "until" names a day: include all of it.
        ("until", lambda raw: _day(raw, field="until") + timedelta(days=1)),
    ):
        raw = getattr(query, field)
        if raw.strip():
            try:
                values[field] = parse(raw)
            except ValidationFailed as exc:
                errors.update(exc.errors)
    if query.outcome:
        try:
            values["outcome"] = Outcome(query.outcome)
        except ValueError:
            errors["outcome"] = _("Choose an outcome from the list.")
    action = query.action.strip()
    if len(action) > 100:
        errors["action"] = _("An action is at most 100 characters.")
    if errors:
        raise ValidationFailed(errors)
    return audit_service.AuditFilter(
        actor_id=values.get("actor"),  # type: ignore[arg-type]
        patient_id=values.get("patient"),  # type: ignore[arg-type]
        action=action or None,
        outcome=values.get("outcome"),  # type: ignore[arg-type]
        since=values.get("since"),  # type: ignore[arg-type]
        until=values.get("until"),  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class AuditPage:
    events: Sequence[AuditEvent]
    total: int
    page: int
    pages: int
    actor_emails: dict[uuid.UUID, str]


def audit_page(session: Session, *, flt: audit_service.AuditFilter, page: int = 1) -> AuditPage:
    """One page of matching events, newest first, with the actors' email addresses."""
    page = min(max(page, 1), MAX_PAGE)
    events, total = audit_service.list_events(
        session, flt=flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    actor_ids = {event.actor_id for event in events if event.actor_id}
    emails = (
        {
            row.id: row.email
            for row in session.execute(select(User.id, User.email).where(User.id.in_(actor_ids)))
        }
        if actor_ids
        else {}
    )
    pages = max(1, -(-total // PAGE_SIZE))
    return AuditPage(events=events, total=total, page=page, pages=pages, actor_emails=emails)


AUDIT_CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "record_type",
    "record_id",
    "patient_id",
    "client_address",
    "outcome",
    "details",
    "prev_hash",
    "hash",
)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_csv_chunks(
    session: Session,
    *,
    actor: User,
    flt: audit_service.AuditFilter,
    stream_session: Callable[[], Session],
) -> Iterator[str]:
    """Record the export, then stream the matching events as CSV, oldest first.

    The rows are read after the request's unit of work has committed and closed, so the stream
    reads through a session of its own (``stream_session``), closed when the stream ends.
    """
    audit_service.record(
        session,
        actor=actor,
        action="audit.exported",
        details={"filter": {k: str(v) for k, v in flt.__dict__.items() if v is not None}},
    )

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(AUDIT_CSV_COLUMNS)
        with stream_session() as reader, reader.begin():
            for count, event in enumerate(audit_service.iter_events(reader, flt=flt), start=1):
                writer.writerow([_cell(value) for value in _audit_row(event)])
                if count % 500 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return generate()


def _audit_row(event: AuditEvent) -> list[object]:
    return [
        event.seq,
        event.occurred_at.isoformat(),
        event.actor_id,
        event.actor_role,
        event.action,
        event.record_type,
        event.record_id,
        event.patient_id,
        event.client_address,
        event.outcome,
        json.dumps(event.details, sort_keys=True),
        event.prev_hash,
        event.hash,
    ]


def verify_audit_chain(session: Session, *, actor: User) -> audit_service.ChainReport:
    """Seal what is pending, then recompute the chain (audited, with the result)."""
    audit_service.seal_all(session)
    report = audit_service.verify_chain(session)
    audit_service.record(
        session,
        actor=actor,
        action="audit.verified",
        outcome=Outcome.success if report.ok else Outcome.failure,
        details={"checked": report.checked, "broken_seq": report.broken_seq},
    )
    return report
