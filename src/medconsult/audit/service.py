"""Audit trail: record events in a hash chain, read them back, verify the chain."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from medconsult.audit.models import AuditEvent, Outcome
from medconsult.db import keep_on_rollback, utcnow

if TYPE_CHECKING:
    from medconsult.accounts.models import User
    from medconsult.consultations.models import Consultation

GENESIS_HASH = "0" * 64
# One chain for the whole trail, extended by one sealer at a time (a try-lock: a second sealer
# simply leaves the work to the first). Requests that record events never take it.
_SEAL_LOCK_KEY = 0x6D63_6175_6474  # "mcaudt"
SEAL_BATCH = 5000

# Set per request by the client-address middleware; read when recording.
client_address_var: ContextVar[str | None] = ContextVar("client_address", default=None)

# Keys that may never appear in details: secrets and clinical text stay out of the trail.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"password", "token", "secret", "history", "text", "body", "note", "advice", "complaint"}
)


def _canonical(event: AuditEvent) -> bytes:
    payload = {
        "id": str(event.id),
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_role": event.actor_role,
        "action": event.action,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "patient_id": str(event.patient_id) if event.patient_id else None,
        "client_address": event.client_address,
        "outcome": str(event.outcome),
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    outcome: Outcome = Outcome.success,
    record_type: str | None = None,
    record_id: uuid.UUID | str | None = None,
    patient_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    client_address: str | None = None,
) -> AuditEvent:
    """Append one audit event to the chain (flushes; the caller's transaction commits).

    Denials and failures are usually followed by an error that rolls the request back; they are
    kept anyway (``keep_on_rollback``), in a transaction of their own.
    """
    details = dict(details or {})
    leaked = _FORBIDDEN_DETAIL_KEYS.intersection(k.lower() for k in details)
    if leaked:
        raise ValueError(f"audit details may not contain {sorted(leaked)}")
    # Read everything now: after a rollback the actor object is expired.
    fields: dict[str, Any] = {
        "actor_id": actor.id if actor is not None else None,
        "actor_role": str(actor.role) if actor is not None else None,
        "action": action,
        "record_type": record_type,
        "record_id": str(record_id) if record_id is not None else None,
        "patient_id": patient_id,
        "client_address": client_address or client_address_var.get(),
        "outcome": outcome,
        "details": details,
    }
    appended: list[AuditEvent] = []

    def append(target: Session) -> None:
        appended.append(_append(target, fields))

    if outcome is Outcome.success:
        append(session)
    else:
        keep_on_rollback(session, append)
    return appended[0]


class Subject(TypedDict, total=False):
    """What an event is about: a record (its type and id), and the patient whose record it is."""

    record_type: str | None
    record_id: uuid.UUID | None
    patient_id: uuid.UUID | None


def patient_record(patient_id: uuid.UUID) -> Subject:
    """The subject of an event about one patient's whole record."""
    return {"record_type": "patient", "record_id": patient_id, "patient_id": patient_id}


def consultation_record(consultation: Consultation) -> Subject:
    """The subject of an event about one consultation: the consultation and its patient."""
    return {
        "record_type": "consultation",
        "record_id": consultation.id,
        "patient_id": consultation.patient_id,
    }


class Extras(TypedDict, total=False):
    """The optional fields of ``record`` that every shorthand passes on."""

    outcome: Outcome
    details: dict[str, Any] | None
    client_address: str | None


class EventExtras(Extras, total=False):
    """``Extras`` and the patient, for shorthands whose record does not name one."""

    patient_id: uuid.UUID | None


def record_consultation(
    session: Session,
    actor: User | None,
    action: str,
    consultation: Consultation,
    *,
    part: tuple[str, uuid.UUID] | None = None,
    **extras: Unpack[Extras],
) -> AuditEvent:
    """``record`` that ``actor`` (None: the system) did ``action`` on one consultation, or on one
    ``part`` of it (its record type and id: a message, a report file, a review...): the event
    names that record and the consultation's patient."""
    subject = consultation_record(consultation)
    if part is not None:
        subject["record_type"], subject["record_id"] = part
    return record(session, actor=actor, action=action, **subject, **extras)


def record_user(
    session: Session, *, actor: User | None, action: str, user: User, **extras: Unpack[EventExtras]
) -> AuditEvent:
    """``record`` an event about one user account (which need not be the actor's)."""
    return record(
        session, actor=actor, action=action, record_type="user", record_id=user.id, **extras
    )


def record_own(
    session: Session, *, user: User, action: str, **extras: Unpack[EventExtras]
) -> AuditEvent:
    """``record_user`` for a user acting on their own account."""
    return record_user(session, actor=user, action=action, user=user, **extras)


def _append(session: Session, fields: dict[str, Any]) -> AuditEvent:
    # No lock and no read of the chain's end: the sealer links the event once it is committed.
    event = AuditEvent(id=uuid.uuid4(), occurred_at=utcnow(), **fields)
    session.add(event)
    session.flush()
    return event


def seal_pending(session: Session, *, limit: int = SEAL_BATCH) -> int:
    """Link committed, unsealed events onto the end of the chain, in the order they are found
    (by seq); returns how many were sealed. The caller commits.

    Events are sealed in the order the sealer sees them committed, not strictly by ``seq``: a
    long transaction's event is sealed after later ones that committed first. ``chain_pos``
    records the chain's order and ``verify_chain`` walks it.
    """
    acquired = session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _SEAL_LOCK_KEY}
    )
    if not acquired:
        return 0  # another sealer is at work; it will take these too
    last = session.execute(
        select(AuditEvent.chain_pos, AuditEvent.hash)
        .where(AuditEvent.chain_pos.is_not(None))
        .order_by(AuditEvent.chain_pos.desc())
        .limit(1)
    ).first()
    position, prev = (last[0] or 0, last[1] or GENESIS_HASH) if last else (0, GENESIS_HASH)
    pending = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.chain_pos.is_(None))
        .order_by(AuditEvent.seq)
        .limit(limit)
    ).all()
    for event in pending:
        position += 1
        event.chain_pos = position
        event.prev_hash = prev
        event.hash = compute_hash(event)
        prev = event.hash
    session.flush()
    return len(pending)


