from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medconsult.ml.triage import find_red_flags, triage_urgency
from medconsult.triage.rules import CATEGORIES, Flag, find_flags, is_negated, sentence_spans

DEV_SET = Path(__file__).resolve().parents[2] / "data" / "triage" / "dev.csv"

# (category, text that must raise it, a text sharing its words that must raise nothing)
CASES = [
    (
        "chest_pain",
        "Crushing chest pain going down my left arm.",
        "No chest pain, just a runny nose.",
    ),
    (
        "chest_pain",
        "My chest feels tight and I am sweating and short of breath.",
        "My chest hurts when I press on my ribs after the gym.",
    ),
    (
        "stroke",
        "Her face has dropped on one side and her speech is slurred.",
        "No slurred speech and no weakness on one side.",
    ),
    (
        "thunderclap_headache",
        "The worst headache of my life came on suddenly.",
        "A mild headache after a long day at the screen.",
    ),
    (
        "meningitis",
        "He has a rash that doesn't fade when I press a glass on it.",
        "A rash that fades when pressed, he is playing normally.",
    ),
    (
        "meningitis",
        "Stiff neck and a high fever since this morning.",
        "My neck is stiff from sleeping badly, no fever.",
    ),
    (
        "anaphylaxis",
        "After the peanut my throat is swelling up.",
        "My throat is sore and scratchy.",
    ),
    (
        "anaphylaxis",
        "My lips are swollen and I am wheezing after a wasp sting.",
        "My lips are chapped, not swollen, and I'm not wheezing.",
    ),
    (
        "overdose_poisoning",
        "I took a whole packet of paracetamol an hour ago.",
        "I took two paracetamol as the packet says.",
    ),
    (
        "overdose_poisoning",
        "My toddler drank some bleach.",
        "I cleaned the bathroom with bleach and the smell bothered me.",
    ),
    (
        "suicidal",
        "I want to end my life and I have a plan.",
        "I am not suicidal, just tired and low.",
    ),
    (
        "self_harm",
        "I have been cutting myself again.",
        "I cut my finger chopping onions.",
    ),
    (
        "severe_bleeding",
        "I cut my leg and the bleeding won't stop.",
        "A small nosebleed that stopped after ten minutes.",
    ),
    (
        "severe_bleeding",
        "My stools are black and tarry.",
        "No black stools, just a little blood on the paper with piles.",
    ),
    (
        "severe_bleeding",
        "I am 12 weeks pregnant and bleeding.",
        "I'm pregnant and feeling sick in the mornings, no bleeding.",
    ),
    (
        "severe_bleeding",
        "I vomited something that looked like coffee grounds.",
        "A bruise on my arm from the door.",
    ),
    (
        "sepsis",
        "He has a fever, he is confused and his skin is mottled.",
        "A slight fever with a cold, otherwise fine.",
    ),
    (
        "breathing",
        "I can't breathe and my lips are turning blue.",
        "I get a bit out of breath on the stairs.",
    ),
    (
        "breathing",
        "Asthma attack and my inhaler isn't helping.",
        "My asthma is controlled; I need a repeat inhaler.",
    ),
    (
        "breathing",
        "My child is drooling and can't swallow.",
        "My baby is teething and drooling but feeding well.",
    ),
    (
        "altered_consciousness",
        "My grandmother collapsed and is unresponsive.",
        "I have never fainted or collapsed.",
    ),
    (
        "seizure",
        "My son had a seizure for the first time.",
        "I'm fit and healthy, no seizures for years.",
    ),
    (
        "head_injury",
        "He hit his head and has been vomiting since.",
        "Bumped my head on the cupboard, a small lump, I feel fine.",
    ),
    (
        "diabetic_emergency",
        "I'm type 1 diabetic and my ketones are high.",
        "My diabetes is well controlled, no ketones.",
    ),
    (
        "cauda_equina",
        "Lower back pain and numbness around my bottom and genitals.",
        "Back pain after lifting boxes, no numbness in my groin.",
    ),
    (
        "ectopic_pregnancy",
        "I'm 6 weeks pregnant with sharp pain on one side of my tummy.",
        "Period pain on the first day as usual.",
    ),
    (
        "testicular_torsion",
        "Sudden severe pain in my left testicle.",
        "A small painless lump on my testicle.",
    ),
    (
        "severe_abdominal_pain",
        "Sudden severe stomach pain, I'm doubled over in pain.",
        "A mild stomach ache after a big meal.",
    ),
    (
        "infant_fever",
        "My 6 week old baby has a temperature of 38.5.",
        "My 6 week old has a blocked nose and no fever.",
    ),
    (
        "severe_burn",
        "The burn on my chest is bigger than my hand.",
        "A small burn from the oven, a little red.",
    ),
    (
        "vision_loss",
        "I suddenly lost the vision in my right eye.",
        "Blurry vision when I'm tired after reading.",
    ),
    (
        "ingestion",
        "My toddler swallowed a button battery.",
        "My son swallowed his chewing gum.",
    ),
    (
        "vital_signs",
        "My oxygen saturation is reading 88% on the pulse oximeter.",
        "My oxygen saturation is 97% and my pulse is 72.",
    ),
    (
        "vital_signs",
        "Blood pressure 82/50 and heart rate 134.",
        "My 6 month old's heart rate is 140 while crying, blood pressure not measured.",
    ),
    (
        "severe_pain",
        "The pain in my leg is 9 out of 10 since I fell off the ladder.",
        "My back pain is about 3/10 today, much better than last week.",
    ),
    (
        "serious_injury",
        "I came off my bike and the bone is sticking out of my shin.",
        "I sprained my wrist, it's a bit swollen but not bent or out of shape.",
    ),
    (
        "pregnancy_warning",
        "I'm 32 weeks pregnant and the baby hasn't moved since yesterday.",
        "I'm 28 weeks pregnant and the baby is moving as normal.",
    ),
    (
        "harm_to_others",
        "Voices are telling me to hurt my neighbour.",
        "I get so angry at work, I'd never hurt anyone.",
    ),
]


