"""Caller numbers never appear whole in logs or published events."""

from __future__ import annotations

import re


def mask_number(number: str) -> str:
    """Keep the first 3 and last 2 digits: ``13812345678`` -> ``138******78``.

    Short numbers (up to 5 characters) keep only their last character.
    """
    digits = number.strip()
    if len(digits) <= 5:
        return "*" * max(len(digits) - 1, 0) + digits[-1:]
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


#: Arabic digits and the Chinese numerals speech recognisers write them as.
_DIGIT_CHARS = "0-9〇零一二三四五六七八九幺两"
_NUMBER_RUN = re.compile(f"[{_DIGIT_CHARS}](?:[{_DIGIT_CHARS}\\s-]*[{_DIGIT_CHARS}])?")
MIN_MASKED_RUN = 7  # shorter runs are amounts, dates, house numbers, hotline numbers


def mask_numbers_in_text(text: str) -> str:
    """Mask every run of 7 or more digits (a phone, ID or card number a caller said) the
    way :func:`mask_number` does; spaces and dashes inside a run are dropped."""

    def masked(match: re.Match[str]) -> str:
        digits = re.sub(r"[\s-]", "", match.group(0))
        return mask_number(digits) if len(digits) >= MIN_MASKED_RUN else match.group(0)

    return _NUMBER_RUN.sub(masked, text)
