"""Inference benchmark: a plain transformers pipeline vs the service with dynamic batching.

    python benchmarks/inference.py [--model DIR] [--requests N] [--concurrency C]

Workload: a realistic length mix of patient texts, sent by C concurrent client threads (each
sends its next request when the previous one is answered): symptom2disease descriptions plus
longer "history + report" texts stitched together from several of them (several hundred tokens,
so they span several windows).

Compared, on the same texts, the same threads and the same windowing policy (windows of the
artifact's max length with its stride, logits averaged per text; nothing truncated):

(a) ``transformers.pipeline("text-classification")`` called one request at a time: each request
    runs the pipeline on that text's windows. The pipeline is not thread-safe (its fast tokenizer
    fails with "Already borrowed" under concurrent calls), so clients share it behind a lock, as
    a worker using it would have to.
(b) the service: ``Classifier`` + ``DynamicBatcher`` (batching across requests, windows sorted by
    length, ``torch.inference_mode``, the packed engine unless ``MEDCONSULT_INFERENCE_PACKED``
    is off) in its default configuration (``MEDCONSULT_INFERENCE_PRECISION``, ``auto``: bf16 on
    a CPU with native bf16 dot products, else fp32; batch size and wait from the settings), and
    also in fp32 and with int8 dynamic quantisation; classification only (``explain=False``),
    to compare like with like. For information: the default service with the evidence pass
    (gradient x input), and the fp32 service on the Hugging Face forward (padded batches,
    ``packed=False``).

``speedup_vs_pipeline`` is throughput (b)/(a) for the service's default configuration.
``share_of_matmul_peak`` is that service's achieved FLOP/s (useful, unpadded encoder FLOPs)
divided by the FLOP/s of a plain large ``torch.matmul`` in the same precision (fp32 or bf16)
measured in the same run; ``fp32_share_of_matmul_peak`` is the same for the fp32 service. The
packed engine computes the last layer for the [CLS] rows only, so it executes fewer FLOPs than
that count; ``executed_share_of_matmul_peak`` counts only what it executes.
The last line printed is one JSON object.

--model defaults to the active artifact (``resolve_default_model_dir``); without one, the
packaged all-MiniLM-L6-v2 checkpoint with an untrained head is used (throughput does not depend
on the head's weights), so this runs on a fresh clone with no arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
from transformers.utils import logging as transformers_logging

from medconsult.config import get_settings
from medconsult.ml.artifacts import resolve_default_model_dir
from medconsult.ml.batching import DynamicBatcher
from medconsult.ml.data import LABEL2ID, LABELS, Window, default_data_path, load_dataset
from medconsult.ml.labels import LABELS_FILE
from medconsult.ml.predict import Classifier

# --- defaults --------------------------------------------------------------------------------
DEFAULT_REQUESTS = 384  # requests per configuration; ~3 minutes in all on 2 CPU cores
DEFAULT_CONCURRENCY = 32  # client threads (worker threads serving consultations); = max batch
DEFAULT_LONG_FRACTION = 0.2  # share of long "history + report" texts in the mix
LONG_TEXT_PARTS = (4, 10)  # descriptions stitched into one long text (min, max)
MATMUL_SIZE = 2048  # square fp32 matmul used as the machine's practical peak
WARMUP_REQUESTS = 16
# ----------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="artifact dir (default: active)")
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--long-fraction", type=float, default=DEFAULT_LONG_FRACTION)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (all CPUs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-evidence", action="store_true", help="skip the evidence run")
    parser.add_argument("--skip-hf", action="store_true", help="skip the HF-forward service run")
    return parser.parse_args(argv)


def build_texts(n: int, long_fraction: float, seed: int) -> list[str]:
    """Dataset descriptions plus long histories stitched from several of them."""
    rng = random.Random(seed)
    base = list(load_dataset(default_data_path()).texts)
    texts = []
    for _ in range(n):
        if rng.random() < long_fraction:
            parts = rng.sample(base, rng.randint(*LONG_TEXT_PARTS))
            texts.append(
                "History: "
                + " ".join(parts[:-1])
                + " Since the last visit the patient reports: "
                + parts[-1]
            )
        else:
            texts.append(rng.choice(base))
    return texts


def packaged_checkpoint_artifact(directory: Path) -> Path:
    """An artifact of the packaged checkpoint with a fresh, untrained (seeded) head."""
    from medconsult.ml.train import default_base_model

    torch.manual_seed(0)
    base = default_base_model()
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base),
        local_files_only=True,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id=dict(LABEL2ID),
    )
    model.save_pretrained(str(directory))
    AutoTokenizer.from_pretrained(str(base), local_files_only=True).save_pretrained(str(directory))
    shutil.copyfile(LABELS_FILE, directory / "labels.json")
    documents = {
        "calibration.json": {"temperature": 1.0, "threshold": 0.0},
        "training_args.json": {"max_length": 128, "stride": 32, "untrained_head": True},
        "metrics.json": {},
    }
    for name, document in documents.items():
        (directory / name).write_text(json.dumps(document))
    (directory / "README.md").write_text("Benchmark only: packaged checkpoint, untrained head.\n")
    return directory


def run_clients(
    texts: Sequence[str], concurrency: int, handle: Callable[[str], Any]
) -> dict[str, float]:
    """Closed-loop clients; returns throughput (texts/s) and latency percentiles (ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    next_index = 0

    def client() -> None:
        nonlocal next_index
        while True:
            with lock:
                if next_index >= len(texts):
                    return
                text = texts[next_index]
                next_index += 1
            started = time.perf_counter()
            handle(text)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "throughput_texts_per_s": round(len(texts) / wall, 2),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "wall_s": round(wall, 2),
    }


