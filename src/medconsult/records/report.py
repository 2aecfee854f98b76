"""The printable consultation report: a PDF drawn with fpdf2 from the stored record.

The text is set in a Unicode TrueType font embedded in the file (``report_font_path``, by
default the DejaVu Sans that matplotlib ships), so names and complaints in any Latin, Greek or
Cyrillic script print as typed. Chinese (and any other CJK text, typed by a patient or from the
Chinese catalogue) is set in Noto Sans CJK SC, used as a fallback font for the characters the
main font lacks: the project's set-up installs it (Debian ``fonts-noto-cjk``), and its path is
looked up when a report is drawn. Nothing is fetched at run time; without the font the report
is still printed, with a logged warning, and its CJK characters are left out.

The report speaks the reader's language: its labels go through gettext in the request's locale
and its times are shown in the reader's time zone (``i18n.format_dt``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from medconsult import i18n
from medconsult.consultations.models import Consultation, ReportFile
from medconsult.diagnosis.models import AISuggestion
from medconsult.diagnosis.service import ABSTAIN_REASON_LABELS
from medconsult.errors import ServiceUnavailable
from medconsult.i18n import _
from medconsult.interview.questionnaire import AnswerView
from medconsult.ml.language import UNSUPPORTED_LANGUAGE, is_cjk
from medconsult.patients.models import PatientProfile
from medconsult.review.models import DoctorReview

log = logging.getLogger(__name__)

FONT = "ReportSans"
CJK_FONT = "ReportCJK"
# Where Debian's fonts-noto-cjk puts Noto Sans CJK (a collection: face 2 is Simplified Chinese),
# then other common places; the first that exists is used.
CJK_FONT_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"), 0),
)


@dataclass(frozen=True)
class ReportContent:
    consultation: Consultation
    profile: PatientProfile | None
    reports: list[ReportFile]
    interview_answers: tuple[AnswerView, ...]  # the intake interview, in the reader's language
    suggestion: AISuggestion | None  # None where the reader may not see it yet
    review: DoctorReview | None  # the current signed conclusion
    doctor_name: str
    generated_at: datetime


def default_font_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def _fonts(font_path: Path | None) -> tuple[Path, Path]:
    regular = font_path or default_font_path()
    if not regular.is_file():
        raise ServiceUnavailable(_("The report font is missing; reports cannot be printed."))
    bold = regular.with_name(regular.stem + "-Bold" + regular.suffix)
    return regular, bold if bold.is_file() else regular


def cjk_font() -> tuple[Path, int] | None:
    """The installed CJK font (path, face number in the collection), or None."""
    for path, face in CJK_FONT_CANDIDATES:
        if path.is_file():
            return path, face
    return None


def _stamp(value: datetime) -> str:
    return i18n.format_dt(value)


class _Report(FPDF):
    def __init__(self, regular: Path, bold: Path, cjk: tuple[Path, int] | None) -> None:
        super().__init__(format="A4")
        self.add_font(FONT, "", str(regular))
        self.add_font(FONT, "B", str(bold))
        if cjk is not None:
            path, face = cjk
            bold_cjk = path.with_name(path.name.replace("-Regular", "-Bold"))
            self.add_font(CJK_FONT, "", str(path), collection_font_number=face)
            self.add_font(
                CJK_FONT,
                "B",
                str(bold_cjk if bold_cjk.is_file() else path),
                collection_font_number=face,
            )
            # Characters the main font lacks come from the CJK font, in the same style.
            self.set_fallback_fonts([CJK_FONT], exact_match=False)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 6, _("Page %(page)d") % {"page": self.page_no()}, align="C")

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(2)
        self.set_font(FONT, "B", size)
        self.multi_cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=10)

    def paragraph(self, text: str) -> None:
        self.set_font(FONT, size=10)
        self.multi_cell(0, 5.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fact(self, label: str, value: str) -> None:
        self.set_font(FONT, "B", 10)
        self.multi_cell(0, 5.5, label, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.paragraph(value or "-")


def render_pdf(content: ReportContent, *, font_path: Path | None = None) -> bytes:
    """The report as PDF bytes."""
    regular, bold = _fonts(font_path)
    cjk = cjk_font()
    if cjk is None and (i18n.current_locale.get() == "zh_CN" or _has_cjk(content)):
        log.warning(
            "no CJK font found (install Debian fonts-noto-cjk, or set MEDCONSULT_REPORT_FONT_PATH "
            "to a font with Chinese glyphs): the report's Chinese characters are left out"
        )
    pdf = _Report(regular, bold, cjk)
    consultation = content.consultation
    pdf.set_title(_("Consultation report"))
    pdf.set_creator("MedConsult")
    pdf.set_creation_date(content.generated_at)
    pdf.add_page()

    pdf.heading(_("Consultation report"), size=16)
    pdf.paragraph(
        _("Consultation %(id)s, submitted %(when)s. Printed %(now)s.")
        % {
            "id": consultation.id,
            "when": _stamp(consultation.submitted_at),
            "now": _stamp(content.generated_at),
        }
    )

    pdf.heading(_("Patient"))
    profile = content.profile
    pdf.fact(_("Name"), (profile.full_name if profile else "") or consultation.patient.full_name)
    if profile is not None:
        pdf.fact(
            _("Date of birth"),
            i18n.format_day(profile.date_of_birth) if profile.date_of_birth else "",
        )
        pdf.fact(_("Sex"), _(profile.sex.value.capitalize()))
        pdf.fact(_("Allergies"), profile.allergies)

    pdf.heading(_("What the patient reported"))
    pdf.fact(_("Main complaint"), consultation.chief_complaint)
    pdf.fact(_("History of the complaint"), consultation.history)
    pdf.fact(_("Past medical history"), consultation.past_history)
    pdf.fact(_("Current medications"), consultation.current_medications)

    if content.interview_answers:
        pdf.heading(_("Intake interview"))
        for answer in content.interview_answers:
            pdf.fact(answer.question, answer.answer)

    pdf.heading(_("Report files"))
    if content.reports:
        for report in content.reports:
            pdf.paragraph(
                _("%(name)s (%(type)s, %(size)d bytes, uploaded %(when)s)")
                % {
                    "name": report.original_name,
                    "type": report.content_type,
                    "size": report.size_bytes,
                    "when": _stamp(report.created_at),
                }
            )
    else:
        pdf.paragraph(_("No report files were uploaded."))

    pdf.heading(_("The doctor's conclusion"))
    review = content.review
    if review is None:
        pdf.paragraph(_("No doctor has signed a conclusion yet."))
    else:
        diagnosis = review.final_diagnosis or _("No diagnosis: the AI suggestions were rejected.")
        if review.icd10_code:
            diagnosis = f"{diagnosis} (ICD-10 {review.icd10_code})"
        pdf.fact(_("Diagnosis"), diagnosis)
        if review.reject_reason:
            pdf.fact(_("Reason"), review.reject_reason)
        pdf.fact(_("Advice"), review.advice)
        pdf.fact(_("Signed by"), content.doctor_name)
        pdf.fact(_("Signed at"), _stamp(review.signed_at))

    pdf.heading(_("AI suggestion (decision support only)"))
    suggestion = content.suggestion
    if suggestion is None:
        pdf.paragraph(_("No AI suggestion is shown in this report."))
    else:
        pdf.paragraph(
            _(
                "This is decision support, not a diagnosis: a doctor reviews every consultation "
                "and the signed conclusion above is what counts."
            )
        )
        pdf.fact(_("Model version"), suggestion.model_version)
        if UNSUPPORTED_LANGUAGE in (suggestion.abstain_reasons or []):
            pdf.paragraph(_(ABSTAIN_REASON_LABELS[UNSUPPORTED_LANGUAGE]))
        elif suggestion.abstained:
            pdf.paragraph(_("The model abstained: no suggestion was confident enough."))
        for rank, row in enumerate(suggestion.ranked[:5], start=1):
            code = f" ({row['icd10']})" if row.get("icd10") else ""
            name = _(str(row.get("display_name") or "")) or row.get("label")
            pdf.paragraph(f"{rank}. {name}{code}: {i18n.format_percent(float(row['probability']))}")
    return bytes(pdf.output())


def _has_cjk(content: ReportContent) -> bool:
    consultation = content.consultation
    texts = (
        consultation.chief_complaint,
        consultation.history,
        consultation.past_history,
        consultation.current_medications,
        content.review.advice if content.review else "",
        content.profile.full_name if content.profile else "",
        *(answer.answer for answer in content.interview_answers),
    )
    return any(is_cjk(char) for text in texts if text for char in text)
