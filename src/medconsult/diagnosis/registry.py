"""Model registry (torch-free): which model version is active, and is it on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.config import get_settings
from medconsult.diagnosis.models import ModelVersion


def active_version(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.is_active))


def active_model_dir(session: Session) -> Path | None:
    """The directory the worker should load: the registry's active version, else the default."""
    settings = get_settings()
    if settings.model_dir is not None:
        return settings.model_dir if settings.model_dir.exists() else None
    version = active_version(session)
    if version is not None and Path(version.path).exists():
        return Path(version.path)
    from medconsult.ml import artifacts

    return artifacts.resolve_default_model_dir(settings)


def model_status(session: Session) -> dict[str, Any]:
    path = active_model_dir(session)
    return {"available": path is not None, "version": path.name if path else None}
