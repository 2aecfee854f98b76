"""The product in Chinese in a real browser: the switcher (no JavaScript needed), registration,
a consultation with a Chinese description (red-flag banner in Chinese, the model abstains
because it reads only English), the doctor's view of the same case in either language, and axe
accessibility checks on the Chinese pages."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.factories import DEFAULT_PASSWORD, create_doctor

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple 42"


def _axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the current page (axe.js ships in the Python package)."""
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    results = axe_module.Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']} at {node['target']}: {node['failureSummary']}"
        for violation in results.response["violations"]
        for node in violation["nodes"]
    ]


@pytest.fixture
def doctor_email(engine: Engine) -> str:
    with Session(engine) as session, session.begin():
        doctor = create_doctor(
            session, email=f"doctor-zh-{secrets.token_hex(4)}@example.org", full_name="Dr Lin"
        )
        email = doctor.email
    return email


class TestChinesePatientJourney:
    def test_register_and_consult_in_chinese_then_the_doctor_reads_it(
        self, page: Any, browser: Any, live_server: str, doctor_email: str
    ) -> None:
        # Signed out, in English: the switcher is a plain form.
        page.goto("/register")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_label("Language").select_option("zh_CN")
        page.get_by_role("button", name="Change language").click()

        page.wait_for_url(re.compile(r"/register$"))
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.get_by_role("heading", name="创建患者账户").is_visible()
        assert _axe_violations(page) == []

        page.get_by_label("姓名").fill("李华")
        page.get_by_label("电子邮箱").fill(f"patient-zh-{secrets.token_hex(6)}@example.org")
        page.get_by_label("密码", exact=True).fill(PASSWORD)
        page.get_by_label("再次输入密码").fill(PASSWORD)
        page.get_by_role("button", name="创建账户").click()
        page.wait_for_url(re.compile(r"/profile"))
        assert page.get_by_role("link", name="我的问诊").is_visible()

        page.goto("/consultations/new")
        page.get_by_label("主要问题是什么？").fill("Crushing chest pain")
        page.get_by_label("描述您的症状").fill(
            "今天早上开始胸口压榨样疼痛，已经一个小时了，出冷汗，喘不上气，疼痛往左手臂放射。"
        )
        page.get_by_label("我同意由 AI 系统分析").check()
        page.get_by_role("button", name="提交问诊").click()

        page.wait_for_url(re.compile(r"/consultations/[0-9a-f-]{36}$"))
        consultation_path = page.url.removeprefix(live_server)
        # The red-flag banner, in Chinese, from the rules run when the case was stored.
        banner = page.get_by_test_id("red-flag-advice")
        assert "请立即寻求急救：拨打" in banner.inner_text()
        assert "可能是心脏病发作的胸痛" in banner.inner_text()
        # The English model does not read a Chinese description: it says so plainly.
        notice = page.get_by_test_id("unsupported-language")
        notice.wait_for(timeout=90_000)
        assert "AI 系统只能读取英文描述" in notice.inner_text()
        assert page.locator("ol.suggestions li").count() == 0
        assert _axe_violations(page) == []

        # The doctor, in English by default, then in Chinese, on the same case.
        context = browser.new_context(base_url=live_server)
        context.set_default_timeout(15_000)
        doctor = context.new_page()
        try:
            doctor.goto("/login")
            doctor.get_by_label("Email").fill(doctor_email)
            doctor.get_by_label("Password").fill(DEFAULT_PASSWORD)
            doctor.get_by_role("button", name="Sign in").click()
            doctor.wait_for_url(re.compile(r"/doctor$"))
            case_path = consultation_path.replace("/consultations/", "/doctor/consultations/")
            doctor.goto(case_path)
            assert doctor.get_by_text(
                "Unsupported language: the text is mostly Chinese"
            ).is_visible()
            # The patient's own Chinese words, as the doctor reads them.
            assert "胸口压榨样疼痛" in doctor.locator(".analysed-text").inner_text()

            doctor.get_by_label("Language").select_option("zh_CN")
            doctor.get_by_role("button", name="Change language").click()
            doctor.wait_for_url(re.compile(re.escape(case_path) + "$"))
            assert doctor.locator("html").get_attribute("lang") == "zh-CN"
            assert doctor.get_by_text("不支持的语言：文本主要为中文").is_visible()
            assert doctor.get_by_role("button", name="认领此病例").is_visible()
            assert _axe_violations(doctor) == []
        finally:
            context.close()
