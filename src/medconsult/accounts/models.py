"""Accounts: users, server-side sessions, login failures, one-time password tokens, MFA."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medconsult.db import Base, Timestamped, UUIDPk


class Role(enum.StrEnum):
    patient = "patient"
    doctor = "doctor"
    admin = "admin"


class User(UUIDPk, Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Email is unique case-insensitively; the column keeps what the user typed.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
        Index("ix_users_erased_at", "erased_at", postgresql_where=text("erased_at IS NOT NULL")),
    )

    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=True))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # Display preferences: a supported locale ("en", "zh_CN") and an IANA time zone name; None
    # means "not chosen" (the browser's language, the site's default time zone).
    locale: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    last_login_at: Mapped[datetime | None]
    # Set when the patient erased the account: identifiers are gone, signed records remain
    # until the retention period ends (records/service.py).
    erased_at: Mapped[datetime | None]

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class OwnedByUser:
    """A row that belongs to one account and is deleted with it."""

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


class UserToken(OwnedByUser):
    """A secret handed to one account until ``expires_at``: only its SHA-256 is stored."""

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]


class UserSession(UUIDPk, Timestamped, UserToken, Base):
    """A login. Only the SHA-256 of the cookie token is stored."""

    __tablename__ = "user_sessions"

    last_seen_at: Mapped[datetime]
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship(back_populates="sessions")


class LoginFailure(UUIDPk, Timestamped, Base):
    """One failed login, counted per account and per client address for throttling."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_created", "email", "created_at"),
        Index("ix_login_failures_client_created", "client_address", "created_at"),
    )

    email: Mapped[str] = mapped_column(String(254))  # lower-cased
    client_address: Mapped[str] = mapped_column(String(64))


class PasswordToken(UUIDPk, Timestamped, UserToken, Base):
    """A one-time, time-limited link to set a password (new accounts, resets)."""

    __tablename__ = "password_tokens"

    used_at: Mapped[datetime | None]


class MfaCredential(UUIDPk, Timestamped, Base):
    """A user's TOTP secret (RFC 6238); usable for sign-in once ``confirmed_at`` is set."""

    __tablename__ = "mfa_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    secret: Mapped[str] = mapped_column(String(64))  # base32
    confirmed_at: Mapped[datetime | None]
    # The last accepted time step: a code is never accepted twice (RFC 6238 section 5.2).
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class MfaRecoveryCode(UUIDPk, Timestamped, OwnedByUser, Base):
    """A one-time recovery code; only its SHA-256 is stored (the code is random, 50 bits)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class MfaChallenge(UUIDPk, Timestamped, UserToken, Base):
    """A password check passed, the second factor still due: short-lived, used once."""

    __tablename__ = "mfa_challenges"
