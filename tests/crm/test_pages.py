"""The console's outreach pages: segments built, counted and exported; a broadcast written,
previewed as a member and as the mail, sent, watched and canceled; a mailed link's clicks;
and the member's side: consent shown beside the broadcast mail choice, and recorded."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from accounts import notices
from accounts.models import AuditEntry, Consent, NoticeChannel, OutboxMessage, User
from crm import broadcasts, segments
from crm.broadcasts import Audience
from crm.models import AudienceKind, Broadcast, BroadcastRecipient, BroadcastStatus, Segment
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for

SHANGHAI_LATER = "%Y-%m-%dT%H:%M"


async def signed_in(client: httpx.AsyncClient, role: str = "admin") -> tuple[User, str]:
    """A staff member signed in through the form, and a CSRF token for their forms."""
    person = await make_user(role=role)
    await sign_in(client, person.email)
    page = await client.get("/account")
    return person, csrf_from(page.text)


async def send_everything() -> None:
    now = datetime.now(UTC)
    while (await broadcasts.send_due(now=now)).delivered or await Broadcast.filter(
        status=BroadcastStatus.SENDING
    ).exists():
        pass


def form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, **fields}


async def test_the_outreach_pages_render_for_an_admin(client: httpx.AsyncClient) -> None:
    admin, _csrf = await signed_in(client)
    await make_member()
    broadcast = await broadcasts.create(
        actor=admin,
        title="今天的书单",
        body="读**这本**。",
        audience=Audience(AudienceKind.ALL_MEMBERS),
        send_at=None,
        now=datetime.now(UTC),
    )
    for path in (
        "/admin/segments",
        "/admin/broadcasts",
        "/admin/broadcasts/new",
        f"/admin/broadcasts/{broadcast.id}",
        f"/admin/broadcasts/{broadcast.id}/progress",
        f"/messages/{broadcast.id}",
    ):
        page = await client.get(path)
        assert page.status_code == 200, path
    listed = (await client.get("/admin/broadcasts")).text
    assert "今天的书单" in listed
    nav = (await client.get("/admin")).text
    assert 'href="/admin/segments"' in nav and 'href="/admin/broadcasts"' in nav


async def test_support_staff_are_refused_the_outreach_pages(client: httpx.AsyncClient) -> None:
    _support, csrf = await signed_in(client, role="support")
    for path in ("/admin/segments", "/admin/broadcasts", "/admin/broadcasts/new"):
        assert (await client.get(path)).status_code == 403, path
    refused = await client.post(
        "/admin/broadcasts",
        data=form(csrf, title="一", body="一", audience="everyone", when="now"),
    )
    assert refused.status_code == 403
    assert 'href="/admin/segments"' not in (await client.get("/admin")).text
    assert not await Broadcast.exists()


async def test_a_segment_built_from_the_form_is_listed_with_its_live_count(
    client: httpx.AsyncClient,
) -> None:
    _admin, csrf = await signed_in(client)
    await make_member(days=10)
    await make_member(days=100)
    saved = await client.post(
        "/admin/segments",
        data=form(
            csrf,
            name="本月到期",
            membership="member",
            expires_within_days="30",
            joined_within_days="",
            bought_product="",
            feed="",
            tag="",
            broadcast_mail="",
        ),
    )
    assert saved.status_code == 303
    segment = await Segment.get(name="本月到期")
    assert segment.rules == {"membership": "member", "expires_within_days": 30}
    page = (await client.get("/admin/segments")).text
    row = page[page.index("<td>本月到期</td>") :]
    assert re.search(r"<td>1</td>", row[: row.index("</tr>")])


async def test_a_bad_segment_form_is_shown_again_with_every_problem_beside_its_field(
    client: httpx.AsyncClient,
) -> None:
    _admin, csrf = await signed_in(client)
    page = await client.post(
        "/admin/segments",
        data=form(csrf, name="  ", expires_within_days="400", membership="sometimes"),
    )
    assert page.status_code == 422
    assert 'id="name-error"' in page.text
    assert 'id="expires_within_days-error"' in page.text
    assert 'id="membership-error"' in page.text
    assert 'value="400"' in page.text  # what was typed is kept
    assert not await Segment.exists()


async def test_a_segment_is_deleted_from_its_page(client: httpx.AsyncClient) -> None:
    admin, csrf = await signed_in(client)
    segment, _count = await segments.create(
        actor=admin, name="旧的", rules=segments.SegmentFilter(), now=datetime.now(UTC)
    )
    gone = await client.post(f"/admin/segments/{segment.id}/delete", data=form(csrf))
    assert gone.status_code == 303
    assert not await Segment.exists()


async def test_a_segment_s_csv_lists_its_people_and_the_export_is_audited(
    client: httpx.AsyncClient,
) -> None:
    admin, _csrf = await signed_in(client)
    member = await make_member()
    await make_user()
    segment, _count = await segments.create(
        actor=admin,
        name="会员",
        rules=segments.SegmentFilter(membership="member"),
        now=datetime.now(UTC),
    )
    answer = await client.get(f"/admin/segments/{segment.id}.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[0] == ["id", "email", "display_name", "member_until", "created_at"]
    assert [(int(r[0]), r[1], r[2]) for r in rows[1:]] == [
        (member.id, member.email, member.display_name)
    ]
    assert rows[1][3].endswith("+08:00")  # times as Shanghai reads them
    entry = await AuditEntry.get(action="export.segment")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (  # type: ignore[attr-defined]
        admin.id,
        "segment",
        str(segment.id),
    )
    assert entry.after == {"name": "会员", "filter": {"membership": "member"}}


async def test_only_those_who_may_export_get_a_segment_s_csv(client: httpx.AsyncClient) -> None:
    admin = await make_user(role="admin")
    segment, _count = await segments.create(
        actor=admin, name="所有人", rules=segments.SegmentFilter(), now=datetime.now(UTC)
    )
    await signed_in(client, role="support")
    assert (await client.get(f"/admin/segments/{segment.id}.csv")).status_code == 403
    assert not await AuditEntry.filter(action="export.segment").exists()


async def test_the_preview_shows_the_rendered_body_the_mail_and_the_reach_and_saves_nothing(
    client: httpx.AsyncClient,
) -> None:
    admin, csrf = await signed_in(client)
    await make_member()
    await make_member()
    page = await client.post(
        "/admin/broadcasts/preview",
        data=form(
            csrf,
            title="新书到了",
            body="这本书**很好**，见 [书页](https://example.cn/book)。\n\n<script>alert(1)</script>",
            audience="all_members",
            when="now",
        ),
    )
    assert page.status_code == 200
    text = page.text
    assert "<strong>很好</strong>" in text  # the Markdown rendered
    assert "<script>alert(1)" not in text  # and sanitised
    assert text.count("新书到了") >= 3  # the title: in the form, as a member reads it, the mail
    assert html.escape(admin.email) in text  # the mail as the admin would receive it
    assert "/m/" in text  # its link goes through the counted redirect
    mail = await client.get("/admin/broadcasts/preview/mail")  # the mail's own HTML
    assert mail.status_code == 200 and "新书到了</h1>" in mail.text
    assert "style-src 'unsafe-inline'" in mail.headers["content-security-policy"]
    assert "script-src" not in mail.headers["content-security-policy"]
    assert re.search(r"\b2\b", text[text.index('id="preview-heading"') :])  # two members
    assert not await Broadcast.exists()


async def test_the_preview_says_how_many_were_already_reached_that_day(
    client: httpx.AsyncClient,
) -> None:
    admin, csrf = await signed_in(client)
    await make_member()
    await broadcasts.create(
        actor=admin,
        title="一",
        body="一",
        audience=Audience(AudienceKind.ALL_MEMBERS),
        send_at=None,
        now=datetime.now(UTC),
    )
    await send_everything()
    page = await client.post(
        "/admin/broadcasts/preview",
        data=form(csrf, title="二", body="二", audience="everyone", when="now"),
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200
    # Everyone is the admin and the member; the member was reached today.
    assert "1 of them already received a broadcast that day" in page.text


async def test_sending_from_the_form_creates_the_broadcast_and_shows_its_progress(
    client: httpx.AsyncClient,
) -> None:
    _admin, csrf = await signed_in(client)
    await make_member()
    sent = await client.post(
        "/admin/broadcasts",
        data=form(csrf, title="今天", body="你好", audience="all_members", when="now"),
    )
    assert sent.status_code == 303
    broadcast = await Broadcast.get()
    assert sent.headers["location"] == f"/admin/broadcasts/{broadcast.id}"
    assert (broadcast.title, broadcast.recipients, broadcast.status) == (
        "今天",
        1,
        BroadcastStatus.SENDING,
    )
    page = await client.get(sent.headers["location"])
    assert '<progress max="1" value="0"' in page.text


async def test_a_broadcast_scheduled_from_the_form_goes_at_the_shanghai_time_typed(
    client: httpx.AsyncClient,
) -> None:
    _admin, csrf = await signed_in(client)
    await make_member()
    later = datetime.now(UTC) + timedelta(days=2)
    typed = later.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=8)  # Shanghai's clock
    sent = await client.post(
        "/admin/broadcasts",
        data=form(
            csrf,
            title="后天",
            body="后天见",
            audience="everyone",
            when="later",
            send_at=typed.strftime(SHANGHAI_LATER),
        ),
    )
    assert sent.status_code == 303
    broadcast = await Broadcast.get()
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert abs(broadcast.send_at - later) < timedelta(minutes=1)


async def test_a_refused_broadcast_form_shows_why_beside_its_fields(
    client: httpx.AsyncClient,
) -> None:
    _admin, csrf = await signed_in(client)
    page = await client.post(
        "/admin/broadcasts",
        data=form(csrf, title="", body="正文", audience="segment", segment_id="", when="later"),
    )
    assert page.status_code == 422
    for field in ("title", "audience", "send_at"):
        assert f'id="{field}-error"' in page.text, field
    assert 'value="segment" class="check" checked' in page.text  # the choice is kept
    assert "正文" in page.text


async def test_the_daily_limit_is_shown_in_the_form_not_as_a_server_error(
    client: httpx.AsyncClient,
) -> None:
    admin, csrf = await signed_in(client)
    await make_member()
    await broadcasts.create(
        actor=admin,
        title="一",
        body="一",
        audience=Audience(AudienceKind.ALL_MEMBERS),
        send_at=None,
        now=datetime.now(UTC),
    )
    await send_everything()
    page = await client.post(
        "/admin/broadcasts",
        data=form(csrf, title="二", body="二", audience="all_members", when="now"),
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 409
    assert 'class="flash flash-error" role="alert"' in page.text
    assert "already received a broadcast on" in page.text
    assert 'value="二"' in page.text  # the title typed is kept
    assert await Broadcast.all().count() == 1


async def test_the_progress_part_polls_while_the_broadcast_goes_and_stops_once_sent(
    client: httpx.AsyncClient,
) -> None:
    admin, _csrf = await signed_in(client)
    await make_member()
    await make_member()
    broadcast = await broadcasts.create(
        actor=admin,
        title="一",
        body="一",
        audience=Audience(AudienceKind.ALL_MEMBERS),
        send_at=None,
        now=datetime.now(UTC),
    )
    path = f"/admin/broadcasts/{broadcast.id}/progress"
    going = (await client.get(path, headers={"HX-Request": "true"})).text
    assert 'data-hx-trigger="every 2s"' in going
    assert f'data-hx-get="{path}"' in going
    assert "<html" not in going  # a fragment, not a page
    page = (await client.get(f"/admin/broadcasts/{broadcast.id}")).text
    assert f'href="/admin/broadcasts/{broadcast.id}"' in page  # the reload link, without JS
    await send_everything()
    done = (await client.get(path, headers={"HX-Request": "true"})).text
    assert "every 2s" not in done
    assert '<progress max="2" value="2"' in done


async def test_a_scheduled_broadcast_is_canceled_from_its_page(client: httpx.AsyncClient) -> None:
    admin, csrf = await signed_in(client)
    await make_member()
    broadcast = await broadcasts.create(
        actor=admin,
        title="明天",
        body="明天见",
        audience=Audience(AudienceKind.EVERYONE),
        send_at=datetime.now(UTC) + timedelta(days=1),
        now=datetime.now(UTC),
    )
    page = (await client.get(f"/admin/broadcasts/{broadcast.id}")).text
    assert f'action="/admin/broadcasts/{broadcast.id}/cancel"' in page
    canceled = await client.post(f"/admin/broadcasts/{broadcast.id}/cancel", data=form(csrf))
    assert canceled.status_code == 303
    await broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELED
    page = (await client.get(f"/admin/broadcasts/{broadcast.id}")).text
    assert "/cancel" not in page and "every 2s" not in page
    assert await AuditEntry.filter(action="broadcast.cancel").exists()


async def test_a_mailed_link_redirects_to_its_target_and_counts_each_click(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(role="admin")
    reader = await make_member()
    reader.email_verified_at = datetime.now(UTC)
    await reader.save(update_fields=["email_verified_at"])
    await notices.choose(reader, "broadcast", NoticeChannel.INBOX_AND_MAIL.value)
    broadcast = await broadcasts.create(
        actor=admin,
        title="新书",
        body="见 [书页](https://example.cn/book?a=1&b=2)",
        audience=Audience(AudienceKind.ALL_MEMBERS),
        send_at=None,
        now=datetime.now(UTC),
    )
    await send_everything()
    mail = await OutboxMessage.get(recipient=reader.email, dedupe_key__startswith="broadcast:")
    assert mail.html is not None
    link = html.unescape(re.search(r'href="([^"]*/m/[^"]+)"', mail.html).group(1))  # type: ignore[union-attr]
    path = link[link.index("/m/") :]
    first = await client.get(path)
    assert first.status_code == 303
    assert first.headers["location"] == "https://example.cn/book?a=1&b=2"
    row = await BroadcastRecipient.get(broadcast_id=broadcast.id, user_id=reader.id)
    clicked_at = row.clicked_at
    assert clicked_at is not None
    await client.get(path)
    await row.refresh_from_db()
    await broadcast.refresh_from_db()
    assert broadcast.clicks == 2  # every click
    assert row.clicked_at == clicked_at  # the person's first click only
    admin_page_token = bearer(await token_for(admin))
    answer = await client.get(f"/api/v1/admin/broadcasts/{broadcast.id}", headers=admin_page_token)
    assert (answer.json()["clicks"], answer.json()["mailed"]) == (2, 1)


async def test_a_link_that_is_not_ours_goes_home_and_counts_nothing(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/m/forged-token")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


async def test_the_notices_page_shows_the_consent_beside_broadcast_mail_and_records_it(
    client: httpx.AsyncClient,
) -> None:
    reader = await make_user()
    await sign_in(client, reader.email)
    page = await client.get("/account/notices", headers={"Accept-Language": "en"})
    consent = notices.kinds()["broadcast"].consent
    assert html.escape(consent, quote=False).replace("'", "&#39;") in page.text
    assert 'aria-describedby="consent-broadcast"' in page.text
    chosen = await client.post(
        "/account/notices",
        data={"csrf_token": csrf_from(page.text), "kind-broadcast": "inbox_mail"},
    )
    assert chosen.status_code == 303
    recorded = await Consent.get(user_id=reader.id, purpose="broadcast")
    assert (recorded.purpose, recorded.granted, recorded.source) == (
        "broadcast",
        True,
        "notices_page",
    )


async def test_a_choice_of_broadcast_mail_through_the_api_is_recorded_as_from_the_api(
    client: httpx.AsyncClient,
) -> None:
    reader = await make_user()
    answer = await client.put(
        "/api/v1/me/notices/broadcast",
        json={"channel": "inbox_mail"},
        headers=bearer(await token_for(reader)),
    )
    assert answer.status_code == 200
    recorded = await Consent.get(user_id=reader.id, purpose="broadcast")
    assert (recorded.granted, recorded.source) == (True, "api")


async def test_consent_is_recorded_in_the_words_the_page_showed(
    client: httpx.AsyncClient,
) -> None:
    reader = await make_user()  # no language chosen on the account: the page's decides
    await sign_in(client, reader.email)
    english = {"Accept-Language": "en"}
    page = await client.get("/account/notices", headers=english)
    await client.post(
        "/account/notices",
        data={"csrf_token": csrf_from(page.text), "kind-broadcast": "inbox_mail"},
        headers=english,
    )
    recorded = await Consent.get(user_id=reader.id, purpose="broadcast")
    assert recorded.wording == notices.kinds()["broadcast"].consent  # the English words


async def test_a_mail_s_one_click_unsubscribe_records_the_consent_withdrawn(
    client: httpx.AsyncClient,
) -> None:
    reader = await make_user()
    await notices.choose(reader, "broadcast", "inbox_mail")
    link = notices.unsubscribe_link(reader.id, "broadcast")
    answer = await client.post(
        urlsplit(link).path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    given, withdrawn = await Consent.filter(user_id=reader.id, purpose="broadcast").order_by("id")
    assert (given.granted, withdrawn.granted, withdrawn.source) == (
        True,
        False,
        "unsubscribe_link",
    )
    assert await notices.channel_for(reader.id, "broadcast") == NoticeChannel.INBOX


async def test_a_broadcast_is_read_on_the_site_only_by_those_it_reached(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(admin=True)
    reached = await make_member()
    skipped = await make_member()
    outsider = await make_user()
    now = datetime.now(UTC)
    earlier = await broadcasts.create(
        actor=admin,
        title="早",
        body="早",
        audience=Audience(AudienceKind.SEGMENT, (await segment_of(admin, skipped)).id),
        send_at=None,
        now=now,
    )
    await send_everything()
    later = await broadcasts.create(
        actor=admin,
        title="晚",
        body="晚",
        audience=Audience(AudienceKind.ALL_MEMBERS),
        send_at=None,
        now=now,
    )
    await send_everything()
    path = f"/messages/{later.id}"
    for person, status in ((reached, 200), (skipped, 404), (outsider, 404)):
        client.cookies.clear()
        await sign_in(client, person.email)
        assert (await client.get(path)).status_code == status, person.display_name
    assert earlier.id != later.id


async def segment_of(admin: User, person: User) -> Segment:
    """A segment of one person (by a tag only they carry)."""
    from crm import notes

    await notes.add_tag(actor=admin, user_id=person.id, name="早鸟", now=datetime.now(UTC))
    segment, _count = await segments.create(
        actor=admin,
        name="早鸟",
        rules=segments.read_filter({"tag": "早鸟"}),
        now=datetime.now(UTC),
    )
    return segment


async def test_a_segment_a_broadcast_is_waiting_for_cannot_be_deleted(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(admin=True)
    segment = await segment_of(admin, await make_member())
    await broadcasts.create(
        actor=admin,
        title="明天见",
        body="明天见",
        audience=Audience(AudienceKind.SEGMENT, segment.id),
        send_at=datetime.now(UTC) + timedelta(days=1),
        now=datetime.now(UTC),
    )
    answer = await client.delete(
        f"/api/v1/admin/segments/{segment.id}", headers=bearer(await token_for(admin))
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "segment_in_use"
    assert await Segment.exists(id=segment.id)
