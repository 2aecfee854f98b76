"""Dynamic batching: many threads ask for one suggestion each; one thread runs them in batches.

A single background thread waits for the first request, then collects more for up to
``max_wait_ms`` or until ``max_batch_size`` texts are waiting, and runs them as one
``Classifier.suggest`` call (which sorts windows by length to limit padding and classifies under
``torch.inference_mode()`` at the classifier's precision: bf16/fp16 on GPU, bf16 on CPUs with
native bf16 dot products, fp32 elsewhere, or int8 when asked for). Every worker thread shares one
batcher.

    batcher = DynamicBatcher(classifier, max_batch_size=32, max_wait_ms=10)
    suggestion = batcher.suggest("I have a fever and a bad cough")   # blocks
    future = batcher.submit("...")                                  # concurrent.futures.Future
    batcher.close()
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType

from medconsult.metrics import BATCH_SIZE
from medconsult.ml.errors import InputTextError, ModelError
from medconsult.ml.predict import Classifier
from medconsult.ml.structured import StructuredCase
from medconsult.ml.types import Suggestion


class BatcherClosedError(ModelError):
    """The batcher was closed; no more requests are accepted."""


@dataclass
class _Request:
    text: str
    future: Future[Suggestion]
    case: StructuredCase | None = None


_STOP = object()


class DynamicBatcher:
    def __init__(
        self,
        classifier: Classifier,
        max_batch_size: int = 32,
        max_wait_ms: float = 10.0,
        *,
        explain: bool = True,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.classifier = classifier
        self.max_batch_size = max_batch_size
        self.max_wait_s = max(max_wait_ms, 0.0) / 1000.0
        self.explain = explain
        self._queue: queue.Queue[_Request | object] = queue.Queue()
        self._closed = False
        self._close_lock = threading.Lock()
        self.batches_run = 0  # for monitoring and tests
        self._thread = threading.Thread(target=self._run, name="ml-dynamic-batcher", daemon=True)
        self._thread.start()

    # --- client side ---------------------------------------------------------------------------

    def submit(self, text: str, case: StructuredCase | None = None) -> Future[Suggestion]:
        """Queue one text (with its structured answers, if any); the future resolves to its
        Suggestion or to the error for it.

        Bad input (empty, too long) fails this text's future at once and never reaches a batch,
        so one bad request cannot fail the others.
        """
        future: Future[Suggestion] = Future()
        try:
            self.classifier.check_text(text)
        except InputTextError as exc:
            future.set_exception(exc)
            return future
        with self._close_lock:
            if self._closed:
                raise BatcherClosedError("the dynamic batcher is closed")
            self._queue.put(_Request(text, future, case))
        return future

    def suggest(
        self, text: str, case: StructuredCase | None = None, timeout: float | None = None
    ) -> Suggestion:
        """Blocking ``submit(text, case).result()``; raises the request's error, if any."""
        return self.submit(text, case).result(timeout=timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop accepting requests, finish those already queued, stop the thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    def __enter__(self) -> DynamicBatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- batching thread -----------------------------------------------------------------------

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        """The first request plus whatever arrives within the wait budget; (batch, stop seen)."""
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            assert isinstance(item, _Request)
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            assert isinstance(item, _Request)
            batch, stop = self._collect(item)
            live = [request for request in batch if request.future.set_running_or_notify_cancel()]
            if not live:
                continue
            BATCH_SIZE.observe(len(live))
            try:
                results = self.classifier.suggest(
                    [request.text for request in live],
                    explain=self.explain,
                    cases=[request.case for request in live],
                )
            except BaseException as exc:  # the batch's callers get the error, the thread lives on
                for request in live:
                    request.future.set_exception(exc)
            else:
                for request, result in zip(live, results, strict=True):
                    request.future.set_result(result)
            self.batches_run += 1
        # Requests that were queued behind the stop marker (none, since submit refuses after
        # close, but be safe): fail them rather than leave callers waiting forever.
        while True:
            try:
                leftover = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(leftover, _Request) and leftover.future.set_running_or_notify_cancel():
                leftover.future.set_exception(BatcherClosedError("the dynamic batcher is closed"))
