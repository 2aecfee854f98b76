"""Submit → suggestion latency of the analysis pipeline on this machine.

Creates a scratch database (on the server named by MEDCONSULT_DATABASE_URL, else the embedded
PostgreSQL), runs an in-process worker exactly as ``medconsult serve`` does, submits consultations
through the same service the pages use, and reports how long each waited for its stored AI
suggestion: the first one includes loading the model, the rest show the steady state.

    python benchmarks/analysis_latency.py [--model DIR] [--count N] [--interval S]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HISTORIES = [
    "I have had a high fever with chills every evening, a headache and muscle pain for four days.",
    "My skin has red, itchy, scaly patches on the elbows and knees that flake off.",
    "I keep coughing, I have a runny nose, a sore throat and I sneeze all the time.",
    "Burning pain in my upper stomach after meals, sour taste and heartburn at night.",
    "It burns when I pass urine, I need to go very often and my lower belly hurts.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: newest)")
    parser.add_argument("--count", type=int, default=10, help="consultations to submit")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between submits")
    args = parser.parse_args()
    if args.model is not None:
        os.environ["MEDCONSULT_MODEL_DIR"] = str(args.model.resolve())
    os.environ["MEDCONSULT_UPLOAD_DIR"] = str(Path("/tmp") / f"medconsult-bench-{os.getpid()}")

    from tests import db_setup

    with db_setup.fresh_database(prefix="medconsult_bench") as url:
        os.environ["MEDCONSULT_DATABASE_URL"] = url
        from medconsult.config import get_settings
        from medconsult.db import run_migrations

        get_settings.cache_clear()
        run_migrations(url)
        return _measure(args.count, args.interval)


def _measure(count: int, interval: float) -> int:
    from sqlalchemy import select

    from medconsult.accounts import service as accounts_service
    from medconsult.accounts.models import Role
    from medconsult.consultations import service as consultations_service
    from medconsult.consultations.models import Consultation
    from medconsult.consultations.schemas import ConsultationCreate
    from medconsult.db import get_engine, session_factory
    from medconsult.diagnosis.models import AISuggestion
    from medconsult.jobs.worker import ServeWorker

    factory = session_factory()
    with factory() as session, session.begin():
        patient, _token = accounts_service.create_user(
            session,
            actor=None,
            email=f"bench-{uuid.uuid4().hex[:8]}@example.org",
            role=Role.patient,
            password="benchmark passphrase",
        )
        patient_id = patient.id

    worker = ServeWorker()
    worker.start()
    submitted: list[uuid.UUID] = []
    try:
        for index in range(count):
            with factory() as session, session.begin():
                actor = accounts_service.get_user(session, patient_id)
                consultation, _created = consultations_service.submit(
                    session,
                    actor=actor,
                    data=ConsultationCreate(
                        chief_complaint=f"Symptoms {index}",
                        history=HISTORIES[index % len(HISTORIES)],
                        ai_consent=True,
                    ),
                    uploads=[],
                )
                submitted.append(consultation.id)
            time.sleep(interval)
        deadline = time.monotonic() + 600
        latencies: dict[uuid.UUID, float] = {}
        while len(latencies) < count and time.monotonic() < deadline:
            with factory() as session:
                rows = session.execute(
                    select(Consultation.id, Consultation.submitted_at, AISuggestion.created_at)
                    .join(AISuggestion, AISuggestion.consultation_id == Consultation.id)
                    .where(Consultation.id.in_(submitted), AISuggestion.is_current)
                ).all()
            latencies = {cid: (done - sent).total_seconds() for cid, sent, done in rows}
            time.sleep(0.2)
    finally:
        worker.stop()
        get_engine().dispose()
    ordered = [latencies[cid] for cid in submitted if cid in latencies]
    steady = ordered[1:]
    result = {
        "consultations": count,
        "analysed": len(ordered),
        "first_seconds_including_model_load": round(ordered[0], 2) if ordered else None,
        "p50_seconds": round(statistics.median(steady), 2) if steady else None,
        "max_seconds": round(max(steady), 2) if steady else None,
    }
    print(json.dumps(result))
    return 0 if len(ordered) == count else 1


if __name__ == "__main__":
    raise SystemExit(main())
