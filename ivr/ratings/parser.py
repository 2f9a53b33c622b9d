"""The five levels of 政务服务"好差评" (国办发〔2019〕51号) and a parser for keys and words."""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum


class Level(IntEnum):
    """A rating: the key the caller presses is the value."""

    VERY_SATISFIED = 1
    SATISFIED = 2
    BASICALLY_SATISFIED = 3
    DISSATISFIED = 4
    VERY_DISSATISFIED = 5

    @property
    def label(self) -> str:
        """The level's name as the rules write it (非常满意 …)."""
        return LABELS[self]

    @property
    def is_bad(self) -> bool:
        """差评: 不满意 and 非常不满意 open a follow-up."""
        return self >= Level.DISSATISFIED


LABELS: dict[Level, str] = {
    Level.VERY_SATISFIED: "非常满意",
    Level.SATISFIED: "满意",
    Level.BASICALLY_SATISFIED: "基本满意",
    Level.DISSATISFIED: "不满意",
    Level.VERY_DISSATISFIED: "非常不满意",
}
NOT_RATED = "未评价"

# Words, most specific first: the first phrase found in the answer decides (a negation
# before the word it negates, "非常" before the plain word).
_PHRASES: tuple[tuple[str, Level], ...] = (
    ("非常不满意", Level.VERY_DISSATISFIED), ("很不满意", Level.VERY_DISSATISFIED),
    ("特别不满意", Level.VERY_DISSATISFIED), ("极不满意", Level.VERY_DISSATISFIED),
    ("非常差", Level.VERY_DISSATISFIED), ("很差", Level.VERY_DISSATISFIED),
    ("太差", Level.VERY_DISSATISFIED), ("特别差", Level.VERY_DISSATISFIED),
    ("差劲", Level.VERY_DISSATISFIED), ("非常不好", Level.VERY_DISSATISFIED),
    ("很不好", Level.VERY_DISSATISFIED),
    ("不太满意", Level.DISSATISFIED), ("不是很满意", Level.DISSATISFIED),
    ("不怎么满意", Level.DISSATISFIED), ("不满意", Level.DISSATISFIED),
    ("不太好", Level.DISSATISFIED), ("不好", Level.DISSATISFIED), ("差评", Level.DISSATISFIED),
    ("差", Level.DISSATISFIED),
    ("基本满意", Level.BASICALLY_SATISFIED), ("比较满意", Level.BASICALLY_SATISFIED),
    ("还算满意", Level.BASICALLY_SATISFIED), ("还行", Level.BASICALLY_SATISFIED),
    ("还可以", Level.BASICALLY_SATISFIED), ("还好", Level.BASICALLY_SATISFIED),
    ("一般", Level.BASICALLY_SATISFIED),
    ("凑合", Level.BASICALLY_SATISFIED), ("马马虎虎", Level.BASICALLY_SATISFIED),
    ("非常满意", Level.VERY_SATISFIED), ("很满意", Level.VERY_SATISFIED),
    ("特别满意", Level.VERY_SATISFIED), ("十分满意", Level.VERY_SATISFIED),
    ("非常好", Level.VERY_SATISFIED), ("很好", Level.VERY_SATISFIED),
    ("特别好", Level.VERY_SATISFIED), ("太好了", Level.VERY_SATISFIED),
    ("满意", Level.SATISFIED), ("挺好", Level.SATISFIED), ("不错", Level.SATISFIED),
    ("好评", Level.SATISFIED), ("好", Level.SATISFIED),
)
# a key, or the number said: 1..5 as digits or Chinese numerals (幺 is 1 on the phone)
_NUMERALS = {"1": Level(1), "一": Level(1), "幺": Level(1), "2": Level(2), "二": Level(2),
             "两": Level(2), "3": Level(3), "三": Level(3), "4": Level(4), "四": Level(4),
             "5": Level(5), "五": Level(5)}
_NUMBER_ONLY = re.compile(r"^(?:按|选)?([1-5一二三四五幺两])(?:分|号|键)?$")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def _normalise(text: str) -> str:
    # NFKC folds full-width digits (１) to ASCII; punctuation and spaces go
    return _NOISE.sub("", unicodedata.normalize("NFKC", text))


def parse_rating(keys_or_words: str | None) -> Level | None:
    """The level of a key press (``"2"``) or a spoken answer (``"还行吧"``), else None.

    A key must be one of 1–5; a spoken answer is matched on the phrases above (negations
    and intensifiers first), or is a number alone ("五分", "按2").
    """
    if not keys_or_words:
        return None
    text = _normalise(keys_or_words)
    if not text:
        return None
    number = _NUMBER_ONLY.match(text)
    if number:
        return _NUMERALS[number.group(1)]
    if text.isascii():
        return None  # other keys (0, 6-9, *, #) or noise
    for phrase, level in _PHRASES:
        if phrase in text:
            return level
    return None
