"""Text → pinyin for espeak-ng: numbers telephone style, overrides, punctuation."""

from __future__ import annotations

from ivr.prompts.spoken import cardinal, telephone_digits, to_spoken


def test_numbers_are_read_digit_by_digit_with_yao() -> None:
    assert telephone_digits("12345") == "yao1 er4 san1 si4 wu3"
    assert to_spoken("拨打12315") == "bo1 da3 yao1 er4 san1 yao1 wu3"
    assert to_spoken("0735") == "ling2 qi1 san1 wu3"


def test_short_numbers_and_years() -> None:
    assert cardinal(24) == "er4 shi2 si4"
    assert cardinal(10) == "shi2"
    assert to_spoken("7×24小时") == "qi1 cheng2 er4 shi2 si4 xiao3 shi2"
    assert to_spoken("2021年") == "er4 ling2 er4 yi1 nian2"


def test_builtin_and_custom_pronunciations() -> None:
    assert to_spoken("您拨打的号码") == "nin2 bo1 da3 de5 hao4 ma3"
    assert to_spoken("单县", {"单县": "shan4 xian4"}) == "shan4 xian4"


def test_punctuation_becomes_pauses_and_latin_is_spelt() -> None:
    assert to_spoken("请稍候，正在转接。") == "qing3 shao1 hou4, zheng4 zai4 zhuan3 jie1."
    assert to_spoken("，，好。。") == "hao3."
    assert to_spoken("APP") == "A P P"
    assert to_spoken("１２３") == "yao1 er4 san1"  # full-width digits