def seal_all(session: Session) -> int:
    """Seal until nothing committed is left unsealed (the caller commits)."""
    total = 0
    while (sealed := seal_pending(session)) == SEAL_BATCH:
        total += sealed
    return total + sealed


def pending_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.chain_pos.is_(None))
        )
        or 0
    )


@dataclass(frozen=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    action: str | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Select[Any], flt: AuditFilter) -> Select[Any]:
    if flt.actor_id:
        query = query.where(AuditEvent.actor_id == flt.actor_id)
    if flt.patient_id:
        query = query.where(AuditEvent.patient_id == flt.patient_id)
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action))
    if flt.outcome:
        query = query.where(AuditEvent.outcome == flt.outcome)
    if flt.since:
        query = query.where(AuditEvent.occurred_at >= flt.since)
    if flt.until:
        query = query.where(AuditEvent.occurred_at < flt.until)
    return query


def last_details(session: Session, *, actor_id: uuid.UUID, action: str) -> dict[str, Any] | None:
    """Details of ``actor_id``'s most recent event of ``action`` (None if there is none)."""
    details: dict[str, Any] | None = session.scalar(
        select(AuditEvent.details)
        .where(AuditEvent.actor_id == actor_id, AuditEvent.action == action)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.seq.desc())
        .limit(1)
    )
    return details


def list_events(
    session: Session, *, flt: AuditFilter, limit: int = 50, offset: int = 0
) -> tuple[Sequence[AuditEvent], int]:
    """A page of events, newest first, and the total matching the filter."""
    total = session.scalar(_filtered(select(func.count()).select_from(AuditEvent), flt)) or 0
    rows = session.scalars(
        _filtered(select(AuditEvent), flt)
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def iter_events(session: Session, *, flt: AuditFilter, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every matching event in chain order, streamed in batches (CSV export)."""
    return _in_batches(
        session, _filtered(select(AuditEvent), flt), AuditEvent.seq, after=-1, batch=batch
    )


def _in_batches(
    session: Session,
    stmt: Select[AuditEvent],
    key: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
    *,
    after: int,
    batch: int,
) -> Iterator[AuditEvent]:
    """``stmt``'s events with ``key`` above ``after``, in ``key`` order, ``batch`` at a time."""
    while True:
        rows = session.scalars(stmt.where(key > after).order_by(key).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = getattr(rows[-1], key.key)
        # Keep memory flat over a long trail: a batch already read need not stay in the session.
        for row in rows:
            session.expunge(row)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: uuid.UUID | None = None
    reason: str | None = None
    pending: int = 0  # recorded but not sealed yet (the sealer runs every few seconds)


def _iter_chain(session: Session, *, batch: int = 1000) -> Iterator[AuditEvent]:
    return _in_batches(session, select(AuditEvent), AuditEvent.chain_pos, after=0, batch=batch)


def verify_chain(session: Session) -> ChainReport:
    """Recompute every sealed hash in chain order; report the first event whose link is broken."""
    expected_prev = GENESIS_HASH
    checked = 0
    pending = pending_count(session)
    for event in _iter_chain(session):
        if event.prev_hash != expected_prev:
            return ChainReport(
                False, checked, event.seq, event.id, "previous-hash link broken", pending
            )
        if compute_hash(event) != event.hash:
            return ChainReport(
                False, checked, event.seq, event.id, "event content changed", pending
            )
        expected_prev = event.hash
        checked += 1
    return ChainReport(True, checked, pending=pending)