class TestCategories:
    @pytest.mark.parametrize(("category", "text", "_negative"), CASES)
    def test_positive_raises_the_category(self, category: str, text: str, _negative: str) -> None:
        flags = find_flags(text)

        assert category in {flag.category for flag in flags}

    @pytest.mark.parametrize(("category", "_positive", "text"), CASES)
    def test_shared_words_raise_nothing(self, category: str, _positive: str, text: str) -> None:
        assert find_flags(text) == []

    def test_every_category_is_covered(self) -> None:
        assert {category for category, _p, _n in CASES} == set(CATEGORIES)


class TestFlagRecord:
    def test_records_sentence_matched_words_and_reason(self) -> None:
        text = "I have had a cold. Now I have crushing chest pain and I am sweating. Help."

        [flag] = find_flags(text)

        assert flag.category == "chest_pain"
        assert flag.sentence == "Now I have crushing chest pain and I am sweating."
        assert text[flag.start : flag.end] == flag.matched_text
        assert flag.reason == CATEGORIES["chest_pain"].reason
        assert Flag.from_dict(flag.to_dict()) == flag

    def test_one_flag_per_category(self) -> None:
        flags = find_flags("I want to die. I want to kill myself.")

        assert [flag.category for flag in flags] == ["suicidal"]


class TestNegation:
    def test_negation_does_not_cross_a_clause(self) -> None:
        flags = find_flags("I have no fever, but I passed out twice today.")

        assert [flag.category for flag in flags] == ["altered_consciousness"]

    def test_negation_does_not_cross_a_new_statement(self) -> None:
        text = "No fever and I have crushing chest pain."

        assert [flag.category for flag in find_flags(text)] == ["chest_pain"]

    def test_cue_far_back_does_not_negate(self) -> None:
        text = "not that it matters much to anyone at all really, I collapsed"

        assert not is_negated(text, text.index("collapsed"))

    def test_sentences(self) -> None:
        text = "One. Two!\nThree; four"

        assert [text[s:e] for s, e in sentence_spans(text)] == ["One.", "Two!", "Three", "four"]


