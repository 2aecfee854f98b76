"""Time the admin monitoring page and every page a doctor or patient uses, at 100k consultations.

    python benchmarks/monitoring.py [--rows 100000] [--requests 100] [--server URL] [--explain]

The server defaults to MEDCONSULT_TEST_DATABASE_URL, else the local PostgreSQL. A database named
``medconsult_bench_<pid>`` is created, migrated with Alembic, filled with generate_series
(2,000 patients, 10 doctors, ``--rows`` consultations over a year, each with an analysis job and
a current suggestion, 10% with an older replaced one; 96% concluded with a signed review, 5% of
the reviews amended; the rest waiting in the queue, half of those claimed by a doctor; a notice
for every conclusion), rolled up for monitoring as the worker's sweep does, timed, and dropped.

Pages are requested through the real app (its request boundary, authentication and templates)
in this process, signed in as a patient with 50 consultations, a doctor and an admin, each
``--requests`` times in a row after a warm-up. Per page it prints p50/p95, the number of SQL
statements one request runs, and p95 as a ratio of the p95 of a signed-in page that reads no
clinical data (the change-password page), measured in the same run. The machine's load average
is printed with the figures; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

PATIENTS = 2000
DOCTORS = 10
LABEL_KEYS = [
    label["key"]
    for label in json.loads(
        (Path(__file__).resolve().parents[1] / "src/medconsult/ml/labels.json").read_text()
    )["labels"]
]
LABELS = "ARRAY[" + ",".join(f"'{key}'" for key in LABEL_KEYS) + "]"
PATIENT = "md5('p1')::uuid"

FILL_SQL = [
    f"""
    INSERT INTO users (id, email, password_hash, role, full_name, is_active, must_change_password,
                       created_at)
    SELECT md5('p' || g)::uuid, 'bench-p' || g || '@example.org', 'x', 'patient'::user_role,
           'Patient ' || g, true, false, now() - interval '400 days'
    FROM generate_series(1, {PATIENTS}) AS g
    UNION ALL
    SELECT md5('d' || g)::uuid, 'bench-d' || g || '@example.org', 'x', 'doctor'::user_role,
           'Doctor ' || g, true, false, now() - interval '400 days'
    FROM generate_series(1, {DOCTORS}) AS g
    UNION ALL
    SELECT md5('admin')::uuid, 'bench-admin@example.org', 'x', 'admin'::user_role, 'Admin', true,
           false, now() - interval '400 days'
    """,
    f"""
    INSERT INTO patient_profiles (id, user_id, full_name, sex, phone, allergies,
                                  chronic_conditions, current_medications, updated_at, created_at)
    SELECT md5('pp' || g)::uuid, md5('p' || g)::uuid, 'Patient ' || g, 'unknown', '', '', '', '',
           now(), now()
    FROM generate_series(1, {PATIENTS}) AS g
    """,
    # Every 25th consultation still waits for a doctor (every other one of those claimed).
    f"""
    INSERT INTO consultations (id, patient_id, doctor_id, status, chief_complaint, history,
                               past_history, current_medications, ai_consent, urgency_rank,
                               red_flags, submitted_at, updated_at, created_at)
    SELECT md5('c' || g)::uuid, md5('p' || (g % {PATIENTS} + 1))::uuid,
           CASE WHEN g % 25 = 0 THEN NULL ELSE md5('d' || (g % {DOCTORS} + 1))::uuid END,
           CASE WHEN g % 50 = 0 THEN 'awaiting_review'
                WHEN g % 25 = 0 THEN 'in_review' ELSE 'concluded' END::consultation_status,
           'complaint ' || g, 'I have had a cough and a fever for some days.', '', '', true,
           CASE WHEN g % 50 = 0 THEN 0 ELSE 2 END, '[]', t, t, t
    FROM generate_series(1, :rows) AS g,
         LATERAL (SELECT now() - (g % 365) * interval '1 day' - (g % 1440) * interval '1 minute')
                 AS ts(t)
    """,
    """
    UPDATE consultations SET doctor_id = md5('d1')::uuid
    WHERE status = 'in_review'
    """,
    """
    INSERT INTO analysis_jobs (id, consultation_id, status, attempts, updated_at, created_at,
                               started_at, finished_at)
    SELECT md5('j' || g)::uuid, md5('c' || g)::uuid, 'succeeded', 1, now(), t, t, t
    FROM generate_series(1, :rows) AS g,
         LATERAL (SELECT now() - (g % 365) * interval '1 day' - (g % 1440) * interval '1 minute')
                 AS ts(t)
    """,
    # An older, replaced suggestion for every 10th consultation, then the current one for all.
    f"""
    INSERT INTO ai_suggestions (id, consultation_id, model_version, ranked, top1_label,
                                top1_probability, urgency, abstained, abstain_reasons, evidence,
                                red_flags, windowed, n_windows, analysed_text, is_current,
                                created_at)
    SELECT md5('s' || g || '-' || v)::uuid, md5('c' || g)::uuid, 'bench-v' || (g % 3 + v),
           jsonb_build_array(
               jsonb_build_object('label', l[g % n + 1], 'probability', p),
               jsonb_build_object('label', l[(g + 1) % n + 1], 'probability', (1 - p) / 2),
               jsonb_build_object('label', l[(g + 2) % n + 1], 'probability', (1 - p) / 4)),
           l[g % n + 1], p,
           CASE WHEN g % 50 = 0 THEN 'emergency' ELSE 'routine' END,
           p < 0.3, '[]', '[]', '[]', false, 1, 'I have had a cough and a fever.', v = 1,
           now() - (g % 365) * interval '1 day' + v * interval '1 minute'
    FROM generate_series(1, :rows) AS g,
         LATERAL (SELECT (g % 97) / 97.0, {LABELS}, {len(LABEL_KEYS)}) AS prob(p, l, n),
         LATERAL (SELECT 1 UNION ALL SELECT 0 WHERE g % 10 = 0) AS version(v)
    """,
    f"""
    INSERT INTO doctor_reviews (id, consultation_id, doctor_id, suggestion_id, decision,
                                final_label, final_diagnosis, icd10_code, reject_reason, advice,
                                private_note, signed_at, created_at)
    SELECT md5('r' || g)::uuid, md5('c' || g)::uuid, md5('d' || (g % {DOCTORS} + 1))::uuid,
           md5('s' || g || '-1')::uuid, 'modify', l[(g + g % 4) % n + 1], 'Diagnosis', '', '',
           'Rest and drink fluids.', '', t, t
    FROM generate_series(1, :rows) AS g,
         LATERAL (SELECT {LABELS}, {len(LABEL_KEYS)}) AS labels(l, n),
         LATERAL (SELECT now() - (g % 365) * interval '1 day' + interval '2 hours') AS ts(t)
    WHERE g % 25 <> 0
    """,
    f"""
    INSERT INTO doctor_reviews (id, consultation_id, doctor_id, suggestion_id, decision,
                                final_label, final_diagnosis, icd10_code, reject_reason, advice,
                                private_note, signed_at, amends_id, created_at)
    SELECT md5('a' || g)::uuid, md5('c' || g)::uuid, md5('d' || (g % {DOCTORS} + 1))::uuid,
           md5('s' || g || '-1')::uuid, 'modify', l[g % n + 1], 'Diagnosis', '', '',
           'Rest and drink fluids.', '', t, md5('r' || g)::uuid, t
    FROM generate_series(1, :rows) AS g,
         LATERAL (SELECT {LABELS}, {len(LABEL_KEYS)}) AS labels(l, n),
         LATERAL (SELECT now() - (g % 365) * interval '1 day' + interval '3 hours') AS ts(t)
    WHERE g % 25 <> 0 AND g % 20 = 1
    """,
    f"""
    INSERT INTO notifications (id, user_id, kind, link_path, email_status, email_attempts,
                               created_at)
    SELECT md5('n' || g)::uuid, md5('p' || (g % {PATIENTS} + 1))::uuid,
           'consultation_concluded', '/consultations/' || md5('c' || g)::uuid, 'sent', 1,
           now() - (g % 365) * interval '1 day' + interval '2 hours'
    FROM generate_series(1, :rows) AS g
    WHERE g % 25 <> 0
    """,
]


class StatementCounter:
    """SQL statements run on an engine since the last ``reset``."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1
        self.statements.append(" ".join(str(args[2]).split()))

    def reset(self) -> None:
        self.count = 0
        self.statements = []


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def fill(engine: Any, rows: int) -> float:
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in FILL_SQL:
            conn.execute(text(statement), {"rows": rows})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def roll_up(engine: Any) -> float:
    """What the worker's sweep does: roll up every closed day of the last year."""
    from medconsult.monitoring import rollups

    started = time.perf_counter()
    with Session(engine) as session, session.begin():
        rollups.refresh_rollups(session)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def time_monitoring_queries(engine: Any, repeat: int) -> list[dict[str, Any]]:
    from medconsult.admin import monitoring

    results = []
    for days in monitoring.ALLOWED_WINDOWS:
        timings = []
        with Session(engine) as session:
            for _ in range(repeat):
                started = time.perf_counter()
                figures = monitoring.compute(session, days=days)
                timings.append(time.perf_counter() - started)
        print(
            f"monitoring.compute {days:>3} days: {figures.suggestions:>6} suggestions, "
            f"{figures.overall.reviewed:>6} reviews, top-1 {figures.overall.top1_rate or 0:.3f}; "
            f"median {1000 * statistics.median(timings):.0f} ms, "
            f"max {1000 * max(timings):.0f} ms over {repeat} runs (load {load_average()})"
        )
        results.append({"days": days, "median_ms": 1000 * statistics.median(timings)})
    return results


