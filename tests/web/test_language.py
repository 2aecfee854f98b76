"""Language choice (saved preference > switcher cookie > Accept-Language > English), the
switcher on every page, the preferences page and times shown in the user's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult import i18n
from medconsult.web.language import LANGUAGE_COOKIE
from tests.factories import create_consultation, create_patient, csrf, login

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


class TestChooseLocale:
    @pytest.mark.parametrize(
        ("preference", "cookie", "header", "expected"),
        [
            ("zh_CN", "en", "en", "zh_CN"),  # the saved preference wins
            (None, "zh_CN", "en-GB,en;q=0.9", "zh_CN"),  # then the switcher's cookie
            (None, None, "zh-CN,zh;q=0.9,en;q=0.5", "zh_CN"),  # then Accept-Language
            (None, None, "zh-Hans", "zh_CN"),
            (None, None, "zh-TW,zh-Hant;q=0.9", "en"),  # Traditional is not Simplified
            (None, None, "fr-FR,de;q=0.8", "en"),  # else English
            (None, None, None, "en"),
            ("klingon", "bogus", "en", "en"),  # unsupported values are ignored
        ],
    )
    def test_order(
        self, preference: str | None, cookie: str | None, header: str | None, expected: str
    ) -> None:
        assert (
            i18n.choose_locale(preference=preference, cookie=cookie, accept_language=header)
            == expected
        )


class TestNegotiationThroughTheApp:
    def test_accept_language_without_a_user(self, client: TestClient) -> None:
        page = client.get("/login", headers=ZH)

        assert '<html lang="zh-CN">' in page.text
        assert "登录" in page.text

    def test_english_by_default(self, client: TestClient) -> None:
        page = client.get("/login")

        assert '<html lang="en">' in page.text
        assert "Sign in" in page.text

    def test_saved_preference_beats_accept_language(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        patient.locale = "zh_CN"
        login(client, session, patient)

        page = client.get("/consultations", headers={"Accept-Language": "en-GB,en;q=0.9"})

        assert '<html lang="zh-CN">' in page.text
        assert "我的问诊" in page.text

    def test_english_preference_beats_a_chinese_browser(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        patient.locale = "en"
        login(client, session, patient)

        page = client.get("/consultations", headers=ZH)

        assert '<html lang="en">' in page.text
        assert "My consultations" in page.text

    def test_error_pages_speak_the_chosen_language(self, client: TestClient) -> None:
        page = client.get("/no-such-page", headers=ZH)

        assert page.status_code == 404
        assert "页面未找到。" in page.text


class TestSwitcher:
    @pytest.mark.parametrize("path", ["/", "/login", "/register"])
    def test_on_signed_out_pages(self, client: TestClient, path: str) -> None:
        page = client.get(path)

        assert 'action="/language"' in page.text
        assert 'name="csrf_token"' in page.text
        assert "简体中文" in page.text

    def test_signed_out_choice_is_a_cookie(self, client: TestClient) -> None:
        token = csrf(client)

        response = client.post(
            "/language",
            data={"locale": "zh_CN", "next": "/register", "csrf_token": token},
            follow_redirects=False,
        )
        page = client.get("/register")

        assert response.status_code == 303
        assert response.headers["location"] == "/register"
        assert client.cookies.get(LANGUAGE_COOKIE) == "zh_CN"
        assert "创建患者账户" in page.text

    def test_needs_a_csrf_token(self, client: TestClient) -> None:
        response = client.post("/language", data={"locale": "zh_CN", "next": "/"})

        assert response.status_code == 403

    def test_never_redirects_off_site(self, client: TestClient) -> None:
        token = csrf(client)

        response = client.post(
            "/language",
            data={"locale": "en", "next": "//evil.example/", "csrf_token": token},
            follow_redirects=False,
        )

        assert response.headers["location"] == "/"

    def test_refuses_an_unsupported_language(self, client: TestClient) -> None:
        token = csrf(client)

        response = client.post("/language", data={"locale": "xx", "next": "/", "csrf_token": token})

        assert response.status_code == 422

    def test_signed_in_choice_is_saved_on_the_account(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        token = login(client, session, patient)

        client.post(
            "/language",
            data={"locale": "zh_CN", "next": "/consultations", "csrf_token": token},
            follow_redirects=False,
        )
        session.refresh(patient)

        assert patient.locale == "zh_CN"


class TestPreferencesPage:
    def test_saves_language_and_time_zone(self, client: TestClient, session: Session) -> None:
        patient = create_patient(session)
        token = login(client, session, patient)

        response = client.post(
            "/account/preferences",
            data={"locale": "zh_CN", "time_zone": "Asia/Shanghai", "csrf_token": token},
            follow_redirects=False,
        )
        session.refresh(patient)

        assert response.status_code == 303
        assert (patient.locale, patient.time_zone) == ("zh_CN", "Asia/Shanghai")

    def test_refuses_an_unknown_time_zone(self, client: TestClient, session: Session) -> None:
        patient = create_patient(session)
        token = login(client, session, patient)

        response = client.post(
            "/account/preferences",
            data={"locale": "", "time_zone": "Mars/Olympus", "csrf_token": token},
        )

        assert response.status_code == 422
        assert "Please choose a time zone from the list." in response.text

    def test_times_are_shown_in_the_users_zone(self, client: TestClient, session: Session) -> None:
        patient = create_patient(session)
        patient.time_zone = "Asia/Shanghai"
        patient.locale = "zh_CN"
        consultation = create_consultation(session, patient=patient)
        consultation.submitted_at = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
        session.flush()
        login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}")

        # 23:30 UTC is 07:30 the next day in Shanghai, written the Chinese way.
        assert "2026年3月2日 07:30" in page.text


class TestFormatting:
    def test_dates_and_numbers_follow_the_locale(self) -> None:
        moment = datetime(2026, 12, 2, 10, 5, tzinfo=UTC)
        locale_token = i18n.current_locale.set("zh_CN")
        zone_token = i18n.current_time_zone.set("Asia/Shanghai")
        try:
            assert i18n.format_dt(moment).startswith("2026年12月2日 18:05")
            assert i18n.format_percent(0.253) == "25%"
            assert i18n.format_number(12345.678, 1) == "12,345.7"
        finally:
            i18n.current_locale.reset(locale_token)
            i18n.current_time_zone.reset(zone_token)

    def test_english_defaults(self) -> None:
        moment = datetime(2026, 12, 2, 10, 5, tzinfo=UTC)

        assert i18n.format_dt(moment) == "Dec 2, 2026 10:05 UTC"


class TestContexts:
    def test_one_english_word_keeps_two_translations_by_context(self) -> None:
        token = i18n.current_locale.set("zh_CN")
        try:
            assert i18n.gettext("Next") == "下一页"  # the next page of a list
            assert i18n.pgettext("interview", "Next") == "下一题"  # the next question
        finally:
            i18n.current_locale.reset(token)
        assert i18n.pgettext("interview", "Next") == "Next"

    def test_templates_translate_with_a_context(self) -> None:
        from medconsult.web.templating import templates

        token = i18n.current_locale.set("zh_CN")
        try:
            rendered = templates.env.from_string('{{ pgettext("interview", "Next") }}').render()
        finally:
            i18n.current_locale.reset(token)
        assert rendered == "下一题"
