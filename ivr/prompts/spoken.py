"""Turn prompt text (Mandarin with digits and some Latin) into the tone-numbered pinyin
that espeak-ng's ``cmn-latn-pinyin`` voice reads.

Rules, chosen for a telephone hotline:

* Han characters go through pypinyin (``TONE3`` style, neutral tone as ``5``, ``ü`` as
  ``v``), with phrase overrides applied first (pypinyin reads 拨打的 as ``bo1 da3 di1``).
* Digit runs of three or more digits, or with a leading zero, are read digit by digit in
  telephone style (1 as 幺 ``yao1``, 0 as ``ling2``); before 年 they are read as a year
  (1 as ``yi1``); shorter runs are read as cardinals (24 → 二十四).
* Latin words in capitals are spelt letter by letter; other Latin words are passed through
  (espeak-ng reads a word that is not pinyin with its English rules).
* Chinese punctuation becomes the ASCII pause marks espeak-ng honours.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

#: Corrections that always apply (pypinyin's phrase table gets these wrong).
BUILTIN_PRONUNCIATIONS: Mapping[str, str] = {
    "拨打的": "bo1 da3 de5",  # pypinyin matches 打的 (da3 di1, "take a taxi")
}

_TELEPHONE = {
    "0": "ling2", "1": "yao1", "2": "er4", "3": "san1", "4": "si4",
    "5": "wu3", "6": "liu4", "7": "qi1", "8": "ba1", "9": "jiu3",
}
_PLAIN = {**_TELEPHONE, "1": "yi1"}

_CLAUSE = ",，、;；:：—–…~～·"
_SENTENCE = ".。!！?？"
_SYMBOLS = {"×": "cheng2", "#": "jing3 hao4", "*": "xing1 hao4", "%": "bai3 fen1"}

_TOKEN = re.compile(
    r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<latin>[A-Za-z]+)"
    r"|(?P<other>.)",
    re.DOTALL,
)
SYLLABLE = re.compile(r"[a-z]+[1-5]")


def telephone_digits(number: str) -> str:
    """Read a digit string digit by digit, telephone style: ``"12345"`` → ``yao1 er4 …``."""
    return " ".join(_TELEPHONE[d] for d in number if d in _TELEPHONE)


def cardinal(value: int) -> str:
    """Read 0–99 as a Mandarin cardinal number in pinyin."""
    if not 0 <= value <= 99:
        raise ValueError("cardinal() reads 0 to 99")
    if value < 10:
        return _PLAIN[str(value)]
    tens, units = divmod(value, 10)
    parts = [] if tens == 1 else [_PLAIN[str(tens)]]
    parts.append("shi2")
    if units:
        parts.append(_PLAIN[str(units)])
    return " ".join(parts)


def _digits(run: str, following: str) -> str:
    if following.startswith("年"):
        return " ".join(_PLAIN[d] for d in run)
    if len(run) >= 3 or (run.startswith("0") and len(run) > 1):
        return telephone_digits(run)
    return cardinal(int(run))


def _han(run: str, overrides: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    pending = ""
    longest = max((len(k) for k in overrides), default=0)
    i = 0
    while i < len(run):
        for size in range(min(longest, len(run) - i), 0, -1):
            reading = overrides.get(run[i : i + size])
            if reading is not None:
                if pending:
                    out.extend(_pypinyin(pending))
                    pending = ""
                out.extend(reading.split())
                i += size
                break
        else:
            pending += run[i]
            i += 1
    if pending:
        out.extend(_pypinyin(pending))
    return out


def _pypinyin(run: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin  # ~0.3 s of phrase tables: only when text is spoken

    syllables = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True)
    return [s for s in syllables if SYLLABLE.fullmatch(s)]


def to_spoken(text: str, pronunciations: Mapping[str, str] | None = None) -> str:
    """Return the pinyin string espeak-ng should read for ``text``."""
    overrides = dict(BUILTIN_PRONUNCIATIONS)
    overrides.update(pronunciations or {})
    text = unicodedata.normalize("NFKC", text)
    words: list[str] = []

    def pause(mark: str) -> None:
        if words and words[-1] in {",", "."}:
            if mark == ".":
                words[-1] = "."
            return
        if words:
            words.append(mark)

    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        chunk = match.group()
        if kind == "han":
            words.extend(_han(chunk, overrides))
        elif kind == "digits":
            words.extend(_digits(chunk, text[match.end() :]).split())
        elif kind == "latin":
            words.extend(list(chunk) if chunk.isupper() else [chunk.lower()])
        elif chunk in _SENTENCE:
            pause(".")
        elif chunk in _CLAUSE:
            pause(",")
        elif chunk in _SYMBOLS:
            words.extend(_SYMBOLS[chunk].split())
    while words and words[-1] == ",":
        words.pop()
    return " ".join(words).replace(" ,", ",").replace(" .", ".")