# (category, a positive text, the same finding negated): every category, in English.
NEGATED = [
    ("chest_pain", "Crushing chest pain and sweating.", "No crushing chest pain and no sweating."),
    ("stroke", "His face is drooping on one side.", "His face is not drooping on one side."),
    (
        "thunderclap_headache",
        "The worst headache of my life.",
        "Not the worst headache of my life.",
    ),
    ("meningitis", "A rash that doesn't fade under a glass.", "No petechiae or purpura."),
    ("anaphylaxis", "My throat is swelling up.", "My throat is not swelling up."),
    ("overdose_poisoning", "I took an overdose.", "I have not taken an overdose."),
    ("suicidal", "I want to kill myself.", "I don't want to kill myself."),
    ("self_harm", "I have been self-harming.", "I have never self-harmed."),
    ("severe_bleeding", "I am vomiting blood.", "I am not vomiting blood."),
    ("sepsis", "His skin is mottled.", "His skin is not mottled."),
    ("breathing", "I can't breathe.", "Denies respiratory distress or stridor."),
    ("altered_consciousness", "She passed out.", "She never passed out."),
    ("seizure", "He had a seizure.", "He has not had a seizure."),
    (
        "head_injury",
        "He hit his head and vomited twice.",
        "He hit his head, no vomiting, no drowsiness.",
    ),
    (
        "diabetic_emergency",
        "Diabetic with ketones and vomiting.",
        "Diabetic, negative for ketones.",
    ),
    (
        "cauda_equina",
        "Back pain and numbness around my bottom.",
        "Back pain without numbness around my bottom.",
    ),
    (
        "ectopic_pregnancy",
        "Pregnant with pain on one side of my tummy.",
        "Pregnant, no tummy pain and no bleeding.",
    ),
    ("testicular_torsion", "Sudden severe pain in my testicle.", "No testicular pain."),
    ("severe_abdominal_pain", "Severe abdominal pain.", "No severe abdominal pain."),
    ("infant_fever", "My 6 week old has a fever.", "My 6 week old has no fever."),
    ("severe_burn", "A chemical burn on my hand.", "No chemical burn, only a red mark."),
    ("vision_loss", "I suddenly lost my sight in one eye.", "No sudden loss of vision."),
    ("ingestion", "He swallowed a button battery.", "He did not swallow a button battery."),
    ("vital_signs", "Oxygen saturation 88%.", "Oxygen saturation not measured."),
    ("severe_pain", "Excruciating pain in my hip.", "No excruciating pain, just stiffness."),
    ("serious_injury", "He was hit by a car.", "He was not hit by a car, he tripped."),
    (
        "pregnancy_warning",
        "I'm 30 weeks and I've noticed reduced fetal movements.",
        "30 weeks, no reduced fetal movements.",
    ),
    ("harm_to_others", "He reports homicidal ideation.", "He denies homicidal ideation."),
]


class TestNegatedPerCategory:
    @pytest.mark.parametrize(("category", "text", "_negated"), NEGATED)
    def test_positive(self, category: str, text: str, _negated: str) -> None:
        assert category in {flag.category for flag in find_flags(text)}, text

    @pytest.mark.parametrize(("category", "_positive", "text"), NEGATED)
    def test_negated(self, category: str, _positive: str, text: str) -> None:
        assert find_flags(text) == [], text

    def test_every_category_is_covered(self) -> None:
        assert {case[0] for case in NEGATED} == set(CATEGORIES)


class TestClinicalWording:
    @pytest.mark.parametrize(
        ("category", "text"),
        [
            (
                "chest_pain",
                "A 58-year-old man presents with substernal chest pressure and diaphoresis.",
            ),
            ("stroke", "Patient reports acute right-sided weakness and aphasia."),
            ("meningitis", "Fever, headache and neck stiffness; dislikes bright light."),
            ("severe_bleeding", "He presents with haematemesis and melaena."),
            ("breathing", "In respiratory distress, lips turning blue."),
            ("sepsis", "Febrile, hypotensive and tachycardic after a urine infection."),
            ("vital_signs", "BP 84/52, HR 126, SpO2 90% on room air."),
        ],
    )
    def test_clinical_vignette_style_raises_the_category(self, category: str, text: str) -> None:
        assert category in {flag.category for flag in find_flags(text)}

    def test_denies_negates_the_whole_list(self) -> None:
        text = (
            "Patient denies chest pain, shortness of breath, palpitations, nausea, or diaphoresis."
        )

        assert find_flags(text) == []

    def test_list_negation_ends_at_a_new_statement(self) -> None:
        text = "She denies fever and reports crushing chest pain radiating to her jaw."

        assert [flag.category for flag in find_flags(text)] == ["chest_pain"]

    def test_past_findings_are_not_todays_emergency(self) -> None:
        assert find_flags("He had a stroke last year and needs a blood pressure review.") == []
        assert find_flags("I used to self-harm as a teenager.") == []
        assert find_flags("History of seizures, well controlled.") == []

    def test_a_present_finding_beside_a_past_one_still_flags(self) -> None:
        text = "She had a stroke in 2019. Today her face has dropped on one side."

        assert [flag.category for flag in find_flags(text)] == ["stroke"]

    def test_adult_pulse_threshold_is_not_used_for_a_child(self) -> None:
        assert find_flags("My 2 year old's heart rate is 140 when she cries.") == []
        assert find_flags("My heart rate is 140 at rest.")[0].category == "vital_signs"


