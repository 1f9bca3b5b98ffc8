"""Membership pages through the real app: the window, enrolling by form, the card, admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from accounts.models import User
from membership import grants, windows
from membership import services as membership
from membership.benefits import Question
from membership.models import Enrollment, EnrollmentWindow, Member
from tests.factories import csrf_from, make_user, make_window, sign_in

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
BENEFITS = ["每天一条六十秒语音", "会员专属文章与播客"]
FAQ = [Question("可以退款吗？", "开通后七天内可全额退款。")]


async def window_with_benefits(now: datetime) -> EnrollmentWindow:
    window = await make_window(now=now, seats=3)
    return await windows.update_window(window.id, now=now, benefits=BENEFITS, faq=FAQ)


async def test_an_upcoming_window_shows_a_countdown_and_no_button(
    client: httpx.AsyncClient,
) -> None:
    await make_window(now=datetime.now(UTC), opens_in=timedelta(hours=2), seats=7)
    page = await client.get("/membership", headers=ZH)
    assert page.status_code == 200
    assert 'class="countdown"' in page.text
    assert "剩余 7 个席位" in page.text
    assert "立即报名" not in page.text


async def test_the_seats_partial_is_polled_and_counts_holds(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=3)
    await membership.enroll(window_id=window.id, user=await make_user(), now=now)
    page = await client.get("/membership", headers=ZH)
    assert f'data-hx-get="/membership/windows/{window.id}/seats"' in page.text
    partial = await client.get(f"/membership/windows/{window.id}/seats", headers=ZH)
    assert "剩余 2 个席位" in partial.text
    assert "<html" not in partial.text


async def test_enrolling_through_the_form_leads_to_checkout(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC), seats=3)
    await make_user(email="wu@example.cn")
    await sign_in(client, "wu@example.cn")
    page = await client.get("/membership", headers=ZH)
    assert "立即报名" in page.text
    response = await client.post(
        f"/membership/windows/{window.id}/enroll", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 303
    enrollment = await Enrollment.get(window_id=window.id)
    assert response.headers["location"] == f"/membership/enrollments/{enrollment.id}/pay"
    checkout = await client.get(response.headers["location"], headers=ZH)
    assert "支付 ¥199.00" in checkout.text
    assert "/js.stripe.com/v3/" in checkout.text


async def test_paying_on_the_checkout_page_answers_json(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=3)
    buyer = await make_user(email="wu@example.cn")
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=now)
    await sign_in(client, "wu@example.cn")
    page = await client.get(f"/membership/enrollments/{enrollment.id}/pay")
    paid = await client.post(
        f"/membership/enrollments/{enrollment.id}/pay",
        data={"csrf_token": csrf_from(page.text), "payment_method": "pm_card_visa"},
    )
    assert paid.json() == {"status": "paid", "redirect": "/membership/welcome"}
    status = await client.get(f"/membership/enrollments/{enrollment.id}/status")
    assert status.json()["status"] == "paid"


async def test_the_member_card_carries_a_qr_code_that_staff_can_verify(
    client: httpx.AsyncClient,
) -> None:
    person = await make_user(email="wu@example.cn")
    admin = await make_user(admin=True)
    await grants.grant_complimentary(user_id=person.id, days=30, actor=admin, now=datetime.now(UTC))
    await sign_in(client, "wu@example.cn")
    card = await client.get("/membership/card", headers=ZH)
    assert card.status_code == 200
    member = await Member.get(user_id=person.id)
    assert f"SY-{member.id:06d}" in card.text
    assert "<svg" in card.text
    assert "到期" in card.text or "30 天内到期" in card.text  # renewal is due within 30 days
    token = grants.card_token(member, secret_key=client._transport.app.state.settings.secret_key)  # type: ignore[attr-defined]
    assert f"/membership/verify/{token}" in card.text

    staff = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # type: ignore[attr-defined]
    valid = await staff.get(f"/membership/verify/{token}", headers=ZH)
    assert "有效会员" in valid.text
    assert "wu@example.cn" not in valid.text
    assert person.display_name not in valid.text
    forged = await staff.get(f"/membership/verify/{token[:-3]}abc", headers=ZH)
    assert "不是有效会员" in forged.text
    await grants.revoke_membership(user_id=person.id, now=datetime.now(UTC))
    revoked = await staff.get(f"/membership/verify/{token}", headers=ZH)
    assert "不是有效会员" in revoked.text
    await staff.aclose()


async def test_non_members_are_sent_from_the_card_to_the_window(client: httpx.AsyncClient) -> None:
    await make_user(email="wu@example.cn")
    await sign_in(client, "wu@example.cn")
    response = await client.get("/membership/card")
    assert response.status_code == 303
    assert response.headers["location"] == "/membership"


async def test_admins_create_a_window_in_beijing_time_and_see_its_numbers(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="admin@example.cn", admin=True)
    await sign_in(client, "admin@example.cn")
    page = await client.get("/admin/membership", headers=ZH)
    assert page.status_code == 200
    response = await client.post(
        "/admin/membership/windows",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "2030 年度会员",
            "price_yuan": "199.50",
            "seats": "100",
            "opens_at": "2030-01-01T08:00",
            "closes_at": "2030-01-03T08:00",
            "term_days": "365",
            "benefits": "每天一条语音\n会员社区",
            "faq": "Q: 可以退款吗？\nA: 七天内可以。",
        },
    )
    assert response.status_code == 303
    window = await EnrollmentWindow.get(name="2030 年度会员")
    assert window.price_fen == 19_950
    assert window.benefits == ["每天一条语音", "会员社区"]
    assert window.faq == [{"question": "可以退款吗？", "answer": "七天内可以。"}]
    assert window.opens_at == datetime(2030, 1, 1, tzinfo=UTC)  # 08:00 in Beijing
    dashboard = await client.get("/admin/membership", headers=ZH)
    assert re.search(r'class="free">100<', dashboard.text)

    bad = await client.post(
        "/admin/membership/windows",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "x",
            "price_yuan": "abc",
            "seats": "1",
            "opens_at": "2031-01-01T08:00",
            "closes_at": "2031-01-02T08:00",
        },
        headers=ZH,
    )
    assert bad.status_code == 422
    assert 'id="price_yuan-error"' in bad.text
    assert "必须是金额" in bad.text


async def test_admins_export_members_as_csv(client: httpx.AsyncClient) -> None:
    admin = await make_user(email="admin@example.cn", admin=True)
    person = await make_user(name="钱钟书")
    await grants.grant_complimentary(
        user_id=person.id, days=365, actor=admin, now=datetime.now(UTC)
    )
    await sign_in(client, "admin@example.cn")
    response = await client.get("/admin/membership/members.csv")
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "id,email,display_name,member_until,joined"
    assert lines[1].startswith(f"{person.id},{person.email},钱钟书,")
    searched = await client.get("/admin/membership", params={"q": "钱"})
    assert person.email in searched.text


async def test_non_admins_cannot_open_the_admin_pages(client: httpx.AsyncClient) -> None:
    await make_user(email="wu@example.cn")
    await sign_in(client, "wu@example.cn")
    assert (await client.get("/admin/membership")).status_code == 403
    assert (await client.get("/admin/membership/members.csv")).status_code == 403
    assert await User.filter(staff_role__isnull=False).count() == 0


async def test_the_new_window_form_shows_every_problem_and_keeps_what_was_typed(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="boss@example.cn", admin=True)
    await sign_in(client, "boss@example.cn")
    page = await client.get("/admin/membership")
    refused = await client.post(
        "/admin/membership/windows",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "2028 年度会员",
            "price_yuan": "很多钱",
            "seats": "0.5",
            "opens_at": "",
            "closes_at": "明天",
            "term_days": "365",
        },
    )
    assert refused.status_code == 422
    for field in ("price_yuan", "seats", "opens_at", "closes_at"):
        assert f'id="{field}-error"' in refused.text, field
    assert 'value="2028 年度会员"' in refused.text and 'value="很多钱"' in refused.text


async def test_the_window_page_shows_benefits_questions_and_members_in_chinese(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    await window_with_benefits(now)
    admin = await make_user(admin=True)
    for _ in range(2):
        await grants.grant_complimentary(
            user_id=(await make_user()).id, days=30, actor=admin, now=now
        )
    page = await client.get("/membership", headers=ZH)
    assert "会员权益" in page.text
    assert "<li>每天一条六十秒语音</li>" in page.text
    assert "常见问题" in page.text
    assert "<summary>可以退款吗？</summary>" in page.text
    assert "开通后七天内可全额退款。" in page.text
    assert 'data-members="2">已有 <strong>2</strong> 位会员加入书院</p>' in page.text


async def test_the_window_page_shows_benefits_questions_and_members_in_english(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    await window_with_benefits(now)
    await grants.grant_complimentary(
        user_id=(await make_user()).id, days=30, actor=await make_user(admin=True), now=now
    )
    page = await client.get("/membership", headers=EN)
    assert "What members get" in page.text
    assert "Questions and answers" in page.text
    assert "<summary>可以退款吗？</summary>" in page.text  # what the admin wrote, as written
    assert "<strong>1</strong> member in the community now</p>" in page.text


async def test_a_window_without_benefits_or_members_shows_neither(
    client: httpx.AsyncClient,
) -> None:
    await make_window(now=datetime.now(UTC))
    page = await client.get("/membership", headers=EN)
    assert "What members get" not in page.text
    assert 'class="card faq"' not in page.text
    assert "data-members" not in page.text


async def test_after_paying_the_buyer_is_welcomed_with_what_they_now_have(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    window = await window_with_benefits(now)
    buyer = await make_user(email="wu@example.cn", name="吴同学")
    enrollment = await membership.enroll(window_id=window.id, user=buyer, now=now)
    await sign_in(client, "wu@example.cn")
    page = await client.get(f"/membership/enrollments/{enrollment.id}/pay")
    paid = await client.post(
        f"/membership/enrollments/{enrollment.id}/pay",
        data={"csrf_token": csrf_from(page.text), "payment_method": "pm_card_visa"},
    )
    welcome = await client.get(paid.json()["redirect"], headers=ZH)
    assert welcome.status_code == 200
    assert "吴同学，欢迎加入书院！" in welcome.text
    until = (await User.get(id=buyer.id)).member_until
    assert until is not None
    shown = until.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    assert re.search(rf'<time datetime="[^"]+">{shown}</time>', welcome.text)
    assert "<li>每天一条六十秒语音</li>" in welcome.text
    assert window.name in welcome.text
    for link in ('href="/feed/podcast"', 'href="/board"', 'href="/membership/card"'):
        assert link in welcome.text, link
    # Theirs to come back to, in either language.
    later = await client.get("/membership/welcome", headers=EN)
    assert "What you now have" in later.text
    assert "Get your podcast address" in later.text
    # The waiting page (wallets) sends them to the same welcome.
    paying = await client.get(f"/membership/enrollments/{enrollment.id}/paying")
    assert paying.headers["location"] == "/membership/welcome"


async def test_a_complimentary_member_is_welcomed_with_the_current_windows_benefits(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    await window_with_benefits(now)
    person = await make_user(email="wu@example.cn")
    await grants.grant_complimentary(
        user_id=person.id, days=30, actor=await make_user(admin=True), now=now
    )
    await sign_in(client, "wu@example.cn")
    welcome = await client.get("/membership/welcome", headers=ZH)
    assert "<li>会员专属文章与播客</li>" in welcome.text


async def test_non_members_are_sent_from_the_welcome_to_the_window(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="wu@example.cn")
    await sign_in(client, "wu@example.cn")
    response = await client.get("/membership/welcome")
    assert response.status_code == 303
    assert response.headers["location"] == "/membership"
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # type: ignore[attr-defined]
    assert (await anonymous.get("/membership/welcome")).status_code in (302, 303)
    await anonymous.aclose()


async def test_admins_write_benefits_and_questions_as_text(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC))
    await make_user(email="admin@example.cn", admin=True)
    await sign_in(client, "admin@example.cn")
    page = await client.get(f"/admin/membership/windows/{window.id}", headers=ZH)
    assert 'name="benefits"' in page.text and 'name="faq"' in page.text
    saved = await client.post(
        f"/admin/membership/windows/{window.id}/benefits",
        data={
            "csrf_token": csrf_from(page.text),
            "benefits": "每天一条语音\r\n\r\n  会员社区  \r\n",
            "faq": "Q: 可以退款吗？\nA: 七天内可以。\n第二行。\n\n问：能开发票吗？\n答：能。",
        },
    )
    assert saved.status_code == 303
    stored = await EnrollmentWindow.get(id=window.id)
    assert stored.benefits == ["每天一条语音", "会员社区"]
    assert stored.faq == [
        {"question": "可以退款吗？", "answer": "七天内可以。\n第二行。"},
        {"question": "能开发票吗？", "answer": "能。"},
    ]
    again = await client.get(f"/admin/membership/windows/{window.id}")
    assert "Q: 可以退款吗？\nA: 七天内可以。\n第二行。\n\nQ: 能开发票吗？" in again.text

    refused = await client.post(
        f"/admin/membership/windows/{window.id}/benefits",
        data={"csrf_token": csrf_from(page.text), "benefits": "长" * 121, "faq": "没有问号"},
        headers=ZH,
    )
    assert refused.status_code == 422
    assert 'id="faq-error"' in refused.text
    assert "每个问题以“Q:”或“问：”开头" in refused.text
    assert "长" * 121 in refused.text  # what was typed is kept
    too_long = await client.post(
        f"/admin/membership/windows/{window.id}/benefits",
        data={"csrf_token": csrf_from(page.text), "benefits": "长" * 121, "faq": ""},
        headers=ZH,
    )
    assert too_long.status_code == 422
    assert "每行最多 120 个字" in too_long.text
    assert (await EnrollmentWindow.get(id=window.id)).benefits == ["每天一条语音", "会员社区"]
