"""The rating parser: keys 1-5 and the words callers say (好差评 levels)."""

from __future__ import annotations

import pytest

from ivr.ratings.parser import LABELS, Level, parse_rating


@pytest.mark.parametrize(("keys", "level"), [
    ("1", Level.VERY_SATISFIED), ("2", Level.SATISFIED), ("3", Level.BASICALLY_SATISFIED),
    ("4", Level.DISSATISFIED), ("5", Level.VERY_DISSATISFIED), ("５", Level.VERY_DISSATISFIED),
    (" 2 ", Level.SATISFIED),
])
def test_keys(keys: str, level: Level) -> None:
    assert parse_rating(keys) is level


@pytest.mark.parametrize("keys", ["", None, "0", "6", "9", "*", "#", "12", "25", "x"])
def test_other_keys_are_no_rating(keys: str | None) -> None:
    assert parse_rating(keys) is None


@pytest.mark.parametrize(("words", "level"), [
    ("非常满意", Level.VERY_SATISFIED), ("很满意！", Level.VERY_SATISFIED),
    ("很好", Level.VERY_SATISFIED), ("挺好的", Level.SATISFIED), ("满意", Level.SATISFIED),
    ("嗯，满意吧", Level.SATISFIED), ("不错", Level.SATISFIED),
    ("基本满意", Level.BASICALLY_SATISFIED), ("还行", Level.BASICALLY_SATISFIED),
    ("还行吧", Level.BASICALLY_SATISFIED), ("一般般", Level.BASICALLY_SATISFIED),
    ("还可以", Level.BASICALLY_SATISFIED),
    ("不满意", Level.DISSATISFIED), ("不太满意", Level.DISSATISFIED),
    ("不是很满意", Level.DISSATISFIED), ("差", Level.DISSATISFIED), ("不好", Level.DISSATISFIED),
    ("非常不满意", Level.VERY_DISSATISFIED), ("很差", Level.VERY_DISSATISFIED),
    ("太差了", Level.VERY_DISSATISFIED),
    ("五分", Level.VERY_DISSATISFIED), ("按二", Level.SATISFIED), ("幺", Level.VERY_SATISFIED),
])
def test_spoken_words(words: str, level: Level) -> None:
    assert parse_rating(words) is level


def test_negation_wins_over_the_word_it_negates() -> None:
    # every level's label parses back to itself, "不满意" never as "满意"
    for level, label in LABELS.items():
        assert parse_rating(label) is level


@pytest.mark.parametrize("words", ["喂", "我还有个问题", "再见"])
def test_unrelated_speech_is_no_rating(words: str) -> None:
    assert parse_rating(words) is None


def test_bad_levels_are_4_and_5() -> None:
    assert [lv for lv in Level if lv.is_bad] == [Level.DISSATISFIED, Level.VERY_DISSATISFIED]