def pipeline_handler(model_dir: Path, classifier: Classifier) -> Callable[[str], Any]:
    """One text per call through a plain pipeline, with the service's windowing policy."""
    pipe = pipeline(
        "text-classification",
        model=str(model_dir),
        tokenizer=str(model_dir),
        device=-1,
        top_k=None,
        function_to_apply="none",
    )
    lock = threading.Lock()

    def handle(text: str) -> np.ndarray:
        with lock:
            # The same windows the service reads, as substrings of the original text.
            windows: list[Window] = classifier.encode([text])
            pieces = []
            for window in windows:
                spans = [(s, e) for s, e in window.offsets if e > s]
                pieces.append(text[spans[0][0] : spans[-1][1]])
            outputs = pipe(pieces, truncation=True, max_length=classifier.max_length)
            scores = [{item["label"]: item["score"] for item in output} for output in outputs]
            return np.mean([[row[key] for key in LABELS] for row in scores], axis=0)

    return handle


def encoder_flops(
    classifier: Classifier, texts: Sequence[str], cls_only_last_layer: bool = False
) -> float:
    """Useful forward FLOPs of the encoder on the texts' windows (no padding counted);
    ``cls_only_last_layer``: what the packed engine executes (last layer: keys and values for
    every token, the rest for the [CLS] row only)."""
    config = classifier.model.config
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for window in classifier.encode(texts):
        length = len(window.input_ids)
        linear = 2 * length * (4 * hidden * hidden + 2 * hidden * inner)
        attention = 2 * 2 * length * length * hidden
        total += layers * (linear + attention)
        if cls_only_last_layer:
            last = 2 * (2 * length + 2) * hidden * hidden + 2 * (2 * hidden * inner)
            total += last + 2 * 2 * length * hidden - linear - attention
    return total


def matmul_flops_per_s(dtype: torch.dtype = torch.float32, repeats: int = 10) -> float:
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE).to(dtype)
    b = torch.randn(MATMUL_SIZE, MATMUL_SIZE).to(dtype)
    with torch.inference_mode():
        torch.matmul(a, b)
        started = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b)
        elapsed = time.perf_counter() - started
    return repeats * 2 * MATMUL_SIZE**3 / elapsed


