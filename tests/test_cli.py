"""The medconsult command: create-user and bootstrap against a real, fresh database."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from medconsult.accounts.models import Role, User
from tests import db_setup


def _medconsult(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDCONSULT_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "medconsult.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


class TestBootstrapAndCreateUser:
    def test_bootstrap_creates_one_admin_then_create_user_adds_another(self) -> None:
        with db_setup.fresh_database(prefix="medconsult_cli") as url:
            first = _medconsult(url, "bootstrap", "--skip-model", "--demo")
            second = _medconsult(url, "bootstrap", "--skip-model")
            created = _medconsult(
                url,
                "create-user",
                "--role",
                "admin",
                "--email",
                "Second@Example.org",
                "--password-stdin",
                stdin="a strong passphrase\n",
            )
            weak = _medconsult(
                url,
                "create-user",
                "--role",
                "doctor",
                "--email",
                "weak@example.org",
                "--password-stdin",
                stdin="password\n",
            )
            engine = create_engine(url)
            with Session(engine) as session:
                roles = dict(
                    session.execute(select(User.role, func.count()).group_by(User.role)).all()
                )
            engine.dispose()

        assert first.returncode == 0, first.stderr
        assert "Sign in as: admin@example.org" in first.stdout
        assert "Demo doctor" in first.stdout
        assert "Demo patient" in first.stdout
        assert second.returncode == 0
        assert "Created the first admin" not in second.stdout
        assert created.returncode == 0, created.stderr
        assert weak.returncode == 2
        assert "password" in weak.stderr
        assert roles == {Role.admin: 2, Role.doctor: 1, Role.patient: 1}
