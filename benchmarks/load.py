"""Open-loop load through the real server: submissions arrive at a fixed rate whatever the
server's answers, through the JSON API, analysed by the in-serve worker (or by separate
`medconsult worker` processes), on a scratch database.

Reports submit latency (p50/p95/p99), submit-to-suggestion latency (from the database's own
timestamps), lost submissions (accepted but never analysed), errors by status, the drain time
after the load stops, and the peak RSS of each process. As the baseline measured in the same
run it loads the same model in this process and times it alone on full batches, and prints
the pipeline's throughput as a share of it. The last line is one JSON object.

    python benchmarks/load.py --model DIR --rate 20 --duration 60 [--separate-workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PASSWORD = "load test passphrase 2026"


def _texts() -> list[str]:
    with (ROOT / "data/symptom2disease/symptom2disease.csv").open(newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1], 3)}


async def _register(client: Any, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        response = await client.post(
            "/api/v1/auth/register",
            json={
                "email": f"load-{uuid.uuid4().hex[:12]}@example.org",
                "password": PASSWORD,
                "full_name": "Load Test",
            },
        )
        response.raise_for_status()
        tokens.append(response.json()["token"])
        client.cookies.clear()  # API clients here use bearer tokens, not the session cookie
    return tokens


async def _open_loop(
    base_url: str, *, rate: float, duration: float, patients: int, texts: list[str]
) -> tuple[list[str], list[float], Counter[str], float]:
    import httpx

    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        tokens = await _register(client, patients)
        accepted: list[str] = []
        submit_seconds: list[float] = []
        outcomes: Counter[str] = Counter()
        rng = random.Random(7)

        async def submit(index: int) -> None:
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/api/v1/consultations",
                    data={
                        "chief_complaint": "Symptoms",
                        "history": rng.choice(texts),
                        "ai_consent": "true",
                        "idempotency_key": uuid.uuid4().hex,
                    },
                    headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}"},
                )
            except httpx.HTTPError as exc:
                outcomes[f"client_{type(exc).__name__}"] += 1
                return
            submit_seconds.append(time.perf_counter() - started)
            outcomes[str(response.status_code)] += 1
            if response.status_code == 201:
                accepted.append(response.json()["id"])

        total = int(rate * duration)
        start = time.perf_counter()
        tasks = []
        for index in range(total):
            # Open loop: each arrival has its own time, late answers do not slow the next one.
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(submit(index)))
        await asyncio.gather(*tasks)
        load_end = time.perf_counter()
        return accepted, submit_seconds, outcomes, load_end


def _analysed(url: str, ids: list[str]) -> dict[str, float]:
    """submit-to-suggestion seconds of every accepted consultation analysed so far."""
    return {key: latency for key, (_, latency) in _analysed_timed(url, ids).items()}


def _by_window(timed: dict[str, tuple[float, float]], seconds: float = 10.0) -> list[float]:
    """p95 of submit-to-suggestion for the submissions of each ``seconds`` of the run, in
    order: where in the run the time went (a start-up backlog, a stall, a growing queue)."""
    if not timed:
        return []
    first = min(submitted for submitted, _ in timed.values())
    windows: dict[int, list[float]] = {}
    for submitted, latency in timed.values():
        windows.setdefault(int((submitted - first) // seconds), []).append(latency)
    return [_percentiles(windows[key])["p95"] or 0.0 for key in sorted(windows)]


def _rows(url: str, sql: str, ids: list[str]) -> list[Any]:
    """The rows of one read-only statement over the accepted consultations (``:ids``)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), {"ids": ids}).all())
    finally:
        engine.dispose()


def _job_stages(url: str, ids: list[str]) -> dict[str, dict[str, float | None]]:
    """Where submit-to-suggestion went: waiting for a worker to take the job (queued ->
    started) and the analysis itself (started -> finished), from the job's own timestamps."""
    rows = _rows(
        url,
        "SELECT extract(epoch FROM started_at - created_at), "
        "extract(epoch FROM finished_at - started_at) FROM analysis_jobs "
        "WHERE consultation_id = ANY(CAST(:ids AS uuid[])) AND finished_at IS NOT NULL",
        ids,
    )
    return {
        "queued": _percentiles([float(row[0]) for row in rows]),
        "analysing": _percentiles([float(row[1]) for row in rows]),
    }


def _analysed_timed(url: str, ids: list[str]) -> dict[str, tuple[float, float]]:
    """(submitted at, submit-to-suggestion seconds) of every accepted consultation analysed."""
    rows = _rows(
        url,
        "SELECT c.id::text, extract(epoch FROM c.created_at), "
        "extract(epoch FROM min(s.created_at) - c.created_at) "
        "FROM consultations c JOIN ai_suggestions s ON s.consultation_id = c.id "
        "WHERE c.id = ANY(CAST(:ids AS uuid[])) GROUP BY c.id, c.created_at",
        ids,
    )
    return {row[0]: (float(row[1]), float(row[2])) for row in rows}


