"""Model registry (torch-free): which model version is active, what is on disk, switching.

The worker resolves ``active_model_dir(session)`` for every job and caches loaded models per
directory, so activating another version takes effect on the next analysis without a restart
while analyses already running finish on the model they started with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.audit import service as audit_service
from medconsult.config import get_settings
from medconsult.db import utcnow
from medconsult.diagnosis.models import ModelVersion
from medconsult.errors import NotFound, ValidationFailed
from medconsult.i18n import _

if TYPE_CHECKING:
    from medconsult.accounts.models import User
    from medconsult.ml.artifacts import ArtifactInfo

# A version is an artifact directory's name: never a path.
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# Model cards are a few kilobytes; a bigger README is shown cut, never read whole into a page.
MAX_CARD_CHARS = 100_000


def artifacts_root() -> Path:
    """Read at call time so a changed setting (or a test's) applies without a restart."""
    return get_settings().artifacts_dir


def active_version(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.is_active))


def active_model_dir(session: Session) -> Path | None:
    """The directory the worker should load: the registry's active version, else the newest.

    ``MEDCONSULT_MODEL_DIR`` pins a directory and overrides the registry.
    """
    from medconsult.ml import artifacts
    from medconsult.ml.errors import ArtifactError

    settings = get_settings()
    if settings.model_dir is not None:
        return settings.model_dir if settings.model_dir.exists() else None
    version = active_version(session)
    if version is not None and Path(version.path).exists():
        return Path(version.path)
    try:
        return artifacts.resolve_default_model_dir(settings)
    except ArtifactError:
        return None


def model_status(session: Session) -> dict[str, Any]:
    path = active_model_dir(session)
    return {"available": path is not None, "version": path.name if path else None}


@dataclass(frozen=True)
class ModelEntry:
    """One model version as the admin console shows it: on disk, in the registry, or both."""

    version: str
    path: Path
    info: ArtifactInfo | None  # None when the directory is gone or no longer valid
    is_active: bool
    activated_at: datetime | None
    registered: bool

    @property
    def on_disk(self) -> bool:
        return self.info is not None


def list_models(session: Session, *, root: Path | None = None) -> list[ModelEntry]:
    """Every complete artifact under the root plus every registered version, newest first."""
    from medconsult.ml import artifacts

    on_disk = {info.version: info for info in artifacts.list_artifacts(root or artifacts_root())}
    registered = {row.version: row for row in session.scalars(select(ModelVersion))}
    entries = []
    for version in on_disk.keys() | registered.keys():
        info = on_disk.get(version)
        row = registered.get(version)
        entries.append(
            ModelEntry(
                version=version,
                path=info.path if info else Path(row.path if row else ""),
                info=info,
                is_active=bool(row and row.is_active),
                activated_at=row.activated_at if row else None,
                registered=row is not None,
            )
        )
    entries.sort(
        key=lambda e: (e.info.created_at.timestamp() if e.info else 0.0, e.version), reverse=True
    )
    return entries


def sync_from_disk(session: Session, *, root: Path | None = None) -> list[ModelVersion]:
    """Register every complete artifact under the root that the registry does not know yet."""
    from medconsult.ml import artifacts

    known = set(session.scalars(select(ModelVersion.version)))
    added = []
    for info in artifacts.list_artifacts(root or artifacts_root()):
        if info.version in known:
            continue
        row = ModelVersion(version=info.version, path=str(info.path.resolve()))
        session.add(row)
        added.append(row)
    session.flush()
    return added


def resolve_version_dir(version: str, *, root: Path | None = None) -> Path:
    """The artifact directory of ``version`` under the root; refuses anything path-like."""
    if not _VERSION_NAME.fullmatch(version or "") or ".." in version:
        raise ValidationFailed({"version": _("Choose a model version from the list.")})
    directory = (root or artifacts_root()) / version
    if not directory.is_dir():
        raise NotFound(_("Model version {version} was not found.").format(version=version))
    return directory


def activate(session: Session, *, actor: User | None, version_dir: Path) -> ModelVersion:
    """Make a complete artifact directory the active model (audited); the old one steps down."""
    from medconsult.ml import artifacts
    from medconsult.ml.errors import ArtifactError

    try:
        info = artifacts.read_artifact_info(version_dir)
    except ArtifactError as exc:
        raise ValidationFailed({"version": str(exc)}) from exc
    # Lock every registry row so two admins switching at once are applied one after the other.
    rows = {row.version: row for row in session.scalars(select(ModelVersion).with_for_update())}
    previous = next((row for row in rows.values() if row.is_active), None)
    target = rows.get(info.version)
    if target is None:
        target = ModelVersion(version=info.version, path=str(info.path.resolve()))
        session.add(target)
    else:
        target.path = str(info.path.resolve())
    if previous is not None and previous is not target:
        # The partial unique index allows one active row: step down first, then step up.
        previous.is_active = False
        session.flush()
    target.is_active = True
    target.activated_at = utcnow()
    target.activated_by_id = actor.id if actor is not None else None
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="model.activated",
        record_type="model_version",
        record_id=target.id,
        details={
            "version": target.version,
            "previous_version": previous.version if previous is not None else None,
        },
    )
    return target


def activate_version(
    session: Session, *, actor: User | None, version: str, root: Path | None = None
) -> ModelVersion:
    """Activate the artifact named ``version`` under the artifacts root."""
    return activate(session, actor=actor, version_dir=resolve_version_dir(version, root=root))


def get_entry(session: Session, *, version: str, root: Path | None = None) -> ModelEntry:
    for entry in list_models(session, root=root):
        if entry.version == version:
            return entry
    raise NotFound(_("Model version {version} was not found.").format(version=version))


def read_card(entry: ModelEntry) -> str:
    """The artifact's model card (README.md) as plain text, bounded in size."""
    if entry.info is None:
        return ""
    try:
        with entry.info.card_path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_CARD_CHARS)
    except OSError:
        return ""