class TestSeverePain:
    """The Manchester Triage System's general discriminator "severe pain" (7-10 out of 10) and
    ESI's level 2 "severe pain or distress": new, acute pain in the strongest words."""

    @pytest.mark.parametrize(
        "text",
        [
            "I'm in agony with my hip after a fall and can't get up.",
            "My husband is writhing on the floor with pain in his side.",
            "My son is screaming in pain and holding his arm.",
            "Worst pain I've ever had in my lower back, it came on an hour ago.",
            "A 45-year-old man presents with excruciating pain in his right foot.",
            "Patient rates her pain 8/10 after a fall onto her shoulder.",
            "The pain is unbearable and I can't keep still.",
            "Pain score 10/10 in the right calf since this morning.",
            "Seven out of ten pain in my wrist since I fell on it.",
        ],
    )
    def test_severe_acute_pain_flags(self, text: str) -> None:
        assert "severe_pain" in {flag.category for flag in find_flags(text)}, text

    @pytest.mark.parametrize(
        "text",
        [
            "My back pain is about 3/10 today.",
            "No severe pain, just an ache in my knee when I kneel.",
            "Denies severe pain; mild ache in the left wrist.",
            "Chronic back pain, 7/10 most days, I'd like a pain clinic referral.",
            "My usual period pain is severe on the first day, ibuprofen helps.",
            "Severe toothache for two days, I need a dentist.",
            "Pain 7/10 in my knee on stairs for years with osteoarthritis.",
            "Pain 8/10 when I stubbed my toe, it settled within minutes.",
            "A terrible ache in my legs after the marathon.",
            "He had excruciating pain from a kidney stone two years ago, none now.",
            "I scored my mood 8/10 this week.",
            "Knee pain 7/10 after football two weeks ago, getting better slowly.",
            "The worst pain I've ever had was giving birth, now I just have a cold.",
        ],
    )
    def test_mild_chronic_usual_or_resolved_pain_does_not(self, text: str) -> None:
        assert "severe_pain" not in {flag.category for flag in find_flags(text)}, text


class TestSeriousInjury:
    """NHS 999 / A&E criteria for injuries (a bone through the skin or a limb out of shape, a
    severed part, a stab wound, something driven into the eye, a fall and unable to get up),
    MTS gross deformity and open fracture, ESI and NICE NG41 dangerous mechanisms."""

    @pytest.mark.parametrize(
        "text",
        [
            "My dad fell off the roof and now has neck pain.",
            "The bone is poking through the skin of his forearm.",
            "A 30-year-old with an open fracture of the tibia.",
            "Her wrist is bent at a funny angle after she fell.",
            "My grandmother fell and can't get up.",
            "My grandad fell and hasn't been able to get up for an hour.",
            "He cut the tip of his finger off with a saw.",
            "A 19-year-old presents with a stab wound to the abdomen.",
            "A piece of metal flew into my eye while grinding.",
            "A pedestrian was knocked down by a van.",
        ],
    )
    def test_serious_injuries_flag(self, text: str) -> None:
        assert "serious_injury" in {flag.category for flag in find_flags(text)}, text

    @pytest.mark.parametrize(
        "text",
        [
            "I fell off the ladder onto the grass, just a bruised knee, no neck or back pain.",
            "I cut my finger chopping onions.",
            "A deep cut on my hand that probably needs stitches, the bleeding has stopped.",
            "My grandad fell last week but got straight up and has no pain.",
            "An eyelash in my eye, it's watering a bit.",
            "Car accident last year, neck pain on and off since then.",
            "I cut off the crusts and ate the sandwich.",
            "It feels like I've been stabbed in the side, on and off for a week.",
            "A stabbing pain going through to my back when I breathe in deeply after the gym.",
            "I fell down two stairs and my back hurts a bit.",
            "I feel like I've been hit by a bus with this flu.",
        ],
    )
    def test_minor_or_past_injuries_do_not(self, text: str) -> None:
        assert find_flags(text) == [], text


