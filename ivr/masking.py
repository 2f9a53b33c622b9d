"""Caller numbers never appear whole in logs or published events."""

from __future__ import annotations


def mask_number(number: str) -> str:
    """Keep the first 3 and last 2 digits: ``13812345678`` -> ``138******78``.

    Short numbers (up to 5 characters) keep only their last character.
    """
    digits = number.strip()
    if len(digits) <= 5:
        return "*" * max(len(digits) - 1, 0) + digits[-1:]
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]
