"""What the patient is told to do for a red flag, by category. Torch-free.

Every string is an English msgid, translated when shown; the local emergency number and crisis
line come from settings (``MEDCONSULT_EMERGENCY_NUMBER``, ``MEDCONSULT_CRISIS_LINE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medconsult.config import Settings
from medconsult.i18n import N_, _
from medconsult.triage.rules import CATEGORIES, Flag

# One action per category, on top of "call the emergency number now". Written from the NHS
# first-aid pages for each condition; %(number)s is the local emergency number.
ACTIONS: dict[str, str] = {
    "chest_pain": N_("Sit down and rest while you wait. Do not drive yourself to hospital."),
    "stroke": N_("Note the time the symptoms started: it decides the treatment."),
    "thunderclap_headache": N_("Do not wait to see if the headache settles."),
    "meningitis": N_("Do not wait for a rash to appear or get worse."),
    "anaphylaxis": N_(
        "If you have an adrenaline auto-injector, use it now, then lie down with your legs raised "
        "(sit up if breathing is hard)."
    ),
    "overdose_poisoning": N_(
        "Keep the packet or bottle with you. Do not try to make yourself sick."
    ),
    "suicidal": N_("Stay with someone you trust, or ask someone to come to you."),
    "self_harm": N_("If you are bleeding, press firmly on the wound with a clean cloth."),
    "harm_to_others": N_(
        "If someone is in danger now, move away from them or ask them to leave, and keep away "
        "from anything that could be used as a weapon."
    ),
    "severe_bleeding": N_("Press firmly on any wound with a clean cloth and do not let go."),
    "sepsis": N_("Say that you are worried about sepsis."),
    "breathing": N_("Sit upright. If you have a reliever inhaler, keep using it while you wait."),
    "altered_consciousness": N_(
        "If the person is breathing but not awake, lay them on their side."
    ),
    "seizure": N_(
        "Move things away that could hurt them; do not hold them down or put anything in their "
        "mouth."
    ),
    "head_injury": N_("Do not stay alone and do not drive."),
    "diabetic_emergency": N_(
        "If the sugar is low and the person can swallow, give a sugary drink or glucose tablets."
    ),
    "cauda_equina": N_("Go to the emergency department now; this needs a scan today."),
    "ectopic_pregnancy": N_("Go to the emergency department now."),
    "testicular_torsion": N_(
        "Go to the emergency department now: this needs surgery within hours."
    ),
    "severe_abdominal_pain": N_("Do not eat or drink until you have been seen."),
    "infant_fever": N_("Babies under 3 months with a fever need to be seen straight away."),
    "severe_burn": N_(
        "Cool the burn under cool running water for 20 minutes; do not use ice or creams."
    ),
    "vision_loss": N_("Go to the emergency department now."),
    "ingestion": N_(
        "Go to the emergency department now. Do not make them sick and give nothing to eat or "
        "drink."
    ),
    "vital_signs": N_("Call the emergency number now and tell them the readings you took."),
    "severe_pain": N_(
        "Keep still in the position that hurts least, do not drive yourself, and do not eat or "
        "drink until you have been seen."
    ),
    "serious_injury": N_(
        "Keep the injured part still and press on any bleeding with a clean cloth. If the neck "
        "or back may be hurt, do not move the person."
    ),
    "pregnancy_warning": N_(
        "Call your maternity unit straight away as well and tell them what is happening; do not "
        "wait for your next appointment."
    ),
}


@dataclass(frozen=True)
class Advice:
    """The banner for a flagged consultation, already translated."""

    title: str
    body: str
    crisis: str | None
    actions: tuple[str, ...]
    reasons: tuple[str, ...]


def advice_for(flags: Sequence[Flag], settings: Settings) -> Advice | None:
    """What the patient should do for these flags (None without flags). Suicide, self-harm and
    overdose come first: call now even if you feel fine, and a crisis line."""
    if not flags:
        return None
    number = {"number": settings.emergency_number}
    categories = list(dict.fromkeys(flag.category for flag in flags if flag.category in CATEGORIES))
    crisis = any(CATEGORIES[key].advice == "crisis" for key in categories)
    if crisis:
        title = _("Call %(number)s now, even if you feel fine.") % number
        body = _(
            "What you describe needs help straight away. Some overdoses do not make you feel "
            "unwell until it is too late to treat them. Do not wait for the doctor's review."
        )
        crisis_line = _(
            "If you are having thoughts of suicide or self-harm, you can also talk to someone now, "
            "day or night: %(line)s."
        ) % {"line": settings.crisis_line}
    else:
        title = _("Seek emergency care now: call %(number)s.") % number
        body = (
            _(
                "Call %(number)s or go to the nearest emergency department. Do not wait for the "
                "doctor's review."
            )
            % number
        )
        crisis_line = None
    return Advice(
        title=title,
        body=body,
        crisis=crisis_line,
        actions=tuple(_(ACTIONS[key]) % number for key in categories if key in ACTIONS),
        reasons=tuple(_(CATEGORIES[key].reason) for key in categories),
    )
