"""Reward rules, payouts and the console's referral page over HTTP; rewards on the membership
window and members-only rules; posters cached per object, sharer and language; visits written
in batches; WeChat's share card on the share page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from starlette.applications import Starlette

from accounts.models import AuditEntry, User, WechatCredential
from accounts.wechat_jssdk import signature
from membership import services as membership
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from referrals import attribution, ledger, reward_rules
from referrals.models import (
    EntryKind,
    LedgerEntry,
    LinkDay,
    Payout,
    PayoutStatus,
    Referral,
    ReferredKind,
    RewardRule,
    ShareLink,
    Source,
)
from settings import Settings
from store import catalogue
from store import services as store
from tallies import flush
from tests.conftest import WECHAT_OFFICIAL
from tests.factories import (
    bearer,
    csrf_from,
    make_member,
    make_user,
    make_window,
    paid_order,
    session_cookie,
    sign_in,
    token_for,
)


async def admin_headers() -> tuple[dict[str, str], User]:
    admin = await make_user(role="admin")
    return bearer(await token_for(admin)), admin


async def test_an_admin_sets_a_reward_in_the_fixed_shape_and_bad_ones_are_refused(
    client: httpx.AsyncClient,
) -> None:
    headers, _admin = await admin_headers()
    window = await make_window(now=datetime.now(UTC))
    made = await client.post(
        "/api/v1/admin/rewards",
        json={
            "applies_to": {"kind": "window", "id": window.id},
            "kind": "amount",
            "value": 1_000,
            "members_only": True,
        },
        headers=headers,
    )
    assert made.status_code == 201 and set(made.json()) == {"id"}
    rule = await RewardRule.get(id=made.json()["id"])
    assert (rule.applies_id, rule.kind, rule.value, rule.members_only, rule.active) == (
        window.id,
        "amount",
        1_000,
        True,
        True,
    )
    over = await client.post(
        "/api/v1/admin/rewards",
        json={"applies_to": {"kind": "window", "id": window.id}, "kind": "percent", "value": 101},
        headers=headers,
    )
    assert over.status_code == 422 and over.json()["error"]["field"] == "value"
    nothing = await client.post(
        "/api/v1/admin/rewards",
        json={"applies_to": {"kind": "product", "id": 999_999}, "kind": "percent", "value": 5},
        headers=headers,
    )
    assert nothing.status_code == 422 and nothing.json()["error"]["field"] == "applies_to.id"
    member = bearer(await token_for(await make_member()))
    refused = await client.post(
        "/api/v1/admin/rewards",
        json={"applies_to": {"kind": "window", "id": window.id}, "kind": "percent", "value": 5},
        headers=member,
    )
    assert refused.status_code == 403
    assert await RewardRule.filter(active_key__not_isnull=True).count() == 1


async def test_a_referred_enrollment_earns_a_members_only_reward_only_for_a_member(
    provider: PaymentProvider,
) -> None:
    now = datetime.now(UTC)
    admin, referrer = await make_user(role="admin"), await make_member()
    window = await make_window(now=now, price_fen=19_900)
    await reward_rules.set_rule(
        applies_kind="window", applies_id=window.id, kind="amount", value=3_000,
        members_only=True, actor=admin, now=now,
    )  # fmt: skip
    link = await ShareLink.create(
        code="wxndwab2", sharer_id=referrer.id, object_type="window", object_id=window.id,
        created_at=now,
    )  # fmt: skip

    async def enroll(buyer: User) -> int:
        assert await attribution.touch(buyer.id, link, Source.WECHAT, at=now, days=7)
        enrollment = await membership.enroll(window_id=window.id, user=buyer, now=now)
        result = await membership.pay_enrollment(
            provider=provider, enrollment_id=enrollment.id, user=buyer, now=datetime.now(UTC),
            choice=PaymentChoice(payment_method="pm_card_visa"),
        )  # fmt: skip
        assert result.payment.status == "succeeded", result
        return enrollment.id

    # A newcomer (not a member when paying: the membership this payment buys does not count).
    first = await enroll(await make_user())
    referral = await Referral.get(kind=ReferredKind.ENROLLMENT, subject_id=first)
    assert (referral.referrer_id, referral.source, referral.amount_fen) == (
        referrer.id,
        "wechat",
        19_900,
    )
    assert not await LedgerEntry.exists(referrer_id=referrer.id)
    # A member renewing early in the same window earns the referrer the fixed 30 yuan.
    await enroll(await make_member(days=20))
    [entry] = await LedgerEntry.filter(referrer_id=referrer.id)
    assert (entry.kind, entry.amount_fen) == (EntryKind.CREDIT, 3_000)


async def test_payouts_are_asked_within_what_is_withdrawable_and_decided_by_admins(
    client: httpx.AsyncClient, provider: PaymentProvider, settings: Settings
) -> None:
    now = datetime.now(UTC)
    headers, admin = await admin_headers()
    referrer, buyer = await make_member(), await make_user()
    product = await store.create_product(
        title="茶", description="", category="食品", price_fen=10_000, stock=2
    )
    await reward_rules.set_rule(
        applies_kind="product", applies_id=product.id, kind="percent", value=20,
        actor=admin, now=now,
    )  # fmt: skip
    link = await ShareLink.create(
        code="payvtab2", sharer_id=referrer.id, object_type="product", object_id=product.id,
        created_at=now,
    )  # fmt: skip
    assert await attribution.touch(buyer.id, link, Source.LINK, at=now, days=7)
    await paid_order(provider, settings, buyer, product.id)
    mine = bearer(await token_for(referrer))
    early = await client.post("/api/v1/me/referrals/payouts", json={"amount_fen": 1}, headers=mine)
    assert early.status_code == 409 and early.json()["error"]["code"] == "payout_too_large"

    # Past the refund period (the ledger's entries are dated; the request checks at its now).
    entry = await LedgerEntry.get(referrer_id=referrer.id)
    payout = await ledger.request_payout(
        referrer.id, 1_500, entry.available_at + timedelta(seconds=1)
    )
    listed = await client.get("/api/v1/admin/referrals/payouts", headers=headers)
    assert [p["id"] for p in listed.json()["items"]] == [payout.id]
    approved = await client.post(
        f"/api/v1/admin/referrals/payouts/{payout.id}/approve", headers=headers
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = await client.post(
        f"/api/v1/admin/referrals/payouts/{payout.id}/reject", headers=headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "payout_decided"
    later = entry.available_at + timedelta(seconds=2)
    money = await ledger.balance(referrer.id, now=later)
    assert (money.balance_fen, money.withdrawable_fen) == (500, 500)
    funnel = await client.get("/api/v1/admin/referrals/funnel", headers=headers)
    [row] = funnel.json()["referrers"]
    assert (row["referrer_id"], row["paid"], row["owed_fen"], row["paid_out_fen"]) == (
        referrer.id,
        1,
        500,
        1_500,
    )
    member = bearer(await token_for(await make_member()))
    assert (await client.get("/api/v1/admin/referrals/funnel", headers=member)).status_code == 403


async def test_the_console_page_sets_and_stops_rewards_decides_payouts_and_exports_the_ledger(
    client: httpx.AsyncClient,
) -> None:
    _headers, admin = await admin_headers()
    product = await store.create_product(
        title="砚台", description="", category="文创", price_fen=30_000, stock=1
    )
    name, value = await session_cookie(admin)
    client.cookies.set(name, value)
    page = await client.get("/admin/referrals")
    assert page.status_code == 200 and "砚台" in page.text
    csrf = csrf_from(page.text)
    refused = await client.post(
        "/admin/referrals/rewards",
        data={"csrf_token": csrf, "applies_to": f"product:{product.id}", "kind": "percent",
              "value": "150"},
    )  # fmt: skip
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    saved = await client.post(
        "/admin/referrals/rewards",
        data={"csrf_token": csrf, "applies_to": f"product:{product.id}", "kind": "percent",
              "value": "12", "members_only": "1"},
    )  # fmt: skip
    assert saved.status_code == 303
    rule = await RewardRule.get(active_key=f"product:{product.id}")
    assert (rule.value, rule.members_only) == (12, True)
    stopped = await client.post(
        f"/admin/referrals/rewards/{rule.id}/retire", data={"csrf_token": csrf}
    )
    assert stopped.status_code == 303 and not (await RewardRule.get(id=rule.id)).active

    referrer = await make_member()
    payout = await Payout.create(
        referrer_id=referrer.id, amount_fen=800, requested_at=datetime.now(UTC)
    )
    shown = await client.get("/admin/referrals")
    assert f'data-payout="{payout.id}"' in shown.text
    nonsense = await client.post(
        f"/admin/referrals/payouts/{payout.id}/pay-twice", data={"csrf_token": csrf}
    )
    assert nonsense.status_code in (404, 405)
    rejected = await client.post(
        f"/admin/referrals/payouts/{payout.id}/reject", data={"csrf_token": csrf}
    )
    assert rejected.status_code == 303
    assert (await Payout.get(id=payout.id)).status == PayoutStatus.REJECTED

    export = await client.get("/admin/referrals/ledger.csv", params={"year": 2026})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "referrer_id" in export.text.splitlines()[0]
    assert await AuditEntry.exists(action="export.referral_ledger")
    name, value = await session_cookie(await make_member())
    client.cookies.set(name, value)
    assert (await client.get("/admin/referrals")).status_code == 403


async def test_visits_are_written_in_batches_and_the_sharers_own_are_not_counted(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    sharer = await make_member()
    product = await store.create_product(
        title="书签", description="", category="文创", price_fen=1_000, stock=3
    )
    link = await ShareLink.create(
        code="vxsxtsa2", sharer_id=sharer.id, object_type="product", object_id=product.id,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    for source in ("", "?from=poster", "?from=poster", "?from=nonsense"):
        assert (await client.get(f"/s/vxsxtsa2{source}")).status_code == 302
    assert not await LinkDay.exists()  # nothing written on the request path
    await flush(app.state.memory.tally)
    days = {row.source: row.visits for row in await LinkDay.filter(link_id=link.id)}
    assert days == {"link": 2, "poster": 2}
    await sign_in(client, sharer.email or "")
    await client.get("/s/vxsxtsa2")
    await flush(app.state.memory.tally)
    assert sum(row.visits for row in await LinkDay.filter(link_id=link.id)) == 4
    assert (await client.get("/s/nosuchcode")).status_code == 404
    assert (await client.get("/s/" + "x" * 300)).status_code == 404


async def test_a_poster_is_drawn_once_per_object_sharer_and_language(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    sharer = await make_member()
    product = await store.create_product(
        title="《罗辑思维》典藏版", description="", category="图书", price_fen=9_900, stock=3,
        sale_starts_at=datetime.now(UTC) + timedelta(days=2),
    )  # fmt: skip
    made = await client.post(
        "/api/v1/share-links",
        json={"object_type": "product", "object_id": product.id},
        headers=bearer(await token_for(sharer)),
    )
    code = made.json()["code"]
    folder = Path(settings.var_dir) / "media" / "posters"
    before = set(folder.glob("*.png")) if folder.exists() else set()
    zh = await client.get(f"/s/{code}/poster.png")
    again = await client.get(f"/s/{code}/poster.png?lang=zh")
    en = await client.get(f"/s/{code}/poster.png?lang=en")
    assert zh.content == again.content and zh.content != en.content
    assert len(set(folder.glob("*.png")) - before) == 2
    await catalogue.update_product(
        product.id, {"title": "《罗辑思维》典藏版（新）"}, actor=None, now=datetime.now(UTC)
    )
    renamed = await client.get(f"/s/{code}/poster.png")
    assert renamed.content != zh.content and len(set(folder.glob("*.png")) - before) == 3


async def test_inside_wechat_the_share_page_signs_the_card_for_the_short_link(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    now = datetime.now(UTC)
    await WechatCredential.create(
        app_id=WECHAT_OFFICIAL.app_id,
        jsapi_ticket="ticket-for-tests",
        jsapi_ticket_expires_at=now + timedelta(hours=1),
    )
    sharer = await make_member()
    product = await store.create_product(
        title="《认知》", description="第一行\n第二行", category="图书", price_fen=5_000, stock=1
    )
    made = await client.post(
        "/api/v1/share-links",
        json={"object_type": "product", "object_id": product.id},
        headers=bearer(await token_for(sharer)),
    )
    code = made.json()["code"]
    # Someone else's share page sends a visitor to the thing itself.
    other = await client.get(f"/share/{code}")
    assert other.status_code == 303 and other.headers["location"] == f"/store/products/{product.id}"
    await sign_in(client, sharer.email or "")
    in_wechat = {
        "User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50",
        "Accept-Language": "zh",
    }
    page = await client.get(f"/share/{code}", headers=in_wechat)
    assert page.status_code == 200
    data = dict(
        re.findall(
            r'data-([a-z-]+)="([^"]*)"', page.text.split('id="wechat-share"')[1].split(">")[0]
        )
    )
    assert data["link"] == f"{settings.public_url}/s/{code}?from=wechat"
    assert (data["title"], data["desc"]) == ("《认知》", "第一行")
    url = f"{settings.public_url}/share/{code}"
    assert data["signature"] == signature(
        "ticket-for-tests", data["nonce-str"], int(data["timestamp"]), url
    )
    outside = await client.get(f"/share/{code}")
    assert 'id="wechat-share"' not in outside.text
    assert "奖励" not in page.text and "返利" not in page.text


async def test_the_referrers_page_asks_for_a_payout_in_yuan_and_refuses_nonsense(
    client: httpx.AsyncClient,
) -> None:
    referrer = await make_member()
    now = datetime.now(UTC)
    await LedgerEntry.create(
        referrer_id=referrer.id, kind=EntryKind.CREDIT, amount_fen=2_000,
        available_at=now - timedelta(days=1), created_at=now - timedelta(days=8),
        once_key="credit:test",
    )  # fmt: skip
    await sign_in(client, referrer.email or "")
    page = await client.get("/account/referrals")
    assert page.status_code == 200 and 'data-withdrawable="2000"' in page.text
    csrf = csrf_from(page.text)
    for nonsense in ("inf", "nan", "1e309", "-3", "12.345", "x" * 5000):
        refused = await client.post(
            "/account/referrals/payouts", data={"csrf_token": csrf, "amount_yuan": nonsense}
        )
        assert refused.status_code == 303, nonsense
    too_much = await client.post(
        "/account/referrals/payouts", data={"csrf_token": csrf, "amount_yuan": "20.01"}
    )
    assert too_much.status_code == 303 and not await Payout.exists()
    asked = await client.post(
        "/account/referrals/payouts", data={"csrf_token": csrf, "amount_yuan": "12.5"}
    )
    assert asked.status_code == 303
    [payout] = await Payout.all()
    assert (payout.referrer_id, payout.amount_fen, payout.status) == (
        referrer.id,
        1_250,
        PayoutStatus.REQUESTED,
    )
    shown = await client.get("/account/referrals")
    assert 'data-withdrawable="750"' in shown.text


async def test_nonsense_in_paths_and_forms_is_refused_without_a_server_error(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/s/%00", "/s/%00abcdefg", "/share/%00", "/s/%00/poster.png", "/s/ABCDEFGH"):
        assert (await client.get(path)).status_code == 404, path
    admin = await make_user(role="admin")
    await sign_in(client, admin.email or "")
    page = await client.get("/admin/referrals")
    csrf = csrf_from(page.text)
    for applies_to, value in (("product:²", "5"), ("product:99999999999999999999", "5"),
                              ("window:1", "²"), ("nothing", "1" * 40)):  # fmt: skip
        refused = await client.post(
            "/admin/referrals/rewards",
            data={"csrf_token": csrf, "applies_to": applies_to, "kind": "percent", "value": value},
        )
        assert refused.status_code == 422, (applies_to, value)
    shared = await client.post(
        "/share", data={"csrf_token": csrf, "object_type": "product", "object_id": "²"}
    )
    assert shared.status_code in (303, 422)
    assert not await ShareLink.exists()


async def test_a_staff_member_does_not_decide_their_own_payout(client: httpx.AsyncClient) -> None:
    headers, admin = await admin_headers()
    payout = await Payout.create(
        referrer_id=admin.id, amount_fen=100, requested_at=datetime.now(UTC)
    )
    own = await client.post(f"/api/v1/admin/referrals/payouts/{payout.id}/approve", headers=headers)
    assert own.status_code == 403 and own.json()["error"]["code"] == "own_payout"
    assert (await Payout.get(id=payout.id)).status == PayoutStatus.REQUESTED
