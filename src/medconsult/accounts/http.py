"""Request helpers shared by the sign-in pages and the accounts API."""

from __future__ import annotations

from typing import TypedDict

from fastapi import Request
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import User
from medconsult.config import Settings, get_settings


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class SignInContext(TypedDict):
    """What every throttled sign-in step (password, second factor) is given besides its input:
    where the attempt comes from, and the settings that set its limits."""

    client_address: str
    settings: Settings


def sign_in_context(request: Request) -> SignInContext:
    return {"client_address": client_address(request), "settings": get_settings()}


def start_session(request: Request, session: Session, *, user: User, settings: Settings) -> str:
    """A new signed-in session for ``user`` from this request's client; its cookie token."""
    return accounts_service.start_session(
        session,
        user=user,
        settings=settings,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
