"""Orchestration probes: /healthz (process up) and /readyz (database reachable, model status)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from medconsult.diagnosis import registry

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    # No model is not "unready": consultations wait for analysis and doctors review without AI.
    try:
        with request.app.state.session_factory() as session:
            body["model"] = registry.model_status(session)
    except Exception as exc:
        body["model"] = {"available": False, "error": type(exc).__name__}
    return JSONResponse(body)