def service_run(
    classifier: Classifier, texts: Sequence[str], concurrency: int, explain: bool
) -> dict[str, float]:
    settings = get_settings()
    with DynamicBatcher(
        classifier,
        max_batch_size=settings.inference_max_batch_size,
        max_wait_ms=settings.inference_max_wait_ms,
        explain=explain,
    ) as batcher:
        run_clients(texts[:WARMUP_REQUESTS], concurrency, batcher.suggest)
        result = run_clients(texts, concurrency, batcher.suggest)
        result["batches"] = batcher.batches_run
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    texts = build_texts(args.requests, args.long_fraction, args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="medconsult-bench-"))
    try:
        model_dir = args.model or resolve_default_model_dir(get_settings())
        if model_dir is None:
            print("no trained artifact: using the packaged checkpoint with an untrained head")
            model_dir = packaged_checkpoint_artifact(scratch / "packaged-untrained")
        settings = get_settings()
        packed = settings.inference_packed
        default = Classifier.load(
            model_dir, device="cpu", precision=settings.inference_precision, packed=packed
        )
        fp32 = Classifier.load(model_dir, device="cpu", precision="fp32", packed=packed)
        int8 = Classifier.load(model_dir, device="cpu", precision="int8", packed=packed)
        windows = fp32.encode(texts)
        n_long = sum(1 for t in texts if len(fp32.encode([t])) > 1)
        print(
            f"model {model_dir.name}; {len(texts)} requests ({n_long} long, {len(windows)} windows "
            f"of <= {fp32.max_length} tokens, stride {fp32.stride}); {args.concurrency} clients; "
            f"{threads} torch threads; packed engine {'on' if fp32.engine else 'off'}; "
            f"default precision {default.precision}"
        )

        peaks = {"fp32": matmul_flops_per_s(torch.float32)}
        if default.precision == "bf16":
            peaks["bf16"] = matmul_flops_per_s(torch.bfloat16)
        for name, peak in peaks.items():
            print(f"matmul {MATMUL_SIZE}x{MATMUL_SIZE} {name}: {peak / 1e9:.1f} GFLOP/s")

        handle = pipeline_handler(Path(model_dir), fp32)
        run_clients(texts[:WARMUP_REQUESTS], args.concurrency, handle)
        results: dict[str, dict[str, float]] = {}
        results["pipeline"] = run_clients(texts, args.concurrency, handle)
        print(f"(a) pipeline, one text at a time: {results['pipeline']}")
        default_key = f"service_{default.precision}"
        results[default_key] = service_run(default, texts, args.concurrency, explain=False)
        print(
            f"(b) service {default.precision} (default), dynamic batching: {results[default_key]}"
        )
        for name, classifier in (("fp32", fp32), ("int8", int8)):
            if f"service_{name}" not in results:
                results[f"service_{name}"] = service_run(
                    classifier, texts, args.concurrency, explain=False
                )
                print(f"(b) service {name}, dynamic batching: {results[f'service_{name}']}")
        if not args.skip_evidence:
            results["service_default_evidence"] = service_run(
                default, texts, args.concurrency, explain=True
            )
            print(
                f"    service {default.precision} with evidence: "
                f"{results['service_default_evidence']}"
            )
        if not args.skip_hf:
            hf = Classifier.load(model_dir, device="cpu", precision="fp32", packed=False)
            results["service_fp32_hf"] = service_run(hf, texts, args.concurrency, explain=False)
            print(f"    service fp32, Hugging Face forward: {results['service_fp32_hf']}")

        base = results["pipeline"]["throughput_texts_per_s"]
        speedup = results[default_key]["throughput_texts_per_s"] / base
        flops = encoder_flops(fp32, texts)
        executed_flops = (
            encoder_flops(fp32, texts, cls_only_last_layer=True) if fp32.engine else flops
        )
        default_peak = peaks.get(default.precision, peaks["fp32"])
        engine = flops / results[default_key]["wall_s"]
        summary = {
            "speedup_vs_pipeline": round(speedup, 2),
            "share_of_matmul_peak": round(engine / default_peak, 3),
            "executed_share_of_matmul_peak": round(
                executed_flops / results[default_key]["wall_s"] / default_peak, 3
            ),
            "default_config": default_key,
            "speedup_fp32_vs_pipeline": round(
                results["service_fp32"]["throughput_texts_per_s"] / base, 2
            ),
            "speedup_int8_vs_pipeline": round(
                results["service_int8"]["throughput_texts_per_s"] / base, 2
            ),
            "fp32_share_of_matmul_peak": round(
                flops / results["service_fp32"]["wall_s"] / peaks["fp32"], 3
            ),
            "packed_engine": fp32.engine is not None,
            "engine_gflops": round(engine / 1e9, 2),
            **{f"matmul_{name}_gflops": round(peak / 1e9, 2) for name, peak in peaks.items()},
            "requests": len(texts),
            "long_requests": n_long,
            "windows": len(windows),
            "concurrency": args.concurrency,
            "torch_threads": threads,
            "max_length": fp32.max_length,
            "stride": fp32.stride,
            "model": model_dir.name,
            **results,
        }
        print(
            f"speedup of the service ({default_key}) over the pipeline: {speedup:.2f}x; "
            f"engine at {100 * engine / default_peak:.1f}% of {default.precision} matmul FLOP/s"
        )
        print(json.dumps(summary))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
