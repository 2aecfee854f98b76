"""Time of one next-question choice of the intake interview, on the interview states that
simulated interviews of held-out DDXPlus patients actually pass through.

Baseline, measured in the same run: the same choice scoring the expected information gain over
every condition (49) instead of the leading ``MEDCONSULT_INTERVIEW_CANDIDATES`` (10). The
budget is 50 ms per choice (it runs in the web request).

    python benchmarks/interview.py [--data data/ddxplus/patients.csv] [--patients N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BUDGET_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data/ddxplus/patients.csv")
    parser.add_argument("--patients", type=int, default=100, help="held-out patients to replay")
    args = parser.parse_args()

    from medconsult.config import get_settings
    from medconsult.interview import ddxplus_source
    from medconsult.interview.engine import Answer
    from medconsult.interview.evaluate import SEED, VAL_FRACTION, simulate
    from medconsult.ml import ddxplus
    from medconsult.ml.data import stratified_split

    settings = get_settings()
    folder = args.data.parent
    patients = ddxplus.load_patients(args.data)
    train, held_out = stratified_split([p.pathology for p in patients], VAL_FRACTION, SEED)
    started = time.perf_counter()
    model = ddxplus_source.fit_model(
        ddxplus.load_questionnaire(folder),
        [patients[i] for i in train],
        sorted(ddxplus.load_conditions(folder)),
    )
    fit_s = time.perf_counter() - started

    # The states: every prefix of each simulated interview.
    states: list[list[Answer]] = []
    for index in held_out[: args.patients]:
        patient = patients[index]
        result = simulate(
            model,
            ddxplus_source.engine_evidences(patient.evidences),
            patient.initial_evidence,
            max_questions=settings.interview_max_questions,
            stop_probability=settings.interview_stop_probability,
            min_gain_bits=settings.interview_min_gain_bits,
            top_k=settings.interview_candidates,
        )
        states.extend(list(result.answers[:n]) for n in range(len(result.answers)))

    def timed(top_k: int) -> list[float]:
        times = []
        for answers in states:
            begin = time.perf_counter()
            model.decide(
                model.class_prior,
                answers,
                max_questions=10**6,
                stop_probability=1.1,  # never "settled": always time a full choice
                min_gain_bits=settings.interview_min_gain_bits,
                top_k=top_k,
                openers_first=True,
            )
            times.append(1000 * (time.perf_counter() - begin))
        return times

    timed(settings.interview_candidates)  # warm-up
    ours = timed(settings.interview_candidates)
    baseline = timed(len(model.conditions))

    def summary(times: list[float]) -> dict[str, float]:
        ordered = sorted(times)
        return {
            "p50_ms": round(statistics.median(ordered), 3),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
            "max_ms": round(ordered[-1], 3),
        }

    result = {
        "states": len(states),
        "fit_seconds": round(fit_s, 2),
        "top_k": settings.interview_candidates,
        "choice": summary(ours),
        "baseline_all_conditions": summary(baseline),
        "p95_vs_budget": round(summary(ours)["p95_ms"] / BUDGET_MS, 3),
        "p50_ratio_to_baseline": round(statistics.median(ours) / statistics.median(baseline), 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
