"""Account schemas: what the API accepts and the only fields it exposes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medconsult.accounts.models import Role


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    full_name: str = Field(default="", max_length=200)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class SessionStarted(BaseModel):
    user: UserRead
    # For API clients: send as "Authorization: Bearer <token>" (no CSRF token needed then).
    token: str
    csrf_token: str


class MeRead(BaseModel):
    user: UserRead
    csrf_token: str


class MfaChallengeStarted(BaseModel):
    """The password was right and the account has a second factor: POST the code with this
    token to /api/v1/auth/mfa to get the session."""

    mfa_required: Literal[True] = True
    challenge_token: str
    expires_in_seconds: int


class MfaVerify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_token: str = Field(max_length=200)
    code: str = Field(max_length=64)  # a TOTP code or a recovery code


class MfaCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=64)


class MfaEnrolmentRead(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodes(BaseModel):
    # Shown once; only their hashes are stored.
    recovery_codes: list[str]
