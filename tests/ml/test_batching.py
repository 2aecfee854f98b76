from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from medconsult.ml.batching import BatcherClosedError, DynamicBatcher
from medconsult.ml.errors import InputTextError
from medconsult.ml.predict import Classifier

TEXTS = [
    "I have a runny nose and sneezing.",
    "Burning when I urinate and I need to go all the time, with lower belly pain and fever.",
    "Pimples.",
    "My joints are stiff and swollen in the morning, especially my knees and fingers.",
    "Yellow skin and eyes, dark urine, itching.",
    "A throbbing one-sided headache with nausea.",
]


def test_concurrent_submits_resolve_and_match_unbatched(tiny_classifier: Classifier) -> None:
    expected = {text: tiny_classifier.suggest([text])[0] for text in TEXTS}
    requests = TEXTS * 4
    start = threading.Barrier(len(requests))

    with DynamicBatcher(tiny_classifier, max_batch_size=8, max_wait_ms=50) as batcher:

        def ask(text: str):  # type: ignore[no-untyped-def]
            start.wait()
            return text, batcher.suggest(text, timeout=60)

        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            results = list(pool.map(ask, requests))
        assert batcher.batches_run < len(requests)  # requests were grouped

    assert len(results) == len(requests)
    for text, suggestion in results:
        reference = expected[text]
        assert [r.key for r in suggestion.ranked] == [r.key for r in reference.ranked]
        for got, want in zip(suggestion.ranked, reference.ranked, strict=True):
            assert got.probability == pytest.approx(want.probability, abs=1e-4)
        assert [(s.start, s.end) for s in suggestion.evidence] == [
            (s.start, s.end) for s in reference.evidence
        ]


def test_bad_text_fails_only_its_own_future(tiny_classifier: Classifier) -> None:
    with DynamicBatcher(tiny_classifier, max_batch_size=4, max_wait_ms=20) as batcher:
        bad = batcher.submit("   ")
        good = batcher.submit("I have a cough")
        with pytest.raises(InputTextError, match="empty"):
            bad.result(timeout=5)
        assert good.result(timeout=60).ranked


def test_closed_batcher_refuses_work(tiny_classifier: Classifier) -> None:
    batcher = DynamicBatcher(tiny_classifier, max_batch_size=2, max_wait_ms=1)
    pending = batcher.submit("a cough")
    batcher.close()
    assert pending.result(timeout=60).ranked  # queued work finishes
    with pytest.raises(BatcherClosedError):
        batcher.submit("a cough")
    batcher.close()  # idempotent
