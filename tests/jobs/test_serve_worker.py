"""``medconsult serve`` with its worker in a child process (the default), as a real server.

One server on the workers' own database and the tiny real model:
- a patient's submission is analysed by the child process, and ``/metrics`` (served by the web
  process) shows the child's batch sizes and its loaded model (multi-process metrics);
- a child killed with SIGKILL is started again, and the new one analyses the next submission;
- SIGTERM to the server stops the child too and removes the shared metrics directory.
And ``medconsult worker --exit-with-parent`` stops once the process that started it is gone.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.jobs.processes import wait_for

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition: Callable[[], bool], what: str, log: Path) -> None:
    wait_for(condition, what, lambda: log.read_text(errors="replace")[-4000:])


class Server:
    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid)

    def metrics(self) -> str:
        return httpx.get(f"{self.base_url}/metrics", timeout=10).text


@pytest.fixture
def server(worker_database_url: str, tiny_model_dir: Path, tmp_path: Path) -> Iterator[Server]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"} | {
        "MEDCONSULT_DATABASE_URL": worker_database_url,
        "MEDCONSULT_MODEL_DIR": str(tiny_model_dir),
        "MEDCONSULT_ENV": "testing",
        "MEDCONSULT_RUN_WORKER_IN_SERVE": "true",
        "MEDCONSULT_SERVE_WORKER_MODE": "process",
        "TMPDIR": str(tmp_path),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "medconsult.cli", "serve", "--no-migrate", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    started = Server(process, f"http://127.0.0.1:{port}", log)

    def ready() -> bool:
        try:
            return httpx.get(f"{started.base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait_for(ready, "the server", log)
        yield started
    finally:
        if process.poll() is None:
            for child in started.worker_pids():
                os.kill(child, signal.SIGKILL)
            process.kill()
            process.wait()


@pytest.fixture
def committed(worker_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=worker_engine, expire_on_commit=False)


def _patient_client(server: Server, committed: sessionmaker[Session]) -> httpx.Client:
    email = f"serve-{uuid.uuid4().hex[:10]}@example.org"
    with committed() as session, session.begin():
        factories.create_user(session, email=email)
    client = httpx.Client(base_url=server.base_url, timeout=30)
    answer = client.post(
        "/api/v1/auth/login", json={"email": email, "password": factories.DEFAULT_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    client.headers["authorization"] = f"Bearer {answer.json()['token']}"
    return client


def _submit_and_wait(client: httpx.Client, server: Server) -> dict[str, object]:
    answer = client.post(
        "/api/v1/consultations",
        data={
            "chief_complaint": "Cough",
            "history": "A dry cough and a mild fever for four days, worse at night.",
            "ai_consent": "true",
        },
    )
    assert answer.status_code == 201, answer.text
    consultation_id = answer.json()["id"]
    found: dict[str, object] = {}

    def analysed() -> bool:
        body = client.get(f"/api/v1/consultations/{consultation_id}").json()
        found.update(body)
        return body.get("suggestion") is not None

    _wait_for(analysed, "the analysis", server.log)
    return found


def _sample(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


class TestServeWorkerProcess:
    def test_analyses_in_a_child_restarted_after_a_kill_stopped_with_the_server(
        self, server: Server, committed: sessionmaker[Session], tiny_model_dir: Path
    ) -> None:
        _wait_for(lambda: len(server.worker_pids()) == 1, "the worker process", server.log)
        (first,) = server.worker_pids()
        client = _patient_client(server, committed)

        suggestion = _submit_and_wait(client, server)

        assert suggestion["status"] == "awaiting_review"
        metrics = server.metrics()
        # Observed in the child, served by the web process.
        assert _sample(metrics, "medconsult_inference_batch_size_count") >= 1
        assert _sample(metrics, "medconsult_submit_to_suggestion_seconds_count") >= 1
        assert f'medconsult_model_loaded{{version="{tiny_model_dir.name}"}} 1.0' in metrics

        os.kill(first, signal.SIGKILL)
        _wait_for(
            lambda: len(server.worker_pids()) == 1 and server.worker_pids()[0] != first,
            "a new worker process",
            server.log,
        )
        assert "the analysis worker exited" in server.log.read_text()
        (second,) = server.worker_pids()

        _submit_and_wait(client, server)

        # The killed child's loaded-model gauge is gone; the new child's counts once.
        assert f'medconsult_model_loaded{{version="{tiny_model_dir.name}"}} 1.0' in (
            server.metrics()
        )
        metrics_dirs = list(Path(server.log.parent).glob("medconsult-metrics-*"))
        assert len(metrics_dirs) == 1
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
        assert not _running(second)
        assert not metrics_dirs[0].exists()


class TestExitWithParent:
    def test_worker_stops_when_its_parent_is_killed(
        self, worker_database_url: str, tiny_model_dir: Path
    ) -> None:
        env = os.environ | {
            "MEDCONSULT_DATABASE_URL": worker_database_url,
            "MEDCONSULT_MODEL_DIR": str(tiny_model_dir),
            "MEDCONSULT_ENV": "testing",
        }
        worker = [sys.executable, "-m", "medconsult.cli", "worker", "--exit-with-parent"]
        parent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import subprocess, sys, time\n"
                f"child = subprocess.Popen({worker!r})\n"
                "print(child.pid, flush=True)\n"
                "time.sleep(600)\n",
            ],
            env=env,
            stdout=subprocess.PIPE,
        )
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        try:
            time.sleep(3)  # the child is up and watching
            assert _running(child)

            parent.kill()
            parent.wait()

            deadline = time.monotonic() + 60
            while _running(child) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert not _running(child)
        finally:
            if _running(child):
                os.kill(child, signal.SIGKILL)
