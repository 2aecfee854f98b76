"""/metrics: latency per route template, the analysis queue and the pool; only for the
configured addresses or the token."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.config import get_settings
from medconsult.logs import JsonFormatter
from tests import factories


@pytest.fixture
def metrics_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MEDCONSULT_METRICS_TOKEN", "scrape-secret-123")
    get_settings.cache_clear()
    yield "scrape-secret-123"
    get_settings.cache_clear()


class TestAccess:
    def test_unknown_address_without_token_gets_404(self, client: TestClient) -> None:
        response = client.get("/metrics")

        assert response.status_code == 404
        assert "medconsult_" not in response.text

    def test_wrong_token_gets_404(self, client: TestClient, metrics_token: str) -> None:
        response = client.get("/metrics", headers={"Authorization": "Bearer not-it"})

        assert response.status_code == 404


class TestContent:
    def test_route_latency_queue_and_pool(
        self, client: TestClient, session: Session, metrics_token: str
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_analysis_job(
            session, consultation=consultation, status=factories.JobStatus.queued
        )
        session.commit()
        client.get("/login")
        client.get(f"/consultations/{consultation.id}")

        response = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})

        body = response.text
        assert response.status_code == 200
        assert 'route="/login"' in body
        assert 'route="/consultations/{consultation_id}"' in body  # templates, not ids
        assert str(consultation.id) not in body
        assert "medconsult_analysis_queue_depth" in body
        assert "medconsult_analysis_queue_oldest_age_seconds" in body
        assert 'medconsult_db_pool_connections{state="in_use"}' in body
        assert "medconsult_inference_batch_size" in body
        assert "medconsult_submit_to_suggestion_seconds" in body


class TestJsonLogs:
    def test_one_json_object_per_record(self) -> None:
        record = logging.LogRecord(
            "medconsult.x", logging.INFO, __file__, 1, "hello %s", ("w",), None
        )

        line = JsonFormatter().format(record)

        assert json.loads(line)["message"] == "hello w"
        assert json.loads(line)["level"] == "INFO"
