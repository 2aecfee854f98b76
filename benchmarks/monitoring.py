"""Time the admin monitoring queries on 100k synthetic consultations in a scratch database.

    python benchmarks/monitoring.py [--rows 100000] [--server postgresql://postgres@127.0.0.1/postgres]

The server defaults to MEDCONSULT_TEST_DATABASE_URL, else the local PostgreSQL. A database named
``medconsult_bench_<pid>`` is created, migrated with Alembic, filled with generate_series (one
consultation, one current suggestion and, for 80% of them, a signed review each; 5% of the
reviews are amended), timed, and dropped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

FILL_SQL = [
    """
    INSERT INTO users (id, email, password_hash, role, full_name, is_active, must_change_password,
                       created_at)
    VALUES ('00000000-0000-0000-0000-000000000001', 'bench-patient@example.org', 'x', 'patient',
            'Bench Patient', true, false, now()),
           ('00000000-0000-0000-0000-000000000002', 'bench-doctor@example.org', 'x', 'doctor',
            'Bench Doctor', true, false, now())
    """,
    """
    INSERT INTO consultations (id, patient_id, doctor_id, status, chief_complaint, history,
                               past_history, current_medications, ai_consent, urgency_rank,
                               submitted_at, updated_at, created_at)
    SELECT md5('c' || g)::uuid, '00000000-0000-0000-0000-000000000001',
           '00000000-0000-0000-0000-000000000002', 'concluded', 'complaint ' || g, 'history',
           '', '', true, 2, t, t, t
    FROM generate_series(1, :rows) AS g,
         LATERAL (SELECT now() - (g % 365) * interval '1 day' - (g % 1440) * interval '1 minute')
                 AS ts(t)
    """,
    """
    INSERT INTO ai_suggestions (id, consultation_id, model_version, ranked, top1_label,
                                top1_probability, urgency, abstained, evidence, red_flags,
                                windowed, n_windows, analysed_text, is_current, created_at)
    SELECT md5('s' || g)::uuid, md5('c' || g)::uuid, 'bench-v' || (g % 3),
           jsonb_build_array(
               jsonb_build_object('label', 'label_' || (g % 24), 'probability', p),
               jsonb_build_object('label', 'label_' || ((g + 1) % 24), 'probability', (1 - p) / 2),
               jsonb_build_object('label', 'label_' || ((g + 2) % 24), 'probability', (1 - p) / 4)),
           'label_' || (g % 24), p,
           CASE WHEN g % 50 = 0 THEN 'emergency' ELSE 'routine' END,
           p < 0.3, '[]', '[]', false, 1, '', true,
           now() - (g % 365) * interval '1 day'
    FROM generate_series(1, :rows) AS g, LATERAL (SELECT (g % 97) / 97.0) AS prob(p)
    """,
    """
    INSERT INTO doctor_reviews (id, consultation_id, doctor_id, suggestion_id, decision,
                                final_label, final_diagnosis, icd10_code, reject_reason, advice,
                                private_note, signed_at, created_at)
    SELECT md5('r' || g)::uuid, md5('c' || g)::uuid, '00000000-0000-0000-0000-000000000002',
           md5('s' || g)::uuid, 'modify', 'label_' || ((g + g % 4) % 24), 'x', '', '', '', '',
           now() - (g % 365) * interval '1 day', now()
    FROM generate_series(1, :rows) AS g
    WHERE g % 5 <> 0
    """,
    """
    INSERT INTO doctor_reviews (id, consultation_id, doctor_id, suggestion_id, decision,
                                final_label, final_diagnosis, icd10_code, reject_reason, advice,
                                private_note, signed_at, amends_id, created_at)
    SELECT md5('a' || g)::uuid, md5('c' || g)::uuid, '00000000-0000-0000-0000-000000000002',
           md5('s' || g)::uuid, 'modify', 'label_' || (g % 24), 'x', '', '', '', '',
           now() - (g % 365) * interval '1 day' + interval '1 hour', md5('r' || g)::uuid, now()
    FROM generate_series(1, :rows) AS g
    WHERE g % 5 <> 0 AND g % 20 = 1
    """,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print the 365-day query plans")
    parser.add_argument(
        "--server",
        default=os.environ.get(
            "MEDCONSULT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()

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
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL_SQL:
                conn.execute(text(statement), {"rows": args.rows})
            conn.execute(text("ANALYZE"))
        print(f"filled {args.rows} consultations in {time.perf_counter() - started:.1f} s")

        from medconsult.admin import monitoring

        for days in monitoring.ALLOWED_WINDOWS:
            timings = []
            with Session(engine) as session:
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    figures = monitoring.compute(session, days=days)
                    timings.append(time.perf_counter() - started)
            print(
                f"window {days:>3} days: {figures.suggestions:>6} suggestions, "
                f"{figures.overall.reviewed:>6} reviews, top-1 {figures.overall.top1_rate or 0:.3f}"
                f", top-3 {figures.overall.top3_rate or 0:.3f}; "
                f"median {1000 * statistics.median(timings):.0f} ms, "
                f"max {1000 * max(timings):.0f} ms over {args.repeat} runs"
            )
        if args.explain:
            since = {"since": figures.since, "bins": monitoring.HISTOGRAM_BINS}
            with engine.connect() as conn:
                for query in (monitoring._DAILY_SQL, monitoring._AGREEMENT_SQL):
                    plan = conn.execute(text("EXPLAIN ANALYZE " + query.text), since)
                    print("\n".join(row[0] for row in plan))
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
