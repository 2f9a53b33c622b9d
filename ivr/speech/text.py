"""Transcript normalisation and character n-grams (shared by the rules and the model).

Vosk's Mandarin models put spaces between words (``我 要 投诉``); callers' text from
other sources may carry punctuation or full-width forms. Both layers see the same
normalised string: NFKC, lower case, no spaces between Han characters, punctuation
and symbols turned into segment breaks.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_NEAR_HAN = re.compile(rf"(?<=[{_HAN}])\s+|\s+(?=[{_HAN}])")
_SPACES = re.compile(r"\s+")
#: Marks segment boundaries in n-grams.
BOUNDARY = "#"


def _is_break(char: str) -> bool:
    return unicodedata.category(char)[0] in "PSZC"


def normalise(text: str) -> str:
    """One line of comparable text; segments are separated by single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SPACE_NEAR_HAN.sub("", text)
    text = "".join(" " if _is_break(c) else c for c in text)
    return _SPACES.sub(" ", text).strip()


def ngrams(text: str, n_min: int = 1, n_max: int = 3) -> Counter[str]:
    """Character n-grams of the normalised text, per segment, with boundary marks."""
    counts: Counter[str] = Counter()
    for segment in normalise(text).split(" "):
        if not segment:
            continue
        marked = f"{BOUNDARY}{segment}{BOUNDARY}"
        for n in range(n_min, n_max + 1):
            for i in range(len(marked) - n + 1):
                gram = marked[i:i + n]
                if gram != BOUNDARY * n and not (n == 1 and gram == BOUNDARY):
                    counts[gram] += 1
    return counts
