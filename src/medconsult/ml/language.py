"""Which language a free text is in, as far as the diagnostic model is concerned. Torch-free.

The classifier was trained on English texts: a Chinese text gives it tokens it never learned,
and its ranking would mean nothing. A text whose letters are mostly CJK ideographs (or kana and
hangul) is therefore not given to it: the analysis abstains with ``unsupported_language``.
"""

from __future__ import annotations

UNSUPPORTED_LANGUAGE = "unsupported_language"

# Unicode blocks of CJK scripts: unified ideographs (with extension A and the compatibility
# block), CJK symbols and punctuation are not letters and are not counted; kana and hangul are.
_CJK_RANGES = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FA1F),  # extensions B-F and the compatibility supplement
)


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def cjk_share(text: str) -> float:
    """The share of the text's letters that are CJK characters (0.0 for a text without letters).

    Digits, punctuation and spaces do not count, so "38.5度 咳嗽" is all CJK; a Latin word
    counts once per letter, which is why the threshold is well under one half: a Chinese text
    that names a medicine or a test in English ("我在吃 ibuprofen") is still a Chinese text."""
    cjk = other = 0
    for char in text:
        if is_cjk(char):
            cjk += 1
        elif char.isalpha():
            other += 1
    letters = cjk + other
    return cjk / letters if letters else 0.0


def model_cannot_read(text: str, threshold: float) -> bool:
    """Whether the English model should abstain on ``text`` (its CJK share is over the
    threshold, ``MEDCONSULT_CJK_ABSTAIN_SHARE``)."""
    return cjk_share(text) > threshold
