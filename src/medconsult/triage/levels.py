"""Three-level triage: emergency / see a doctor / self-care. Torch-free.

- **Emergency**: any red flag (``rules.py``, ``semantic.py``), whatever else is said.
- **Self-care**: a clearly self-care-appropriate presentation and nothing that calls for a
  doctor. The presentations are the ones the NHS sends to self-care or a pharmacist rather
  than a GP ("Choosing the right service", the nhs.uk pages of each condition, the Pharmacy
  First minor-illness list): a cold, a mild sore throat, a short cough, hay fever, minor cuts,
  grazes, bruises and splinters, a sprain you can walk on, a minor burn or mild sunburn, insect
  bites, a hangover, a mild headache, a short bout of diarrhoea or constipation, indigestion,
  mouth ulcers, cold sores, head lice, athlete's foot, dandruff, dry skin, chapped lips, nappy
  rash, blisters, teething, usual period pain, tiredness after a late night, chickenpox, hand,
  foot and mouth, heat rash, warts and verrucas, threadworms, earwax, a stye, sinusitis, travel
  sickness, aching muscles after exercise, a stubbed toe, an eyelash or grit in the eye.
- **See a doctor** otherwise, and whenever the text has one of the "see a GP if" cues of the
  same pages: symptoms lasting longer than ``max_days`` (the NHS pages give 3 days to 3 weeks
  depending on the condition), getting worse or keeping coming back, a lump, blood, weight
  loss, yellow skin, pus or spreading redness, white spots on the tonsils, not being able to
  walk or swallow, numbness, severe pain, pregnancy.

With the diagnosis model (``combine``): when it answers in scope (it does not abstain), its top
label's default urgency (``labels.json``: self-care, routine or urgent) is one more opinion.
How the two are combined (``mode``) and ``max_days`` are chosen by 5-fold cross-validation on
the development set (``medconsult tune-triage --levels``), recorded in ``levels.json``. A flag
always wins and a "see a doctor" cue always keeps a case from self-care.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from medconsult.triage import rules_zh
from medconsult.triage.rules import _p, affirmed, normalise

Level = Literal["emergency", "see_doctor", "self_care"]
Mode = Literal["rules", "model", "either", "both"]
MODES: tuple[Mode, ...] = ("rules", "model", "either", "both")
SETTINGS_PATH = Path(__file__).with_name("levels.json")

SELF_CARE = _p(
    # colds, coughs, sore throats, hay fever
    r"common\s+cold",
    r"(?:have|got|has|with|catching|caught|it's|just|a|my|this)\s+(?:a\s+)?(?:bit\s+of\s+a\s+|head\s+|heavy\s+|bad\s+|stinking\s+|slight\s+)?cold(?!\s+(?:sweats?|hands?|feet|weather|air|water|room|sores?|to\s+the\s+touch|and\s+clammy|nights?|mornings?|days?|spell|snap|wind|drinks?|compress|shower))",
    r"(?:runny|blocked|stuffy|bunged[-\s]up)\s+nose|sneez\w*|nasal\s+congestion",
    r"(?:mild|slight|scratchy|a\s+bit\s+of\s+a|tickly)?\s*sore\s+throat|scratchy\s+throat|throat\s+is\s+(?:a\s+bit\s+)?sore",
    r"(?:a\s+)?(?:dry|tickly|chesty|mild|slight)?\s*cough(?:ing)?",
    r"hay\s+fever|itchy\s+(?:eyes|nose)",
    # minor injuries
    r"(?:small|minor|little|tiny|paper|shallow)\s+(?:cut|graze|scratch|nick|wound)",
    r"(?:grazed|scraped|scratched|nicked)\s+(?:my|his|her|their)",
    r"cut\s+(?:my|his|her)\s+(?:finger|thumb|hand)",
    r"bruis\w*",
    r"splinter",
    r"(?:twisted|sprained|rolled|went\s+over\s+on)\s+(?:my|his|her)\s+(?:ankle|wrist|knee)",
    r"(?:pulled|strained)\s+(?:a\s+)?(?:muscle|hamstring|calf)",
    r"(?:small|minor|little)\s+burn|burn(?:ed|t)\s+(?:my|his|her)\s+(?:finger|hand|thumb)",
    r"sunburn\w*",
    r"(?:insect|mosquito|midge|gnat|flea|spider)\s+bites?|(?:bee|wasp)\s+sting|stung\s+by\s+a\s+(?:bee|wasp|nettle)",
    r"(?:small|little)\s+(?:bump|lump)\s+on\s+(?:my|his|her)\s+(?:head|forehead)|bumped\s+(?:my|his|her)\s+head",
    r"blisters?",
    # stomach
    r"hangover|(?:drinking|drank|had)\s+too\s+much\s+(?:last\s+night|alcohol)",
    r"diarrh(?:o)?ea|loose\s+stools|tummy\s+bug|upset\s+stomach|stomach\s+bug",
    r"constipat\w*",
    r"indigestion|heartburn|acid\s+reflux|bloated\s+after",
    r"(?:mild\s+)?(?:tummy|stomach)\s+ache\s+after\s+(?:eating|a\s+big\s+meal)",
    r"ate\s+too\s+much|eating\s+too\s+much|big\s+meal",
    # skin, hair, mouth
    r"mouth\s+ulcers?|cold\s+sores?",
    r"head\s+lice|nits",
    r"athlete's\s+foot|dandruff|dry\s+skin|chapped\s+lips|dry\s+(?:and\s+)?cracked\s+lips|nappy\s+rash",
    r"(?:spots|pimples|acne)\s+on\s+(?:my|his|her)\s+(?:face|back|chest)",
    r"(?:sticky|crusty)\s+(?:red\s+)?eyes?|conjunctivitis",
    # aches, sleep, other
    r"(?:mild|slight|tension|bit\s+of\s+a|small)\s+headache",
    r"headache\s+<w>{0,6}(?:painkillers|paracetamol|ibuprofen)\s+(?:help|helps|helped)",
    r"(?:usual|normal|regular)\s+period\s+(?:pain|cramps)|period\s+(?:pain|cramps)\s+(?:as\s+usual|like\s+always)",
    r"teething",
    r"(?:tired|sleepy)\s+<w>{0,4}(?:after|late\s+night|afternoon)",
    r"(?:stiff|achy)\s+<w>{0,3}(?:after|in\s+the\s+mornings?|from\s+(?:sitting|sleeping))",
    r"(?:small|minor)\s+nosebleed|nosebleed\s+that\s+stopped",
    r"thirsty\s+<w>{0,4}(?:hot|heat|exercise)",
    r"stiff\s+neck\s+<w>{0,4}(?:sleeping|slept|position)|neck\s+is\s+stiff\s+from",
    r"(?:back|neck)\s+(?:pain|ache)\s+after\s+(?:lifting|gardening|sitting|moving|exercise)",
    r"(?:trouble|difficulty)\s+(?:falling\s+asleep|sleeping)|can't\s+sleep",
    r"as\s+the\s+(?:packet|leaflet|label)\s+says",
    r"(?:went|goes|go)\s+numb\s+<w>{0,2}after\s+(?:sitting|sleeping|kneeling|lying)|pins\s+and\s+needles",
    r"hiccups|eyelid\s+(?:keeps\s+)?twitch\w*|swallowed\s+(?:his|her|my)\s+(?:chewing\s+)?gum",
    # more of the NHS self-care and pharmacy pages
    r"chicken\s*pox|hand,?\s+foot\s+and\s+mouth|heat\s+rash|prickly\s+heat",
    r"verrucas?|warts?|threadworms?|pinworms?|ear\s*wax|styes?|sinusitis",
    r"(?:travel|motion|car|sea)\s+sickness",
    r"(?:aching|achy|sore|stiff)\s+muscles\s+after|muscle\s+(?:aches|soreness)\s+after",
    r"stubbed\s+(?:my|his|her|a)\s+toe",
    r"(?:eyelash|grit|dust|sand|speck\s+of\s+\w+)\s+in\s+(?:my|his|her|their)\s+eye",
)

SEE_DOCTOR = _p(
    r"(?:getting|got|is\s+getting|gets)\s+worse|worsening|not\s+(?:getting\s+)?better|isn't\s+(?:getting\s+)?better|isn't\s+improving|not\s+improving",
    r"keeps?\s+(?:coming\s+back|happening|recurring)|recurr\w*|again\s+and\s+again|most\s+(?:days|nights)|every\s+(?:day|night)|all\s+the\s+time|on\s+and\s+off",
    r"lumps?|blood|(?<!stopped\s)bleed\w*|(?:losing|lost|loss\s+of)\s+(?:some\s+)?weight|weight\s+loss",
    r"yellow\s+(?:skin|eyes)|jaundice|pus|infected|spreading|red\s+(?:and|,)\s+(?:warm|hot|swollen)",
    r"white\s+(?:spots|patches)|tonsils?",
    r"(?:can't|cannot|unable\s+to|couldn't)\s+(?:walk|swallow|put\s+weight|move|bend|eat|drink)",
    r"(?:numb\w*|tingl\w*)(?!\s+<w>{0,3}after\s+(?:sitting|sleeping|kneeling|lying))|severe|very\s+painful|excruciating|agoni[sz]ing",
    r"pregnan\w*",
    r"(?<!slight\s)(?<!mild\s)(?<!low\s)(?<!hay\s)fever|high\s+temperature",
    r"breathless\w*|short(?:ness)?\s+of\s+breath|wheez\w*",
    r"earache|ear\s+(?:pain|infection)|discharge|painful\s+(?:to\s+)?pee|burning\s+when\s+(?:i|he|she)\s+pee",
)

# The same presentations and cues in Simplified Chinese (negation as in ``rules_zh``).
SELF_CARE_ZH = re.compile(
    "|".join(
        (
            r"感冒|流鼻涕|鼻塞|打喷嚏|嗓子(?:有点|有些)?(?:疼|痛|痒|干)|喉咙(?:有点|有些)?(?:疼|痛|痒)|咳嗽",
            r"花粉(?:过敏|症)|眼睛痒",
            r"擦伤|划伤|小伤口|割到手指|青了一块|瘀青|淤青|扭(?:伤|了)(?:一下)?.{0,6}能走",
            r"(?:轻微|小)?烫(?:了一下|伤).{0,4}(?:有点红|冷水)|晒伤|蚊子咬|虫咬|被蜜蜂蜇",
            r"宿醉|喝多了|拉肚子|腹泻|便秘|消化不良|烧心|胃胀|吃多了",
            r"口腔溃疡|口疮|唇疱疹|头虱|脚气|头皮屑|皮肤干|嘴唇干裂|尿布疹|水泡|起泡|长牙|出牙",
            r"(?:有点|轻微的?)头(?:痛|疼)|痛经|(?:月经|经期).{0,6}(?:肚子|小腹)(?:疼|痛)|落枕|抽筋|打嗝|睡不着|咽下去",
            r"鼻血.{0,10}止住|有点犯困|有点僵|头(?:碰|磕)到.{0,12}(?:玩得很好|没事)",
        )
    )
)
SEE_DOCTOR_ZH = re.compile(
    "|".join(
        (
            r"越来越(?:严重|重|厉害)|加重|不见好|没有好转|反复|总是|经常",
            r"肿块|硬块|包块|便血|尿血|血尿|痰中带血|咳血|出血|体重(?:下降|减轻)|瘦了|发黄|黄疸|化脓|脓|感染",
            r"扁桃体|白点|(?:不能|无法|没法)(?:走路|吞咽|吃|喝)|麻木|剧烈|很痛|很疼",
            r"怀孕|(?<!低)(?:发烧|发热|高烧)|气短|喘|耳朵(?:痛|疼)|尿痛|分泌物",
        )
    )
)
DURATION_ZH = re.compile(
    r"(?P<n>\d+|[一两二三四五六七八九十几]+)(?:个)?(?:多)?(?P<unit>天|周|星期|礼拜|月|年)(?![大岁])"
)
_NUMBER_ZH = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10, "几": 3}  # fmt: skip
_UNIT_DAYS_ZH = {"天": 1, "周": 7, "星期": 7, "礼拜": 7, "月": 30, "年": 365}

_NUMBER = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a few": 3, "few": 3, "several": 4,
    "a couple of": 2, "couple of": 2,
}  # fmt: skip
_UNIT_DAYS = {"day": 1, "night": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}
DURATION = re.compile(
    r"\b(?P<n>\d+|a\s+couple\s+of|couple\s+of|a\s+few|few|several|an?|one|two|three|four|five|six|seven|eight|nine|ten)"
    r"\s+(?P<unit>day|night|week|fortnight|month|year)s?\b(?![-\s]+old)",
    re.IGNORECASE,
)
LONG_DURATION = _p(r"for\s+(?:weeks|months|years|ages)", r"since\s+last\s+(?:week|month|year)")


def duration_days(text: str) -> int | None:
    """The longest duration the text states ("for three weeks" -> 21), or None."""
    longest: int | None = None
    for match in DURATION.finditer(text):
        raw = " ".join(match["n"].lower().split())
        count = int(raw) if raw.isdigit() else _NUMBER.get(raw, 1)
        days = count * _UNIT_DAYS[match["unit"].lower()]
        longest = days if longest is None else max(longest, days)
    if LONG_DURATION.search(text):
        longest = max(longest or 0, 21)
    for match in DURATION_ZH.finditer(text):
        raw = match["n"]
        count = int(raw) if raw.isdigit() else _NUMBER_ZH.get(raw[-1], 1)
        days = count * _UNIT_DAYS_ZH[match["unit"]]
        longest = days if longest is None else max(longest, days)
    return longest


@dataclass(frozen=True)
class Settings:
    mode: Mode = "either"
    max_days: int = 7


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The mode and duration limit chosen by cross-validation (``levels.json``)."""
    data = json.loads(SETTINGS_PATH.read_text(encoding="utf-8"))
    modes = {mode: mode for mode in MODES}
    if data["mode"] not in modes:
        raise ValueError(f"{SETTINGS_PATH}: unknown mode {data['mode']!r}")
    return Settings(mode=modes[data["mode"]], max_days=int(data["max_days"]))


