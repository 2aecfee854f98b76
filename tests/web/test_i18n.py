"""The translation layer: a new language is a catalogue, not a change to every template."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
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


# --- The shipped Chinese catalogue -------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
ZH_PO = REPO / "src" / "medconsult" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


def _read_catalogue() -> Catalog:
    with ZH_PO.open("rb") as handle:
        return read_po(handle, locale="zh_CN")


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


class TestChineseCatalogue:
    def test_every_message_is_translated_and_none_is_fuzzy(self) -> None:
        catalogue = _read_catalogue()
        messages = [message for message in catalogue if message.id]

        untranslated = [message.id for message in messages if not _translated(message)]
        fuzzy = [message.id for message in messages if message.fuzzy]

        assert messages, "the catalogue is empty"
        assert untranslated == [], "untranslated (run scripts/i18n.sh and translate them)"
        assert fuzzy == [], "fuzzy (review the translation, then remove the fuzzy flag)"

    def test_translations_keep_every_placeholder(self) -> None:
        mismatched = []
        for message in _read_catalogue():
            if not message.id:
                continue
            source = message.id if isinstance(message.id, str) else message.id[-1]
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for string in strings:
                if sorted(_PLACEHOLDER.findall(source)) != sorted(_PLACEHOLDER.findall(string)):
                    mismatched.append(source)

        assert mismatched == []

    def test_catalogue_is_up_to_date_with_the_sources(self, tmp_path: Path) -> None:
        pot = tmp_path / "messages.pot"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "babel.messages.frontend",
                "extract",
                "-F",
                "babel.cfg",
                "-k",
                "_",
                "-k",
                "N_",
                "--no-location",
                "-o",
                str(pot),
                ".",
            ],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        with pot.open("rb") as handle:
            extracted = {
                message.id if isinstance(message.id, str) else message.id[0]
                for message in read_po(handle)
                if message.id
            }
        committed = {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in _read_catalogue()
            if message.id
        }

        assert sorted(extracted - committed) == [], "new strings: run scripts/i18n.sh"
        assert sorted(committed - extracted) == [], "stale strings: run scripts/i18n.sh"

    def test_the_app_compiles_and_uses_it(self, client: TestClient) -> None:
        i18n.translations_for.cache_clear()

        page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})

        assert '<html lang="zh-CN">' in page.text
        assert "登录" in page.text
        assert "Sign in" not in page.text

    def test_patient_facing_labels_and_red_flag_reasons_are_in_it(self) -> None:
        from medconsult.ml.labels import all_labels
        from medconsult.review.advice import library
        from medconsult.triage.rules import CATEGORIES

        catalogue = _read_catalogue()
        wanted = [
            *(label.display_name for label in all_labels()),
            *(label.description for label in all_labels()),
            *(category.reason for category in CATEGORIES.values()),
            *(text for entry in library().values() for text in entry.texts()),
        ]

        assert [text for text in wanted if not catalogue.get(text)] == []


class TestRuntimeMessageIds:
    def test_values_templates_translate_by_variable_are_in_the_catalogue(self) -> None:
        """Strings translated through a variable (``_(urgency_names[u])``) reach the catalogue
        only when marked with N_; this catches a table that was not."""
        from medconsult.accounts.models import Role
        from medconsult.admin import web as admin_web
        from medconsult.audit.models import Outcome
        from medconsult.diagnosis import service as diagnosis_service
        from medconsult.notifications import service as notifications_service
        from medconsult.patients.models import Sex
        from medconsult.review import web as review_web

        catalogue = _read_catalogue()
        runtime = [
            *(name for _value, name in review_web.STATUS_FILTERS),
            *review_web.STATUS_NAMES.values(),
            *review_web.URGENCY_NAMES.values(),
            *admin_web.DONE_MESSAGES.values(),
            *notifications_service.TITLES.values(),
            *diagnosis_service.ABSTAIN_REASON_LABELS.values(),
            *diagnosis_service.BAND_LABELS.values(),
            *(role.value for role in Role),
            *(outcome.value for outcome in Outcome),
            *(sex.value for sex in Sex),
            *(sex.value.capitalize() for sex in Sex),
        ]

        assert [text for text in runtime if not catalogue.get(text)] == []
