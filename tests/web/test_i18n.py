"""The translation layer: a new language is a catalogue, not a change to every template."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from fastapi.testclient import TestClient

from medconsult import i18n


@pytest.fixture
def test_locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    catalog = Catalog(locale="de")
    catalog.add("Sign in", "Anmelden")
    catalog.add("Incorrect email or password.", "E-Mail oder Passwort ist falsch.")
    target = tmp_path / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    monkeypatch.setattr(i18n, "SUPPORTED_LOCALES", ("en", "de"))
    i18n.translations_for.cache_clear()
    yield "de"
    i18n.translations_for.cache_clear()


class TestNegotiateLocale:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (None, "en"),
            ("fr-FR,fr;q=0.9", "en"),
            ("de-DE,de;q=0.9,en;q=0.5", "de"),
            ("en;q=0.9,de;q=1.0", "de"),
            ("de;q=bogus", "en"),
        ],
    )
    def test_picks_best_supported(
        self, test_locale: str, header: str | None, expected: str
    ) -> None:
        assert i18n.negotiate_locale(header) == expected


class TestTranslatedPages:
    def test_templates_and_service_messages_follow_the_catalogue(
        self, client: TestClient, test_locale: str
    ) -> None:
        headers = {"Accept-Language": test_locale}

        page = client.get("/login", headers=headers)
        english = client.get("/login")

        assert "Anmelden" in page.text
        assert "Anmelden" not in english.text
        assert "Sign in" in english.text

    def test_untranslated_strings_fall_back_to_english(
        self, client: TestClient, test_locale: str
    ) -> None:
        page = client.get("/register", headers={"Accept-Language": test_locale})

        assert "Create a patient account" in page.text