class TestPregnancyWarning:
    """The NHS pregnancy pages' "call your maternity unit now" signs: the baby moving less,
    waters breaking before 37 weeks, signs of pre-eclampsia; NICE NG133 severe hypertension."""

    @pytest.mark.parametrize(
        "text",
        [
            "I'm 32 weeks pregnant and the baby hasn't moved since yesterday.",
            "Pregnant and I haven't felt the baby move today.",
            "My wife is 34 weeks pregnant and her waters have broken.",
            "I'm 30 weeks and I've noticed reduced fetal movements today.",
            "At 35 weeks of pregnancy with a severe headache and blurred vision.",
            "Pregnant, 36 weeks, BP 165/112 at the midwife check.",
        ],
    )
    def test_warning_signs_flag(self, text: str) -> None:
        assert "pregnancy_warning" in {flag.category for flag in find_flags(text)}, text

    @pytest.mark.parametrize(
        "text",
        [
            "I'm 28 weeks pregnant and the baby is moving as normal, just some heartburn.",
            "I'm 8 weeks pregnant with a mild headache, no vision problems.",
            "Pregnant at 38 weeks, waters haven't broken yet, asking about signs of labour.",
            "My 3 month old baby isn't moving his left arm as much as the right.",
            "At 30 weeks of pregnancy with mild ankle swelling; BP 118/72, no headache.",
            "My waters broke at 39 weeks last time, how will I know this time?",
        ],
    )
    def test_normal_pregnancy_and_shared_words_do_not(self, text: str) -> None:
        assert find_flags(text) == [], text


class TestHarmToOthers:
    """The NHS mental health crisis advice: call 999 when someone may hurt another person."""

    @pytest.mark.parametrize(
        "text",
        [
            "I'm going to kill my neighbour tonight, I've got a knife ready.",
            "My brother says voices are telling him to hurt our mum.",
            "A 35-year-old man with psychosis reports homicidal ideation.",
            "She is planning to stab her ex-partner.",
            "He said he's going to kill his wife.",
            "Patient reports command hallucinations telling him to harm others.",
        ],
    )
    def test_risk_to_others_flags(self, text: str) -> None:
        flags = find_flags(text)

        assert "harm_to_others" in {flag.category for flag in flags}, text
        assert CATEGORIES["harm_to_others"].advice == "crisis"

    @pytest.mark.parametrize(
        "text",
        [
            "Intrusive thoughts about something bad happening to my baby, I'd never act on them.",
            "I'm so angry with my brother I could kill him for eating my lunch.",
            "No thoughts of harming anyone else.",
            "The voices have stopped since my medication was changed.",
        ],
    )
    def test_intrusive_thoughts_anger_and_negation_do_not(self, text: str) -> None:
        assert find_flags(text) == [], text


class TestVitalSignsInVignetteWording:
    @pytest.mark.parametrize(
        "text",
        [
            # NEWS2 aggregate 5 or more (the key threshold for an urgent response)
            "A 67-year-old man with a chest infection: T 39.8, HR 124, BP 104/60, RR 22, sats 94%.",
            "T 38.6, HR 118, RR 23, BP 96/58.",
            "Pulse 120, temp 39.5C, breathing 24 a minute and BP 100/65.",
            # single-parameter red triggers
            "Mum's sats are 89 on room air.",
            "SpO2 of 90 % on RA.",
            "Her temperature is 34.8.",
            "Heart rate 38 and I feel faint.",
            "BP 230/130 with a headache.",
            "RR 30, HR 110.",
        ],
    )
    def test_danger_zone(self, text: str) -> None:
        assert "vital_signs" in {flag.category for flag in find_flags(text)}, text

    @pytest.mark.parametrize(
        "text",
        [
            "With a cold: T 37.9, HR 92, RR 16, BP 124/78, sats 98%.",
            "Temperature 38.2 and pulse 100 with the flu, BP 130/80.",
            "Resting pulse is 48; I'm a marathon runner and feel well.",
            "Temperature 35.8 this morning, I feel fine now.",
            "Sats 96% and pulse 105 after climbing the stairs.",
            "BP 135/85, T 37.2.",
            "I took 2 tablets at 8 and my temperature was 37.5 at 10.",
        ],
    )
    def test_normal_or_single_mild_readings_do_not(self, text: str) -> None:
        assert find_flags(text) == [], text

    def test_the_aggregate_is_for_adults_only(self) -> None:
        # NEWS2 is not validated under 16: a child's readings use NICE NG143's thresholds.
        assert find_flags("My 3 year old: temp 38.6, pulse 125, breathing 28.") == []

    def test_the_flag_records_the_readings_sentence(self) -> None:
        text = "Feeling rough. T 38.6, HR 118, RR 23, BP 96/58. Worried."

        [flag] = find_flags(text)

        assert flag.category == "vital_signs"
        assert flag.sentence == "T 38.6, HR 118, RR 23, BP 96/58."
        assert text[flag.start : flag.end] == flag.matched_text