def time_pages(engine: Any, requests: int, show_statements: bool = False) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from medconsult.accounts import service as accounts_service
    from medconsult.accounts.models import User
    from medconsult.auth import session_cookie_name
    from medconsult.config import get_settings
    from medconsult.main import create_app

    settings = get_settings()
    with Session(engine) as session, session.begin():
        tokens = {}
        for role, key in (("patient", "p1"), ("doctor", "d1"), ("admin", "admin")):
            user = session.scalar(
                text("SELECT id FROM users WHERE id = md5(:key)::uuid").bindparams(key=key)
            )
            tokens[role] = accounts_service.start_session(
                session, user=session.get_one(User, user), settings=settings
            )
        ids = session.execute(
            text(
                f"""
                SELECT
                  (SELECT id FROM consultations WHERE patient_id = {PATIENT}
                   ORDER BY submitted_at DESC LIMIT 1) AS patient_case,
                  (SELECT id FROM consultations WHERE status = 'in_review'
                   AND doctor_id = md5('d1')::uuid ORDER BY submitted_at LIMIT 1) AS doctor_case,
                  (SELECT patient_id FROM consultations WHERE status = 'in_review'
                   AND doctor_id = md5('d1')::uuid ORDER BY submitted_at LIMIT 1) AS doctor_patient
                """
            )
        ).one()
    pages = {
        "patient": [
            ("consultation list", "/consultations"),
            ("consultation", f"/consultations/{ids.patient_case}"),
            ("consultation status", f"/consultations/{ids.patient_case}/status"),
            ("consultation messages", f"/consultations/{ids.patient_case}/messages"),
            ("profile", "/profile"),
            ("notifications", "/notifications"),
            ("notifications badge", "/notifications/badge"),
            ("API consultations", "/api/v1/consultations"),
        ],
        "doctor": [
            ("queue", "/doctor"),
            ("queue API", "/api/v1/doctor/queue"),
            ("case", f"/doctor/consultations/{ids.doctor_case}"),
            ("patient", f"/patients/{ids.doctor_patient}"),
            ("case reviews API", f"/api/v1/consultations/{ids.doctor_case}/reviews"),
        ],
        "admin": [
            ("monitoring 30 days", "/admin/monitoring?days=30"),
            ("monitoring 365 days", "/admin/monitoring?days=365"),
            ("monitoring API 365 days", "/api/v1/admin/monitoring?days=365"),
        ],
    }
    baseline_path = "/account/password"
    counter = StatementCounter(engine)
    app = create_app(factory=sessionmaker(bind=engine, expire_on_commit=False), start_worker=False)
    results: dict[str, Any] = {}
    with TestClient(app, base_url="https://testserver") as client:

        def measure(role: str, path: str) -> tuple[list[float], int]:
            client.cookies.clear()
            client.cookies.set(session_cookie_name(settings), tokens[role])
            for _ in range(3):  # warm-up
                response = client.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"{role} {path}: {response.status_code}")
            timings = []
            statements = 0
            for _ in range(requests):
                counter.reset()
                started = time.perf_counter()
                client.get(path)
                timings.append(time.perf_counter() - started)
                statements = counter.count
            if show_statements:
                print(f"--- {role} {path}: {statements} statements", file=sys.stderr)
                for statement in counter.statements:
                    print(f"  {statement[:200]}", file=sys.stderr)
            return timings, statements

        # The baseline is measured before and after the pages, the better of the two kept.
        baseline_runs = [measure("doctor", baseline_path)]
        measured = {
            (role, name): measure(role, path)
            for role, role_pages in pages.items()
            for name, path in role_pages
        }
        baseline_runs.append(measure("doctor", baseline_path))
    baseline = min((percentile(t, 0.95) for t, _ in baseline_runs))
    baseline_statements = baseline_runs[0][1]
    print(
        f"baseline {baseline_path}: p95 {1000 * baseline:.1f} ms, {baseline_statements} "
        f"statements (load {load_average()})"
    )
    print(f"{'role':<8} {'page':<26} {'p50 ms':>7} {'p95 ms':>7} {'x base':>7} {'SQL':>4}")
    for (role, name), (timings, statements) in measured.items():
        p95 = percentile(timings, 0.95)
        print(
            f"{role:<8} {name:<26} {1000 * statistics.median(timings):7.1f} "
            f"{1000 * p95:7.1f} {p95 / baseline:7.2f} {statements:4d}"
        )
        results[f"{role}: {name}"] = {
            "p50_ms": round(1000 * statistics.median(timings), 1),
            "p95_ms": round(1000 * p95, 1),
            "p95_vs_baseline": round(p95 / baseline, 2),
            "statements": statements,
        }
    print(f"load average after the pages: {load_average()}")
    results["baseline"] = {"p95_ms": round(1000 * baseline, 1), "statements": baseline_statements}
    return results