def see_doctor_reasons(text: str, *, max_days: int) -> list[str]:
    """The "see a GP if" cues in ``text`` (matched words; "lasting N days" for duration)."""
    text = normalise(text)
    reasons = [match.group(0) for match in affirmed(SEE_DOCTOR, text)]
    if rules_zh.CJK.search(text):
        reasons += [match.group(0) for match in affirmed(SEE_DOCTOR_ZH, text, "zh")]
    days = duration_days(text)
    if days is not None and days > max_days:
        reasons.append(f"lasting {days} days")
    return reasons


def self_care_by_rules(text: str, *, max_days: int) -> bool:
    """A clearly self-care presentation with no "see a doctor" cue."""
    text = normalise(text)
    presents = bool(affirmed(SELF_CARE, text)) or (
        rules_zh.CJK.search(text) is not None and bool(affirmed(SELF_CARE_ZH, text, "zh"))
    )
    return presents and not see_doctor_reasons(text, max_days=max_days)


def level(
    text: str,
    *,
    flagged: bool,
    model_urgency: str | None = None,
    settings: Settings | None = None,
) -> Level:
    """The three-level triage of ``text``.

    ``flagged``: whether a red-flag layer raised anything. ``model_urgency``: the default
    urgency of the model's top label when it answered in scope (did not abstain), else None.
    """
    if flagged:
        return "emergency"
    chosen = settings or globals()["settings"]()
    by_rules = self_care_by_rules(text, max_days=chosen.max_days)
    if model_urgency is None:
        return "self_care" if by_rules else "see_doctor"
    by_model = model_urgency == "self-care"
    if chosen.mode == "model":
        self_care = by_model
    elif chosen.mode == "rules":
        self_care = by_rules
    elif chosen.mode == "both":
        self_care = by_rules and by_model
    else:
        self_care = by_rules or (
            by_model and not see_doctor_reasons(text, max_days=chosen.max_days)
        )
    return "self_care" if self_care else "see_doctor"


def urgency(level_: Level, model_urgency: str | None) -> str:
    """The product's urgency for a level: emergency, self-care, or the model's urgent/routine
    (routine without a model)."""
    if level_ == "emergency":
        return "emergency"
    if level_ == "self_care":
        return "self-care"
    return model_urgency if model_urgency in ("urgent", "routine") else "routine"
