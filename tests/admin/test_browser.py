"""The admin console in a real browser against the live server (commits for real)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from medconsult.accounts.models import Role, User
from medconsult.config import get_settings
from medconsult.diagnosis import registry
from medconsult.diagnosis.models import ModelVersion
from tests import factories

pytestmark = pytest.mark.browser


def _seed(engine: Engine, role: Role) -> User:
    with Session(engine, expire_on_commit=False) as session:
        user = factories.create_user(
            session, role=role, email=f"{role.value}-{secrets.token_hex(6)}@example.org"
        )
        session.commit()
        return user


def _sign_in(page: Any, email: str, password: str = factories.DEFAULT_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def admin_page(page: Any, engine: Engine) -> Any:
    admin = _seed(engine, Role.admin)
    _sign_in(page, admin.email)
    return page


@pytest.fixture
def second_context(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(15_000)
    yield context
    context.close()


class TestCreateDoctorAccount:
    def test_link_lets_the_doctor_set_a_password_and_sign_in(
        self, admin_page: Any, second_context: Any
    ) -> None:
        email = f"new-doctor-{secrets.token_hex(6)}@example.org"
        admin_page.goto("/admin/users/new")
        admin_page.get_by_label("Email").fill(email)
        admin_page.get_by_label("Full name").fill("Dr Browser")
        admin_page.get_by_label("Role").select_option("doctor")
        with admin_page.expect_navigation():
            admin_page.get_by_role("button", name="Create account").click()
        link = admin_page.get_by_label("Set-password link").input_value()
        doctor = second_context.new_page()
        doctor.goto(link)
        doctor.get_by_label("New password", exact=True).fill("browser chosen password 9")
        doctor.get_by_label("Repeat new password").fill("browser chosen password 9")
        with doctor.expect_navigation():
            doctor.get_by_role("button", name="Set password").click()

        _sign_in(doctor, email, "browser chosen password 9")

        doctor.get_by_role("button", name="Sign out").wait_for()
        assert "/login" not in doctor.url


class TestDeactivateUser:
    def test_their_open_session_stops_on_the_next_request(
        self, admin_page: Any, second_context: Any, engine: Engine
    ) -> None:
        doctor = _seed(engine, Role.doctor)
        doctor_page = second_context.new_page()
        _sign_in(doctor_page, doctor.email)
        assert "/login" not in doctor_page.url
        admin_page.goto(f"/admin/users/{doctor.id}")
        admin_page.get_by_role("button", name="Deactivate account").click()
        admin_page.get_by_role("status").filter(has_text="deactivated").wait_for()

        doctor_page.goto("/account/password")

        assert "/login" in doctor_page.url


@pytest.fixture
def forget_versions(engine: Engine) -> Iterator[list[str]]:
    """Versions the test registers; removed afterwards so later tests see the registry as before."""
    versions: list[str] = []
    yield versions
    with Session(engine) as session:
        session.execute(delete(ModelVersion).where(ModelVersion.version.in_(versions)))
        session.commit()


class TestSwitchActiveModel:
    def test_activating_another_version_is_served_next(
        self,
        admin_page: Any,
        engine: Engine,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        forget_versions: list[str],
    ) -> None:
        # The live server runs in this process and reads the artifacts folder at call time.
        monkeypatch.setattr(get_settings(), "artifacts_dir", tmp_path)
        monkeypatch.setattr(get_settings(), "model_dir", None)
        forget_versions.extend(["20260101T000000Z-old", "20260201T000000Z-new"])
        factories.write_minimal_artifact(tmp_path, "20260101T000000Z-old")
        factories.write_minimal_artifact(tmp_path, "20260201T000000Z-new", accuracy=0.9)
        admin_page.goto("/admin/models")
        admin_page.get_by_role("button", name="Activate 20260101T000000Z-old").click()
        admin_page.get_by_role("status").wait_for()

        admin_page.get_by_role("button", name="Activate 20260201T000000Z-new").click()
        admin_page.get_by_role("status").wait_for()

        assert admin_page.locator("#active-version").inner_text() == "20260201T000000Z-new"
        with Session(engine) as session:
            assert (
                registry.active_model_dir(session) == (tmp_path / "20260201T000000Z-new").resolve()
            )
