"""Deployment files: the compose file parses and the Dockerfile passes hadolint.

No Docker engine runs here, so these are static checks of what a deployment would use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return found


class TestComposeFile:
    def test_parses_with_db_healthcheck_and_volume(self) -> None:
        env = {**os.environ, "MEDCONSULT_SECRET_KEY": "k" * 40}

        result = subprocess.run(
            [_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

        assert result.returncode == 0, result.stderr
        assert "healthcheck" in result.stdout
        assert "pgdata" in result.stdout
        assert "MEDCONSULT_DATABASE_URL" in result.stdout

    def test_refuses_to_start_without_a_secret_key(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "MEDCONSULT_SECRET_KEY"}

        result = subprocess.run(
            [_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

        assert result.returncode != 0
        assert "MEDCONSULT_SECRET_KEY" in result.stderr


class TestDockerfile:
    def test_passes_hadolint(self) -> None:
        result = subprocess.run(
            [_tool("hadolint"), str(ROOT / "Dockerfile")],
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert result.returncode == 0, result.stdout + result.stderr


class TestSettings:
    def test_production_refuses_development_secret(self) -> None:
        from pydantic import ValidationError

        from medconsult.config import Settings

        with pytest.raises(ValidationError, match="MEDCONSULT_SECRET_KEY"):
            Settings(env="production")

    def test_production_uses_secure_host_cookie(self) -> None:
        from pydantic import SecretStr

        from medconsult.auth import session_cookie_name
        from medconsult.config import Settings

        settings = Settings(env="production", secret_key=SecretStr("s" * 40))

        assert settings.secure_cookies
        assert session_cookie_name(settings) == "__Host-medconsult_session"
