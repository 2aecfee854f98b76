"""``medconsult audit verify``: exit 0 when intact, 1 naming the first broken event."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from medconsult.audit import service as audit_service
from medconsult.audit.commands import verify_and_report
from medconsult.cli import main
from tests import factories


class TestVerifyCommand:
    def test_intact_trail_exits_zero(self, session: Session) -> None:
        admin = factories.create_admin(session)
        audit_service.record(session, actor=admin, action="test.one")
        out = io.StringIO()

        status = verify_and_report(session, out=out)

        assert status == 0
        assert "intact" in out.getvalue()

    def test_tampered_trail_exits_one_with_the_event(self, session: Session) -> None:
        admin = factories.create_admin(session)
        first = audit_service.record(session, actor=admin, action="test.one")
        audit_service.record(session, actor=admin, action="test.two")
        audit_service.seal_all(session)
        session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(
            text("UPDATE audit_events SET outcome = 'denied' WHERE id = :id"), {"id": first.id}
        )
        session.expire_all()
        out = io.StringIO()

        status = verify_and_report(session, out=out)

        assert status == 1
        assert f"seq {first.seq}" in out.getvalue()
        assert str(first.id) in out.getvalue()

    def test_cli_runs_against_the_configured_database(
        self, engine: Engine, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status = main(["audit", "verify"])

        assert status == 0
        assert "Audit trail intact" in capsys.readouterr().out
