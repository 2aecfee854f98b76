"""The product in Chinese in a real browser: the switcher (no JavaScript needed), registration,
a consultation with a Chinese description (red-flag banner in Chinese, the model abstains
because it reads only English), the doctor's view of the same case in either language, and axe
accessibility checks on the Chinese pages."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations.models import Consultation
from tests.browser import sign_in
from tests.factories import DEFAULT_PASSWORD, create_consultation, create_doctor, create_patient

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


@pytest.fixture
def chinese_case(engine: Engine) -> Iterator[dict[str, Any]]:
    """A patient who saved Chinese as their language, a Chinese chest-pain text, a doctor."""
    tag = secrets.token_hex(4)
    with Session(engine) as session, session.begin():
        doctor = create_doctor(session, email=f"doctor-zh-{tag}@example.org")
        patient = create_patient(session, email=f"patient-zh-{tag}@example.org", full_name="王芳")
        patient.locale = "zh_CN"
        consultation = create_consultation(
            session,
            patient=patient,
            chief_complaint=f"胸痛 {tag}",
            history="胸口正中闷痛，走路时加重，休息后好一些。",
        )
        seeded = {
            "doctor": doctor.email,
            "patient": patient.email,
            "consultation_id": consultation.id,
            "user_ids": [doctor.id, patient.id],
        }
    yield seeded
    with Session(engine) as session, session.begin():
        consultation_id: uuid.UUID = seeded["consultation_id"]
        session.execute(delete(Consultation).where(Consultation.id == consultation_id))
        session.execute(delete(User).where(User.id.in_(seeded["user_ids"])))


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= character <= "\u9fff" for character in text)


class TestChineseInterview:
    def test_patient_answers_in_chinese_and_the_doctor_reads_both_languages(
        self, page: Any, chinese_case: dict[str, Any]
    ) -> None:
        consultation = chinese_case["consultation_id"]
        # Signed out the page is English; the saved preference switches it after sign-in.
        sign_in(page, chinese_case["patient"])
        page.goto(f"/consultations/{consultation}")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        page.get_by_role("button", name="开始回答问题").click()
        page.wait_for_url(re.compile(r"/interview$"))

        questions: list[str] = []
        for _ in range(25):
            if page.locator("#interview-done").count():
                break
            question = page.locator("fieldset.question legend").inner_text()
            # Every question of the questionnaire reads in Chinese, from the reviewed data file.
            assert _has_chinese(question), question
            questions.append(question)
            group = page.get_by_role("group", name=question)
            assert group.get_by_label("不知道", exact=True).count() == 1
            if group.get_by_label("是", exact=True).count():
                group.get_by_label("是", exact=True).check()
            else:
                choice = group.locator("input").first
                choice_label = group.locator(f"label[for='{choice.get_attribute('id')}']")
                label_text = choice_label.inner_text()
                assert _has_chinese(label_text) or label_text.strip().isdigit(), label_text
                choice.check()
            page.get_by_role("button", name="下一题").click()
            page.wait_for_function(
                "q => !document.querySelector('fieldset.question legend')"
                " || document.querySelector('fieldset.question legend').innerText !== q",
                arg=question,
            )

        assert page.locator("#interview-done").is_visible()
        assert questions
        assert page.locator(".interview-answers dt").all_inner_texts() == questions
        assert _axe_violations(page) == []

        # The doctor reads the same answers in English (no preference saved), then in Chinese.
        page.context.clear_cookies()
        sign_in(page, chinese_case["doctor"])
        case_path = f"/doctor/consultations/{consultation}"
        page.goto(case_path)
        summary = page.get_by_test_id("interview-summary")
        assert summary.get_by_role("heading", name="Questions about the symptoms").is_visible()
        english = summary.locator(".interview-answers dt").all_inner_texts()
        assert len(english) == len(questions)
        assert not any(_has_chinese(text) for text in english)
        assert summary.locator("table.interview-differential tbody tr").count() >= 1

        page.get_by_label("Language").select_option("zh_CN")
        page.get_by_role("button", name="Change language").click()
        page.wait_for_url(re.compile(re.escape(case_path) + "$"))
        summary = page.get_by_test_id("interview-summary")
        assert summary.get_by_role("heading", name="关于症状的问题").is_visible()
        assert summary.locator(".interview-answers dt").all_inner_texts() == questions
        # Condition names in Chinese; the ICD-10 codes elsewhere on the page are unchanged.
        leading = summary.locator("table.interview-differential tbody tr td").first.inner_text()
        assert _has_chinese(leading), leading
