"""Waiting on real worker and server processes in tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

WAIT_SECONDS = 240  # two CPU cores shared with other test runs: loading torch takes a while


def wait_for(condition: Callable[[], bool], what: str, logs: Callable[[], str]) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` and the processes' ``logs``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}\n{logs()}")
