"""The questionnaire's opening questions that a patient's own words already name.

A DDXPlus interview starts from the patient's chief complaint (each of its patients comes with
an ``initial_evidence``, one of the questionnaire's opening questions). Our patients write their
complaint in their own words first, so the interview's first question is taken from the opening
questions those words name ("chest pain" names "Do you have pain somewhere?"), the best of them
by expected information gain, and only where none is named from all of them.

Matching only chooses which question to ask first: a negated mention ("no fever") may make the
fever question come first, and the patient answers it. English and Chinese, lower-cased text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Opening question code -> the words that name its complaint. Codes that are not an opening
# question of the loaded questionnaire are ignored where the table is used.
COMPLAINT_WORDS: Mapping[str, str] = {
    "E_53": (  # pain somewhere
        r"\bpains?\b|\bpainful\b|\bhurts?\b|\bhurting\b|\baches?\b|\baching\b|\bsore\b"
        r"|\bcramps?\b|痛|疼"
    ),
    "E_91": r"\bfever|\bfeverish\b|\bhigh temperature\b|\btemperature of\b|发烧|发热|高烧|低烧",
    "E_94": r"\bchills?\b|\bshiver|\bshaking\b|发冷|寒战|打冷战",
    "E_201": r"\bcough|咳嗽|干咳",
    "E_77": r"\bphlegm\b|\bsputum\b|\bmucus\b|咳痰|有痰|黄痰|绿痰",
    "E_45": r"\bcough\w*\s+(?:up\s+)?blood\b|咳血|咯血|痰中带血",
    "E_66": (
        r"\bshort(?:ness)?\s+of\s+breath\b|\bbreathless|\b(?:can't|cannot|hard to|struggling to)"
        r"\s+breathe\b|\b(?:difficulty|trouble|problems?)\s+breathing\b|气短|气促|呼吸困难"
        r"|喘不过气|上不来气"
    ),
    "E_214": r"\bwheez|喘鸣|哮鸣",
    "E_97": (
        r"\bsore\s+throat\b|\bthroat\s+(?:is\s+)?(?:sore|hurts|pain)|喉咙(?:痛|疼)|嗓子(?:痛|疼)"
        r"|咽(?:喉)?痛"
    ),
    "E_212": r"\bhoarse|\blost\s+my\s+voice\b|声音嘶哑|嗓子哑|失声",
    "E_65": r"\bswallow|吞咽",
    "E_181": (
        r"\brunny\s+nose\b|\bblocked\s+nose\b|\bstuffy\s+nose\b|\bcongest|\bsneez|流鼻涕|鼻塞"
        r"|打喷嚏"
    ),
    "E_103": r"\bsense\s+of\s+smell\b|\bcan't\s+smell\b|闻不到|嗅觉",
    "E_129": (
        r"\brash|\bspots\b|\bhives\b|\bblisters?\b|\bskin\b|\bitchy\b|皮疹|疹子|起疹|皮肤"
        r"|荨麻疹"
    ),
    "E_151": r"\bswell|\bswollen\b|\bpuffy\b|肿",
    "E_9": r"\blymph|\bglands?\b|淋巴结",
    "E_82": r"\bdizz|\blight-?headed|\bfaint|头晕|眩晕|要晕倒",
    "E_159": (
        r"\bpassed\s+out\b|\bfainted\b|\bblacked\s+out\b|\blost\s+consciousness\b|晕倒|昏倒"
        r"|失去意识"
    ),
    "E_43": r"\bseizures?\b|\bconvuls|\bfits?\b|抽搐|癫痫",
    "E_155": (
        r"\bpalpitation|\bheart\s+(?:is\s+)?(?:racing|pounding|fluttering)|\bracing\s+heart\b"
        r"|心慌|心悸|心跳(?:很|特别)?快"
    ),
    "E_88": r"\btired|\bfatigue|\bexhausted\b|\bno\s+energy\b|乏力|疲劳|疲倦|没力气",
    "E_51": r"\bdiarrh|\bloose\s+stools?\b|\bwatery\s+stools?\b|腹泻|拉肚子|拉稀",
    "E_148": r"\bnause|\bfeel(?:ing)?\s+sick\b|\bsick\s+to\s+my\s+stomach\b|恶心|想吐",
    "E_211": r"\bvomit|\bthrow(?:ing)?\s+up\b|\bthrew\s+up\b|呕吐|吐了",
    "E_210": r"\b(?:vomit\w*|throw\w*\s+up|threw\s+up)\s+blood\b|吐血|呕血",
    "E_140": r"\bblack\s+(?:stools?|poo)|黑便|大便(?:发|是)?黑",
    "E_179": r"\bblood\s+in\s+(?:my\s+)?(?:stools?|poo)|\bbloody\s+stools?\b|便血|大便(?:带|有)血",
    "E_173": r"\bheartburn\b|\bacid\s+reflux\b|\breflux\b|烧心|反酸|胃灼热",
    "E_30": r"\bbloat|胀气|腹胀",
    "E_42": r"\ballerg|过敏",
    "E_74": r"\bred\s+eyes?\b|\beyes?\s+(?:is\s+|are\s+)?red\b|眼睛红|红眼",
    "E_63": r"\bslurred\b|\b(?:difficulty|trouble)\s+speaking\b|说话不清|口齿不清",
    "E_177": r"\bnumb|\btingl|\bpins\s+and\s+needles\b|麻木|发麻",
    "E_145": r"\bheavy\s+periods?\b|月经量多",
    "E_163": r"\bvaginal\s+discharge\b|白带",
    "E_206": r"\bmouth\s+ulcers?\b|\bmouth\s+sores?\b|口腔溃疡|口疮",
}

_PATTERNS = {code: re.compile(words) for code, words in COMPLAINT_WORDS.items()}


def named_openers(text: str) -> frozenset[str]:
    """The opening questions whose complaint the patient's words name."""
    lowered = text.lower()
    return frozenset(code for code, pattern in _PATTERNS.items() if pattern.search(lowered))
