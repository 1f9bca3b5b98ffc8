"""The watched words' matcher (moderation.matcher over moderation.folding): each action found
through Chinese, Traditional, full-width, filler and repeated-character variants, with its
place in the text as written; Latin words stand alone; censoring keeps the rest."""

from __future__ import annotations

import pytest

from moderation.folding import fold, fold_word
from moderation.matcher import Matcher, Verdict
from moderation.models import WordAction

WORDS = [
    ("法轮", WordAction.BLOCK),
    ("代开发票", WordAction.REQUIRE_APPROVAL),
    ("傻瓜", WordAction.CENSOR),
    ("加微信", WordAction.FLAG),
    ("VX", WordAction.FLAG),
]
MATCHER = Matcher(WORDS)

# (text, the word found, the action, the span of the text as written)
VARIANTS = [
    # Each action, as written.
    ("他说法轮如何", "法轮", WordAction.BLOCK, "法轮"),
    ("可以代开发票吗", "代开发票", WordAction.REQUIRE_APPROVAL, "代开发票"),
    ("你这个傻瓜", "傻瓜", WordAction.CENSOR, "傻瓜"),
    ("有事加微信聊", "加微信", WordAction.FLAG, "加微信"),
    # Traditional characters.
    ("他說法輪如何", "法轮", WordAction.BLOCK, "法輪"),
    ("可以代開發票嗎", "代开发票", WordAction.REQUIRE_APPROVAL, "代開發票"),
    # Full-width letters and case.
    ("加我ＶＸ吧", "VX", WordAction.FLAG, "ＶＸ"),
    ("加我 vx 吧", "VX", WordAction.FLAG, "vx"),
    # Filler between the characters.
    ("法@@轮", "法轮", WordAction.BLOCK, "法@@轮"),
    ("法 轮 大", "法轮", WordAction.BLOCK, "法 轮"),
    ("傻.瓜", "傻瓜", WordAction.CENSOR, "傻.瓜"),
    ("代😀开-发_票", "代开发票", WordAction.REQUIRE_APPROVAL, "代😀开-发_票"),
    ("加 微·信", "加微信", WordAction.FLAG, "加 微·信"),
    ("V.X", "VX", WordAction.FLAG, "V.X"),
    # Repeated characters.
    ("法法法轮轮轮", "法轮", WordAction.BLOCK, "法法法轮轮轮"),
    ("傻傻瓜瓜", "傻瓜", WordAction.CENSOR, "傻傻瓜瓜"),
    # Letters that show as nothing (Hangul fillers), accents, a number after a Latin word.
    ("法\u3164轮", "法轮", WordAction.BLOCK, "法\u3164轮"),
    ("加vx123456", "VX", WordAction.FLAG, "vx"),
    ("傻\u200b瓜", "傻瓜", WordAction.CENSOR, "傻\u200b瓜"),
    # All at once: Traditional, full-width space, filler, repeats.
    ("法法@輪　輪", "法轮", WordAction.BLOCK, "法法@輪　輪"),
]


@pytest.mark.parametrize(("text", "word", "action", "span"), VARIANTS)
def test_each_action_is_found_through_its_variants(
    text: str, word: str, action: WordAction, span: str
) -> None:
    found = [m for m in MATCHER.find(text) if m.word == word]
    assert found, text
    [match] = found
    assert match.action == action
    assert text[match.start : match.end] == span


def test_latin_words_stand_alone_chinese_ones_do_not_need_to() -> None:
    assert not MATCHER.find("an advxx text")  # vx inside a Latin word
    assert not MATCHER.find("ａｄｖｘｘ")  # full-width letters are letters too
    assert [m.word for m in MATCHER.find("加vx")] == ["VX"]  # beside Chinese: alone enough
    assert [m.word for m in MATCHER.find("说法轮回")] == ["法轮"]  # Chinese: anywhere


def test_text_without_watched_words_finds_nothing() -> None:
    assert MATCHER.find("今天的早读是《原则》第三章。") == []
    assert Matcher([]).find("法轮") == []


def test_censoring_keeps_everything_but_the_word() -> None:
    text = "你这个 傻.瓜，真是的"
    verdict = Verdict(text, tuple(MATCHER.find(text)))
    assert verdict.censored == "你这个 ■■■，真是的"
    assert not verdict.blocked and not verdict.held and not verdict.flagged
    mixed = Verdict("法轮和代开发票", tuple(MATCHER.find("法轮和代开发票")))
    assert mixed.blocked == ["法轮"] and mixed.held


def test_words_and_texts_fold_the_same_way() -> None:
    assert fold_word("ＡＢＣ") == fold_word("abc") == "abc"
    assert fold_word("發票") == fold_word("发票") == "发票"
    assert fold_word("哈哈哈") == "哈"
    assert fold_word("！？") == ""  # nothing to watch in punctuation
    assert fold_word("fúck") == fold_word("fu\u0301ck") == "fuck"  # accents go
    skeleton, origins = fold("法 @輪")
    assert skeleton == "法轮" and origins == [0, 3]
