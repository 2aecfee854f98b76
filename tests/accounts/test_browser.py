"""Two-step sign-in in a real browser against the live server (commits for real): set it up
with the QR page, then sign in with a TOTP code computed here, as an authenticator app would."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from medconsult.accounts.models import Role, User
from medconsult.db import utcnow
from tests import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def doctor(engine: Engine) -> Iterator[User]:
    """A doctor committed for the live server; removed afterwards with everything that hangs off
    the account (sessions, MFA rows), so later tests of this database see none of it."""
    with Session(engine, expire_on_commit=False) as session:
        user = factories.create_user(
            session, role=Role.doctor, email=f"mfa-doctor-{secrets.token_hex(6)}@example.org"
        )
        session.commit()
    yield user
    with Session(engine) as session:
        session.execute(delete(User).where(User.id == user.id))
        session.commit()


def _password_step(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


class TestTwoStepSignIn:
    def test_enrol_then_sign_in_with_totp(self, page: Any, doctor: User) -> None:
        _password_step(page, doctor.email)
        page.goto("/account/password")
        with page.expect_navigation():
            page.get_by_role("link", name="Two-step sign-in").click()
        assert page.locator("figure.qr svg").count() == 1
        secret = page.get_by_label("Key for manual entry").input_value()
        totp = pyotp.TOTP(secret)
        page.get_by_label("Six-digit code").fill(totp.now())
        with page.expect_navigation():
            page.get_by_role("button", name="Turn on two-step sign-in").click()
        codes = page.locator("[data-testid=recovery-codes] li").all_inner_texts()
        with page.expect_navigation():
            page.get_by_role("button", name="Sign out").click()

        _password_step(page, doctor.email)
        on_code_page = page.url
        page.get_by_label("Code from your authenticator app").fill("000000")
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()
        wrong_code_alert = page.get_by_role("alert").inner_text()
        # The next time step: the code used to enrol may not be used again.
        page.get_by_label("Code from your authenticator app").fill(
            totp.at(utcnow() + timedelta(seconds=30))
        )
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()

        assert len(codes) == 10
        assert "/login/mfa" in on_code_page
        assert "That code is not correct" in wrong_code_alert
        page.get_by_role("link", name="Review queue").wait_for()
        page.get_by_role("button", name="Sign out").wait_for()
        assert "/login" not in page.url
