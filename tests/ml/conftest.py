"""Fixtures for the classifier tests: one tiny, real artifact per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Never reach a model hub from any test.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medconsult.ml.testing import build_tiny_artifact

    return build_tiny_artifact(tmp_path_factory.mktemp("ml-artifacts") / "20250101T000000Z-tiny")


@pytest.fixture(scope="session")
def tiny_classifier(tiny_artifact: Path):  # type: ignore[no-untyped-def]
    from medconsult.ml.predict import Classifier

    # fp32, the reference precision: the engine tests compare it with the plain forward exactly.
    return Classifier.load(tiny_artifact, device="cpu", precision="fp32", max_text_chars=20_000)


@pytest.fixture
def long_text() -> str:
    """A history far beyond one 128-token window, with a red flag near the end."""
    history = (
        "I have had a runny nose and sneezing for three days, with a mild sore throat. "
        "My temperature was normal this morning and I have been drinking plenty of water. "
    )
    return history * 12 + "Today I also have chest pain and shortness of breath."
