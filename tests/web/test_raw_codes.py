"""The check the browser walk runs on its Chinese pages finds codes, and only codes."""

from __future__ import annotations

from tests.e2e.raw_codes import raw_codes


def test_a_code_in_the_text_is_found() -> None:
    page = "<main><p>支付失败：card_declined</p><p>状态：refunded</p></main>"
    assert raw_codes(page) == ["card_declined", "refunded"]


def test_code_on_purpose_attributes_and_scripts_are_not_text() -> None:
    page = (
        '<main data-state="pending_payment"><p class="paid">已支付</p>'
        "<code>store.release_expired_orders</code><script>var a_b = 1;</script>"
        "<p>Shuyuan 书院</p></main>"
    )
    assert raw_codes(page) == []