class TestWidenedCategories:
    @pytest.mark.parametrize(
        ("category", "text"),
        [
            (
                "sepsis",
                "My 9 month old has a high temperature and hasn't had a wet nappy for 12 hours.",
            ),
            ("sepsis", "A 70-year-old woman, T 39.2, new confusion after a chest infection."),
            ("severe_bleeding", "His nosebleed has been going for 30 minutes despite pinching."),
            ("severe_bleeding", "Epistaxis for over an hour despite pressure."),
            ("breathing", "My calf is swollen and painful and now I'm suddenly short of breath."),
            ("breathing", "A swollen, tender left leg and now breathlessness."),
            ("breathing", "Sore throat and I can't even swallow my own saliva."),
            ("breathing", "A tooth abscess, my jaw and neck are swollen and it's hard to breathe."),
            ("severe_abdominal_pain", "I can't pee and my lower tummy is swollen and painful."),
            (
                "severe_abdominal_pain",
                "Unable to pass urine for 12 hours with a distended bladder.",
            ),
            ("severe_abdominal_pain", "My hernia is hard and painful and I can't push it back in."),
            ("cauda_equina", "Back pain and now both my legs feel weak and keep giving way."),
            ("sepsis", "The redness is spreading fast and I've got a fever."),
            ("sepsis", "A 60-year-old man with cellulitis of the lower leg; T 38.9."),
        ],
    )
    def test_positive(self, category: str, text: str) -> None:
        assert category in {flag.category for flag in find_flags(text)}, text

    @pytest.mark.parametrize(
        "text",
        [
            "My baby has a cold with a slight temperature, plenty of wet nappies.",
            "T 38.1, a sore throat and a cough, alert and eating.",
            "Nosebleeds twice this week, each stopped after five minutes of pinching.",
            "A nosebleed for 5 minutes that stopped.",
            "My calf is achy after a long walk, no swelling and I'm not short of breath.",
            "A swollen painful calf since yesterday after a flight, breathing is normal.",
            "Sore throat, it hurts to swallow but I can drink.",
            "No trouble swallowing saliva, just a scratchy throat.",
            "A swollen jaw from a tooth abscess, breathing and swallowing fine.",
            "I sometimes struggle to start peeing and get up at night to wee, no pain.",
            "A small hernia in my groin that goes back in when I lie down, no pain.",
            "Sciatica down my left leg, my legs are not weak, no numbness around my bottom.",
            "Cellulitis on my shin, on antibiotics, the redness isn't spreading and no fever.",
        ],
    )
    def test_shared_words_raise_nothing(self, text: str) -> None:
        assert find_flags(text) == [], text


class TestDevelopmentSet:
    def test_every_emergency_flagged_and_no_false_alarm(self) -> None:
        with DEV_SET.open(newline="") as handle:
            rows = list(csv.DictReader(handle))

        missed = [r["id"] for r in rows if r["triage"] == "emergent" and not find_flags(r["text"])]
        alarms = [r["id"] for r in rows if r["triage"] != "emergent" and find_flags(r["text"])]

        assert len(rows) >= 150
        assert missed == []
        assert len(alarms) <= 0.05 * sum(r["triage"] != "emergent" for r in rows)


class TestClassifierShim:
    def test_urgency_is_raised_to_emergency_by_any_flag(self) -> None:
        flags = find_red_flags("I have chest pain and shortness of breath")

        assert [flag.rule_id for flag in flags] == ["chest_pain"]
        assert triage_urgency("self-care", flags) == "emergency"
        assert triage_urgency("routine", []) == "routine"
