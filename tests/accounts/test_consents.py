"""Consent (accounts.consents): nothing asked until the terms and privacy policy are published;
then the API answers 403 consent_required and pages lead to the consent page until the
current versions are agreed, again after a new version; sign-up asks for both and the age
statement; a card (Stripe, abroad) asks the cross-border consent once, a mainland wallet
never; optional uses are withdrawn with a button."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from accounts import consents, legal_documents
from accounts.models import AuditEntry, Consent, LegalDocument, User
from tests.factories import (
    bearer,
    csrf_from,
    make_user,
    sign_in,
    token_for,
)

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


async def publish_both(version_note: str = "") -> None:
    await legal_documents.publish("terms", "用户协议", f"条款正文{version_note}", by=None, now=NOW)
    await legal_documents.publish(
        "privacy", "隐私政策", f"隐私正文{version_note}", by=None, now=NOW
    )


async def agree_current(user: User) -> None:
    """`user` agrees to the current terms and privacy policy, when there are any."""
    versions = await legal_documents.current_versions(fresh=True)
    if versions.regime_on:
        for document in legal_documents.REQUIRED:
            await consents.agree(user, document, versions.of(document), source="test", now=NOW)


# The factories' sign-up agrees to what is published when the person is made.
agreed_person = make_user


async def test_nothing_is_asked_while_the_terms_and_privacy_policy_are_not_both_published(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user(email="wu@example.cn")
    token = await token_for(user)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    await legal_documents.publish("terms", "用户协议", "条款", by=None, now=NOW)  # the terms alone
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    await sign_in(client, "wu@example.cn")
    assert (await client.get("/account")).status_code == 200
    listed = (await client.get("/api/v1/me/consents", headers=bearer(token))).json()
    assert listed["outstanding"] == [] and listed["current"]["terms"] == 1


async def test_a_new_version_is_asked_for_over_the_api_until_it_is_agreed(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    token = await token_for(user)
    await publish_both()
    refused = await client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "consent_required"
    # Made before anything was published: they never stated their age either.
    assert error["documents"] == ["terms", "privacy", "age_14"]
    assert "/api/v1/me/consents" in error["message"]
    for document in ("terms", "privacy"):
        given = await client.post(
            "/api/v1/me/consents",
            json={"document": document, "version": 1, "age_14": document == "terms"},
            headers=bearer(token),
        )
        assert given.status_code == 201, given.text
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200

    await legal_documents.publish("terms", "用户协议", "第二版条款", by=None, now=NOW)
    again = await client.get("/api/v1/me", headers=bearer(token))
    assert again.status_code == 403 and again.json()["error"]["documents"] == ["terms"]
    old = await client.post(
        "/api/v1/me/consents", json={"document": "terms", "version": 1}, headers=bearer(token)
    )
    assert old.status_code == 409 and old.json()["error"]["code"] == "version_not_current"
    listed = (await client.get("/api/v1/me/consents", headers=bearer(token))).json()
    assert listed["outstanding"] == ["terms"]
    assert [item["purpose"] for item in listed["items"]] == [
        "privacy",
        "age_14",
        "terms",
        "cross_border",
    ]
    new = await client.post(
        "/api/v1/me/consents", json={"document": "terms", "version": 2}, headers=bearer(token)
    )
    assert new.status_code == 201 and new.json()["version"] == 2
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    assert (await User.get(id=user.id)).agreed_terms == 2


async def test_what_is_exempt_stays_open_to_a_person_who_has_not_agreed(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user()
    token = await token_for(user)
    await publish_both()
    read = await client.get("/api/v1/legal/terms", headers=bearer(token))
    assert read.status_code == 200 and read.json()["body"] == "条款正文"
    for path in ("/api/v1/me/export", "/api/v1/me/deletion"):  # privacy's (built elsewhere)
        answer = await client.post(path, json={}, headers=bearer(token))
        assert answer.status_code != 403 or answer.json()["error"]["code"] != "consent_required"
    ended = await client.delete("/api/v1/tokens/current", headers=bearer(token))
    assert ended.status_code == 204


async def test_pages_lead_to_the_consent_page_and_back_once_agreed_again_after_a_new_version(
    client: httpx.AsyncClient,
) -> None:
    await publish_both()
    await agreed_person(email="zheng@example.cn")
    await sign_in(client, "zheng@example.cn")
    assert (await client.get("/account")).status_code == 200
    await publish_both()  # version 2 of each
    sent = await client.get("/account?x=1")
    assert sent.status_code == 303
    assert sent.headers["location"] == "/me/consent?next=/account%3Fx%3D1"
    assert (await client.get("/legal/privacy")).status_code == 200  # the documents stay open
    page = await client.get(sent.headers["location"])
    assert page.status_code == 200
    assert 'name="terms" value="2"' in page.text and 'name="privacy" value="2"' in page.text
    assert 'name="age_14"' not in page.text  # stated at sign-up: asked once
    csrf = csrf_from(page.text)
    unticked = await client.post(sent.headers["location"], data={"csrf_token": csrf, "terms": "2"})
    assert unticked.status_code == 303 and unticked.headers["location"].startswith("/me/consent")
    assert (await client.get("/account")).status_code == 303
    agreed = await client.post(
        sent.headers["location"],
        data={"csrf_token": csrf, "terms": "2", "privacy": "2"},
    )
    assert agreed.status_code == 303 and agreed.headers["location"] == "/account?x=1"
    assert (await client.get("/account")).status_code == 200


async def test_the_consent_page_never_sends_a_person_to_another_site(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="he@example.cn")
    await sign_in(client, "he@example.cn")
    await publish_both()
    page = await client.get("/me/consent", params={"next": "//evil.example/x"})
    agreed = await client.post(
        "/me/consent?next=%2F%2Fevil.example%2Fx",
        data={"csrf_token": csrf_from(page.text), "terms": "1", "privacy": "1", "age_14": "true"},
    )
    assert agreed.status_code == 303 and agreed.headers["location"] == "/"
    assert await consents.age_stated((await User.get(email="he@example.cn")).id)


async def test_sign_up_is_refused_without_the_agreements_and_the_age_statement(
    client: httpx.AsyncClient,
) -> None:
    await publish_both()
    person = {
        "email": "new@example.cn",
        "password": "correct horse battery",
        "display_name": "新人",
    }
    refused = await client.post("/api/v1/accounts", json=person)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert [e["field"] for e in error["errors"]] == ["terms", "privacy", "age_14"]
    young = await client.post("/api/v1/accounts", json={**person, "terms": 1, "privacy": 1})
    assert young.status_code == 422 and young.json()["error"]["field"] == "age_14"
    made = await client.post(
        "/api/v1/accounts", json={**person, "terms": 1, "privacy": 1, "age_14": True}
    )
    assert made.status_code == 201, made.text
    user = await User.get(email="new@example.cn")
    assert (user.agreed_terms, user.agreed_privacy) == (1, 1)
    purposes = (
        await Consent.filter(user_id=user.id).order_by("id").values_list("purpose", flat=True)
    )
    assert purposes == ["terms", "privacy", "age_14"]


async def test_the_sign_up_form_asks_for_the_boxes_when_the_regime_is_on(
    client: httpx.AsyncClient,
) -> None:
    before = await client.get("/account/register")
    assert 'name="age_14"' not in before.text  # nothing published: nothing asked
    await publish_both()
    page = await client.get("/account/register")
    assert 'name="terms" value="1"' in page.text and 'name="age_14"' in page.text
    assert 'href="/legal/terms"' in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "email": "form@example.cn",
        "display_name": "表单",
        "password": "correct horse battery",
    }
    refused = await client.post("/account/register", data=form)
    assert refused.status_code == 422
    assert not await User.filter(email="form@example.cn").exists()
    made = await client.post(
        "/account/register", data={**form, "terms": "1", "privacy": "1", "age_14": "true"}
    )
    assert made.status_code == 303
    assert (await client.get("/account")).status_code == 200


async def test_an_optional_use_is_withdrawn_with_its_own_button(
    client: httpx.AsyncClient,
) -> None:
    await publish_both()
    user = await agreed_person(email="lin@example.cn")
    await sign_in(client, "lin@example.cn")
    page = await client.get("/me/consent")
    assert page.status_code == 200 and 'id="answer-broadcast"' in page.text
    csrf = csrf_from(page.text)
    for purpose in ("broadcast", "cross_border"):
        given = await client.post(
            "/me/consent/optional", data={"csrf_token": csrf, "purpose": purpose, "answer": "yes"}
        )
        assert given.status_code == 303
    assert await consents.cross_border_agreed(user.id)
    for purpose in ("broadcast", "cross_border"):
        await client.post(
            "/me/consent/optional", data={"csrf_token": csrf, "purpose": purpose, "answer": "no"}
        )
    latest = {
        purpose: (await consents.latest_answer(user.id, purpose)).granted  # type: ignore[union-attr]
        for purpose in ("broadcast", "cross_border")
    }
    assert latest == {"broadcast": False, "cross_border": False}
    assert not await consents.cross_border_agreed(user.id)
    token = await token_for(user)
    leaving = await client.delete("/api/v1/me/consents/terms", headers=bearer(token))
    assert leaving.status_code == 409
    assert leaving.json()["error"]["code"] == "withdrawing_is_leaving"
    assert "/me/leave" in leaving.json()["error"]["message"]


async def test_admins_publish_the_next_version_with_an_audit_entry_and_others_cannot(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="boss@example.cn", admin=True)
    await sign_in(client, "boss@example.cn")
    page = await client.get("/admin/legal")
    assert page.status_code == 200 and 'id="no-regime"' in page.text
    published = await client.post(
        "/admin/legal",
        data={
            "csrf_token": csrf_from(page.text),
            "kind": "terms",
            "title": "用户协议",
            "body": "第一版",
        },
    )
    assert published.status_code == 303
    entry = await AuditEntry.get(action="legal_document.publish")
    assert entry.after == {"kind": "terms", "version": 1, "title": "用户协议"}
    cross = await legal_documents.publish("cross_border", "跨境", "正文", by=None, now=NOW)
    assert cross.version == 2  # version 1 is built in
    reader_client = client
    await make_user(email="reader@example.cn")
    reader_client.cookies.clear()
    await sign_in(reader_client, "reader@example.cn")
    assert (await reader_client.get("/admin/legal")).status_code == 403


async def test_the_legal_pages_show_the_current_version_and_older_ones_by_number(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/legal/terms")).status_code == 404  # nothing published
    assert "Stripe" in (await client.get("/legal/cross-border")).text  # built in
    await publish_both(" 一")
    await publish_both(" 二")
    current = await client.get("/legal/terms")
    assert "条款正文 二" in current.text and "?version=1" in current.text
    older = await client.get("/legal/terms", params={"version": 1})
    assert "条款正文 一" in older.text
    assert (await client.get("/legal/terms", params={"version": 9})).status_code == 404
    assert (await client.get("/legal/nothing")).status_code == 404


async def test_a_person_who_never_stated_their_age_is_asked_it_by_the_api_and_the_pages(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user(email="qian@example.cn")  # before the regime: no age statement
    token = await token_for(user)
    await publish_both()
    await consents.agree(user, "terms", 1, source="test", now=NOW)
    await consents.agree(user, "privacy", 1, source="test", now=NOW)
    refused = await client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["error"]["documents"] == ["age_14"]
    assert "age_14" in refused.json()["error"]["message"]
    listed = (await client.get("/api/v1/me/consents", headers=bearer(token))).json()
    assert listed["outstanding"] == ["age_14"] and listed["age_stated"] is False
    await sign_in(client, "qian@example.cn")
    sent = await client.get("/account")
    assert sent.status_code == 303 and sent.headers["location"].startswith("/me/consent")
    page = await client.get(sent.headers["location"])
    assert 'name="age_14"' in page.text and 'name="terms"' not in page.text
    given = await client.post(
        "/api/v1/me/consents",
        json={"document": "terms", "version": 1, "age_14": True},
        headers=bearer(token),
    )
    assert given.status_code == 201
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    assert (await client.get("/account")).status_code == 200


async def test_a_version_above_the_current_one_in_a_stale_memory_is_not_asked_again() -> None:
    await publish_both()
    await publish_both()
    user = await make_user()  # agrees to version 2 of each
    stale = legal_documents.Versions(terms=1, privacy=1)  # what a worker read a second ago
    assert await consents.outstanding(user, stale) == ()


async def test_a_stale_agree_never_lowers_the_version_agreed_on_the_user_row() -> None:
    await publish_both()
    await publish_both()
    user = await make_user()  # agrees to version 2 of the terms
    # An agree that read the documents before version 2 was published (played here by
    # taking version 2 away while it runs) records version 1 but leaves the row at 2.
    await LegalDocument.filter(kind="terms", version=2).delete()
    await consents.agree(user, "terms", 1, source="test", now=NOW)
    assert (await User.get(id=user.id)).agreed_terms == 2


async def test_what_keeps_an_account_safe_or_withdraws_stays_open_before_agreeing(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user(email="sun@example.cn")
    token = await token_for(user)
    await sign_in(client, "sun@example.cn")
    await publish_both()
    assert (await client.get("/account")).status_code == 303  # the gate is on for them
    for path in (
        "/account/wechat/start",  # a WeChat-only member proves who they are there, to leave
        "/account/wechat/callback",
        "/mail/unsubscribe/not-a-token",  # withdrawing mail never needs agreeing
        "/account/password",
        "/account/forgot",
        "/account/reset/not-a-token",
        "/favicon.ico",
    ):
        answer = await client.get(path)
        location = answer.headers.get("location", "")
        assert not location.startswith("/me/consent"), path
    ended = await client.post("/account/sessions/nothing/end", data={})
    assert not ended.headers.get("location", "").startswith("/me/consent")
    preflight = await client.options("/account")
    assert not preflight.headers.get("location", "").startswith("/me/consent")
    others = await client.delete("/api/v1/me/sessions", headers=bearer(token))
    assert others.status_code == 204, others.text
    sessions = await client.get("/api/v1/me/sessions", headers=bearer(token))
    assert sessions.status_code == 200


async def test_the_inbox_badge_polling_leads_from_the_page_it_is_on_and_never_off_an_exempt_one(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="zhou@example.cn")
    await sign_in(client, "zhou@example.cn")
    await publish_both()
    badge = "/account/unread"

    def polled_from(page: str) -> dict[str, str]:
        return {"HX-Request": "true", "HX-Current-URL": page}

    from_account = await client.get(badge, headers=polled_from("http://testserver/account?x=1"))
    assert from_account.status_code == 204
    assert from_account.headers["HX-Redirect"] == "/me/consent?next=/account%3Fx%3D1"
    for exempt in ("/me/consent?next=/account", "/me/leave", "/me/data"):
        stays = await client.get(badge, headers=polled_from(f"http://testserver{exempt}"))
        assert stays.status_code == 204 and "HX-Redirect" not in stays.headers, exempt
    elsewhere = await client.get(badge, headers=polled_from("http://evil.example/account"))
    assert elsewhere.headers["HX-Redirect"] == "/me/consent"


async def test_an_unknown_document_is_not_found_and_a_bad_version_is_told_in_the_readers_words(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/api/v1/legal/nothing")).status_code == 404
    await publish_both()
    bad = await client.get(
        "/api/v1/legal/terms", params={"version": "abc"}, headers={"Accept-Language": "zh-CN"}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["message"] == "version：必须是整数"


async def test_the_consoles_home_page_says_when_nothing_is_published(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="owner@example.cn", role="owner")
    await sign_in(client, "owner@example.cn")
    home = await client.get("/admin")
    assert 'id="no-regime"' in home.text and 'href="/admin/legal"' in home.text
    await publish_both()
    await consents.agree(
        await User.get(email="owner@example.cn"), "terms", 1, source="test", now=NOW, age_14=True
    )
    await consents.agree(
        await User.get(email="owner@example.cn"), "privacy", 1, source="t", now=NOW
    )
    assert 'id="no-regime"' not in (await client.get("/admin")).text
