"""The audit chain: intact when untouched, and tampering is found at the exact event."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from medconsult.audit import service as audit_service
from tests import factories


def _three_events(session: Session) -> list[object]:
    admin = factories.create_admin(session)
    events = [
        audit_service.record(session, actor=admin, action=f"test.step{i}", details={"i": i})
        for i in range(3)
    ]
    audit_service.seal_all(session)
    return events


def _bypass_append_only_trigger(session: Session) -> None:
    # Superuser only, and local to the test's transaction: replica mode skips ordinary triggers.
    session.execute(text("SET LOCAL session_replication_role = replica"))


class TestVerifyChain:
    def test_untouched_chain_is_intact(self, session: Session) -> None:
        _three_events(session)

        report = audit_service.verify_chain(session)

        assert report.ok
        assert report.checked >= 3

    def test_changed_content_is_reported_at_that_event(self, session: Session) -> None:
        events = _three_events(session)
        middle = events[1]
        _bypass_append_only_trigger(session)

        session.execute(
            text("UPDATE audit_events SET action = 'test.forged' WHERE id = :id"),
            {"id": middle.id},  # type: ignore[attr-defined]
        )
        session.expire_all()
        report = audit_service.verify_chain(session)

        assert not report.ok
        assert report.broken_id == middle.id  # type: ignore[attr-defined]
        assert report.broken_seq == middle.seq  # type: ignore[attr-defined]
        assert report.reason == "event content changed"

    def test_deleted_event_breaks_the_link_of_the_next(self, session: Session) -> None:
        events = _three_events(session)
        _bypass_append_only_trigger(session)

        session.execute(
            text("DELETE FROM audit_events WHERE id = :id"),
            {"id": events[1].id},  # type: ignore[attr-defined]
        )
        session.expire_all()
        report = audit_service.verify_chain(session)

        assert not report.ok
        assert report.broken_id == events[2].id  # type: ignore[attr-defined]
        assert report.reason == "previous-hash link broken"

    def test_rehashed_forgery_still_breaks_the_next_link(self, session: Session) -> None:
        events = _three_events(session)
        _bypass_append_only_trigger(session)

        session.execute(
            text("UPDATE audit_events SET hash = repeat('a', 64) WHERE id = :id"),
            {"id": events[1].id},  # type: ignore[attr-defined]
        )
        session.expire_all()
        report = audit_service.verify_chain(session)

        assert not report.ok
        assert report.broken_id == events[1].id  # type: ignore[attr-defined]


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_events SET action = 'x' WHERE id = :id",
            "DELETE FROM audit_events WHERE id = :id",
        ],
    )
    def test_database_refuses_changes(self, session: Session, statement: str) -> None:
        event = _three_events(session)[0]

        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(text(statement), {"id": event.id})  # type: ignore[attr-defined]


class TestSealing:
    def test_recording_takes_no_lock_and_leaves_the_event_unsealed(self, session: Session) -> None:
        admin = factories.create_admin(session)

        event = audit_service.record(session, actor=admin, action="test.unsealed")
        locks = session.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            )
        )

        assert locks == 0
        assert event.chain_pos is None
        assert event.hash is None
        assert audit_service.pending_count(session) >= 1

    def test_sealing_links_events_in_order_and_the_chain_verifies(self, session: Session) -> None:
        events = _three_events(session)

        positions = [e.chain_pos for e in events]  # type: ignore[attr-defined]
        report = audit_service.verify_chain(session)

        assert positions == sorted(positions)
        assert events[1].prev_hash == events[0].hash  # type: ignore[attr-defined]
        assert events[2].prev_hash == events[1].hash  # type: ignore[attr-defined]
        assert report.ok
        assert report.pending == 0

    def test_a_sealed_event_can_never_be_sealed_again(self, session: Session) -> None:
        event = _three_events(session)[0]

        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(
                text("UPDATE audit_events SET chain_pos = chain_pos + 100000 WHERE id = :id"),
                {"id": event.id},  # type: ignore[attr-defined]
            )

    def test_sealing_cannot_change_the_content(self, session: Session) -> None:
        admin = factories.create_admin(session)
        event = audit_service.record(session, actor=admin, action="test.honest")

        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(
                text(
                    "UPDATE audit_events SET chain_pos = 999999999, hash = 'x', "
                    "action = 'test.forged' WHERE id = :id"
                ),
                {"id": event.id},
            )

    def test_a_second_sealer_leaves_the_work_to_the_first(
        self, session: Session, engine: object
    ) -> None:
        admin = factories.create_admin(session)
        audit_service.record(session, actor=admin, action="test.one")
        audit_service.seal_pending(session)  # holds the seal lock until the test ends

        with Session(bind=engine) as other:  # type: ignore[arg-type]
            sealed = audit_service.seal_pending(other)
            other.rollback()

        assert sealed == 0
