"""Request helpers shared by the sign-in pages and the accounts API."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import User
from medconsult.config import Settings


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def start_session(request: Request, session: Session, *, user: User, settings: Settings) -> str:
    """A new signed-in session for ``user`` from this request's client; its cookie token."""
    return accounts_service.start_session(
        session,
        user=user,
        settings=settings,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
