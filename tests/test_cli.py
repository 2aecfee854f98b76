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


class TestServeStopsTheEmbeddedDatabase:
    def test_sigterm_stops_server_and_embedded_postgres(self) -> None:
        import json
        import signal
        import socket
        import time
        import urllib.request
        import uuid
        from pathlib import Path

        data_dir = Path("/tmp") / f"medconsult-serve-{uuid.uuid4().hex[:8]}" / "pgdata"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDCONSULT_DATABASE_URL")}
        env.update(MEDCONSULT_EMBEDDED_DB_DIR=str(data_dir), MEDCONSULT_RUN_WORKER_IN_SERVE="false")
        server = subprocess.Popen(
            [sys.executable, "-m", "medconsult.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.5)
        else:
            server.kill()
            raise AssertionError(server.stdout.read() if server.stdout else "no output")

        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(timeout=60)

        assert ready["database"] == "ok"
        assert exit_code == 0
        assert json.loads((data_dir / ".handle_pids.json").read_text()) == []
        assert not (data_dir / "postmaster.pid").exists()