def explain(engine: Any) -> None:
    """EXPLAIN ANALYZE every statement of the 365-day monitoring figures."""
    from medconsult.admin import monitoring

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    with Session(engine) as session:
        monitoring.compute(session, days=365)
    event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters in captured:
            cursor.execute("EXPLAIN ANALYZE " + statement, parameters)
            print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the monitoring queries")
    parser.add_argument("--explain", action="store_true", help="print the 365-day query plans")
    parser.add_argument(
        "--show-statements", action="store_true", help="print each page's SQL (one request)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the filled database")
    parser.add_argument(
        "--server",
        default=os.environ.get(
            "MEDCONSULT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    os.environ.setdefault("MEDCONSULT_REQUIRE_STAFF_MFA", "false")
    os.environ.setdefault("MEDCONSULT_TRIAGE_SEMANTIC", "false")

    from medconsult.db import to_sqlalchemy_url

    base = make_url(to_sqlalchemy_url(args.server))
    name = f"medconsult_bench_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        os.environ["MEDCONSULT_DATABASE_URL"] = url
        from medconsult.db import run_migrations

        run_migrations(url)
        engine = create_engine(url)
        seconds = fill(engine, args.rows)
        print(f"filled {args.rows} consultations in {seconds:.1f} s (load {load_average()})")
        rollup_seconds = roll_up(engine)
        print(
            f"rolled up a year of days (the worker's sweep) in {rollup_seconds:.1f} s "
            f"(load {load_average()})"
        )
        if args.requests == 0:  # fill only (with --keep)
            return
        queries = time_monitoring_queries(engine, args.repeat)
        pages = time_pages(engine, args.requests, args.show_statements)
        if args.explain:
            explain(engine)
        engine.dispose()
        summary = {
            "rows": args.rows,
            "fill_seconds": round(seconds, 1),
            "rollup_seconds": round(rollup_seconds, 1),
            "monitoring_queries": queries,
            "pages": pages,
            "load_average": load_average(),
        }
        print(json.dumps(summary))
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
