"""Download responses shared by the records pages and the records API."""

from __future__ import annotations

import uuid

from fastapi.responses import Response
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.records import service


def pdf_response(filename: str, data: bytes) -> Response:
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def zip_response(data: bytes) -> Response:
    return Response(
        content=data,
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="medconsult-my-data.zip"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def report_response(session: Session, *, actor: User, consultation_id: uuid.UUID) -> Response:
    """One consultation's printable report as a PDF download (checked and audited)."""
    filename, data = service.consultation_report(
        session, actor=actor, consultation_id=consultation_id
    )
    return pdf_response(filename, data)
