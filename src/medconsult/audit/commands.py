"""``medconsult audit verify``: recompute the audit hash chain and report the first break."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from sqlalchemy.orm import Session

from medconsult.audit import service as audit_service


def verify_and_report(session: Session, *, out: TextIO) -> int:
    """Verify the chain; print the outcome; 0 when intact, 1 naming the first broken event."""
    report = audit_service.verify_chain(session)
    if report.ok:
        pending = f" ({report.pending} recorded since, not sealed yet)" if report.pending else ""
        print(f"Audit trail intact: {report.checked} events checked{pending}.", file=out)
        return 0
    print(
        f"Audit trail BROKEN at seq {report.broken_seq} (event {report.broken_id}): "
        f"{report.reason}. {report.checked} events before it are intact.",
        file=out,
    )
    return 1


def _verify(args: argparse.Namespace) -> int:
    from medconsult.db import session_factory

    factory = session_factory()
    with factory() as session, session.begin():
        sealed = audit_service.seal_all(session)
    if sealed:
        print(f"Sealed {sealed} pending events into the chain.", file=sys.stdout)
    with factory() as session:
        # Read-only: a repeatable-read snapshot so events appended meanwhile cannot look broken.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            return verify_and_report(session, out=sys.stdout)
        finally:
            session.rollback()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the hash chain; exit 1 naming the first broken event"
    )
    verify.set_defaults(func=_verify)