def _model_alone(model: Path, texts: list[str], seconds: float = 8.0) -> float:
    """Baseline: texts/s of the same model, in this process, on full batches, explanations on."""
    from medconsult.config import get_settings
    from medconsult.ml.predict import Classifier

    settings = get_settings()
    classifier = Classifier.load(
        model,
        device=settings.inference_device,
        precision=settings.inference_precision,
        packed=settings.inference_packed,
    )
    batch = texts[: settings.inference_max_batch_size]
    classifier.suggest(batch, explain=True)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        classifier.suggest(batch, explain=True)
        done += len(batch)
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="trained model directory")
    parser.add_argument("--rate", type=float, default=20.0, help="submissions per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--separate-workers", type=int, default=0, help="0: the in-serve worker")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    texts = _texts()

    from tests import db_setup

    with db_setup.fresh_database(prefix="medconsult_load") as url:
        from medconsult.db import run_migrations

        run_migrations(url)
        port = _free_port()
        env = os.environ | {
            "MEDCONSULT_DATABASE_URL": url,
            "MEDCONSULT_MODEL_DIR": str(args.model.resolve()),
            "MEDCONSULT_ENV": "development",
            "MEDCONSULT_UPLOAD_DIR": f"/tmp/medconsult-load-{os.getpid()}",
            "MEDCONSULT_RUN_WORKER_IN_SERVE": "false" if args.separate_workers else "true",
        }
        cli = [sys.executable, "-m", "medconsult.cli"]
        logs = Path(f"/tmp/medconsult-load-{os.getpid()}-logs")
        logs.mkdir(exist_ok=True)
        processes = {
            "server": subprocess.Popen(
                [*cli, "serve", "--no-migrate", "--port", str(port)],
                env=env,
                stdout=(logs / "server.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        }
        for n in range(args.separate_workers):
            processes[f"worker{n + 1}"] = subprocess.Popen(
                [*cli, "worker", "--name", f"load-worker-{n + 1}"],
                env=env,
                stdout=(logs / f"worker{n + 1}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        try:
            result = _run(args, url, port, processes, texts)
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
        # The audit chain after the load: every event the run recorded sealed and verified.
        verify = subprocess.run(
            [*cli, "audit", "verify"], env=env, capture_output=True, text=True, timeout=300
        )
        result["audit_verify"] = {
            "exit_code": verify.returncode,
            "output": verify.stdout.strip().splitlines()[-1:],
        }
        print(json.dumps(result))
        return 0


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def _machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _run(
    args: argparse.Namespace,
    url: str,
    port: int,
    processes: dict[str, subprocess.Popen[bytes]],
    texts: list[str],
) -> dict[str, Any]:
    import httpx

    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not become ready")
        time.sleep(0.5)
    # Warm the model up so the first arrivals do not measure its loading: wait until the
    # warm-up submissions are analysed (the worker loads the model on its first job).
    warm_up = asyncio.run(_open_loop(base_url, rate=2, duration=2, patients=2, texts=texts))[0]
    deadline = time.monotonic() + 180
    while len(_analysed(url, warm_up)) < len(warm_up) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)

    load_before = round(os.getloadavg()[0], 2)
    # The server's own worker runs in a child process by default: its CPU and memory count too.
    pids = {name: process.pid for name, process in processes.items()}
    for name, process in processes.items():
        for index, child in enumerate(_children(process.pid)):
            pids[f"{name}-child{index + 1}"] = child
    cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = _machine_busy_seconds()
    window_start = time.perf_counter()
    accepted, submit_seconds, outcomes, load_end = asyncio.run(
        _open_loop(
            base_url,
            rate=args.rate,
            duration=args.duration,
            patients=args.patients,
            texts=texts,
        )
    )
    drain_deadline = time.perf_counter() + args.drain_timeout
    analysed: dict[str, float] = {}
    while time.perf_counter() < drain_deadline:
        analysed = _analysed(url, accepted)
        if len(analysed) == len(accepted):
            break
        time.sleep(0.5)
    drain_seconds = time.perf_counter() - load_end
    window = time.perf_counter() - window_start
    cpu = {name: round(_cpu_seconds(pid) - cpu_before[name], 1) for name, pid in pids.items()}
    machine_busy_cores = (_machine_busy_seconds() - busy_before) / window
    rss = {name: _peak_rss_mb(pid) for name, pid in pids.items()}
    latencies = list(analysed.values())
    achieved = len(latencies) / (args.duration + drain_seconds) if latencies else 0.0

    result: dict[str, Any] = {
        "rate": args.rate,
        "duration_s": args.duration,
        "separate_workers": args.separate_workers,
        "submitted": int(args.rate * args.duration),
        "accepted": len(accepted),
        "analysed": len(analysed),
        "lost": len(accepted) - len(analysed),
        "responses": dict(outcomes),
        "server_errors": sum(v for k, v in outcomes.items() if k.startswith("5")),
        "submit_s": _percentiles(submit_seconds),
        "submit_to_suggestion_s": _percentiles(latencies),
        "submit_to_suggestion_p95_by_10s": _by_window(_analysed_timed(url, accepted)),
        "job_stages_s": _job_stages(url, accepted),
        "drain_after_load_s": round(drain_seconds, 2),
        "suggestions_per_s": round(achieved, 2),
        "peak_rss_mb": rss,
        # CPU the product's processes spent from the first arrival to the end of the drain,
        # per suggestion stored: less noisy than latencies on a shared machine.
        "cpu_s": cpu,
        "cpu_ms_per_suggestion": (
            round(1000 * sum(cpu.values()) / len(analysed), 1) if analysed else None
        ),
        "machine_busy_cores": round(machine_busy_cores, 2),
        "load_average_1m_before": load_before,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if not args.skip_baseline:
        alone = _model_alone(args.model.resolve(), texts)
        result["baseline_model_alone_texts_per_s"] = round(alone, 1)
        result["pipeline_share_of_model"] = round(achieved / alone, 3) if alone else None
    if latencies:
        result["submit_to_suggestion_mean_s"] = round(statistics.fmean(latencies), 3)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
