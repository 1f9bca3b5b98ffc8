"""Customer service's pages: a member writes from any page (the footer's link says which), with
a picture kept privately; staff answer from the console's queue; the member reads the answer
and sees their conversations on their account page; nobody else sees any of it."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from PIL import Image
from starlette.applications import Starlette

from accounts.models import Notification, PasswordReset, User
from ratelimit import MemoryCounter
from settings import Settings
from support import services
from support.models import Conversation, ConversationStatus, Message
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for


def picture(width: int = 900, height: int = 600) -> bytes:
    image = Image.new("RGB", (width, height), (180, 60, 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def signed_in(client: httpx.AsyncClient, person: User) -> str:
    """Sign `person` in through the form; a CSRF token for their forms."""
    await sign_in(client, person.email)
    return csrf_from((await client.get("/account")).text)


async def write_to_us(
    client: httpx.AsyncClient, csrf: str, body: str, *, page: str = "", image: bytes = b""
) -> httpx.Response:
    files = (
        {"picture": ("photo.png", image, "image/png")}
        if image
        else {"picture": ("", b"", "application/octet-stream")}
    )
    return await client.post(
        "/contact", data={"csrf_token": csrf, "body": body, "page": page}, files=files
    )


async def test_every_page_links_to_contact_us_with_the_page_it_is_on(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/store")
    assert 'href="/contact?from=/store"' in page.text


async def test_the_contact_link_carries_the_path_without_its_query(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/feed/search", params={"q": "秘密"})
    assert 'href="/contact?from=/feed/search"' in page.text


async def test_the_reset_page_s_contact_link_carries_no_token(client: httpx.AsyncClient) -> None:
    user = await make_user()
    token = "t" * 43
    await PasswordReset.create(
        user_id=user.id,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        created_at=datetime.now(UTC),
    )
    page = await client.get(f"/account/reset/{token}")
    assert page.status_code == 200
    footer = page.text.split('class="contact-link"', 1)[1].split("</p>", 1)[0]
    assert 'href="/contact"' in footer and token not in footer


async def test_the_console_links_only_a_page_that_holds_no_secret(
    client: httpx.AsyncClient,
) -> None:
    conversation = await services.start(
        await make_member(),
        body="看这里",
        page="/store",
        now=datetime.now(UTC),
        counter=MemoryCounter(),
    )
    # A page stored before pages were checked as today: shown, never as a link.
    await Message.create(
        conversation_id=conversation.id,
        author=None,
        from_staff=False,
        body="还有这个",
        page="/m/" + "t" * 43,
        created_at=datetime.now(UTC),
    )
    await signed_in(client, await make_user(role="support"))
    thread = (await client.get(f"/admin/conversations/{conversation.id}")).text
    assert '<a href="/store">/store</a>' in thread
    assert "/m/" + "t" * 43 in thread and 'href="/m/' not in thread


async def test_a_signed_out_visitor_is_sent_to_sign_in_and_comes_back_to_the_form(
    client: httpx.AsyncClient,
) -> None:
    member = await make_member()
    asked = await client.get("/contact", params={"from": "/store"})
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/account/login?next=/contact")
    signed = await sign_in(client, member.email, next_url="/contact?from=/store")
    assert signed.headers["location"] == "/contact?from=/store"
    form = await client.get("/contact?from=/store")
    assert 'name="page" value="/store"' in form.text


async def test_a_signed_out_visitor_reads_no_conversation(client: httpx.AsyncClient) -> None:
    conversation = await services.start(
        await make_member(), body="私事", now=datetime.now(UTC), counter=MemoryCounter()
    )
    page = await client.get(f"/contact/{conversation.id}")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/account/login?next=")
    assert "私事" not in page.text


async def test_a_contact_link_from_another_site_keeps_no_page(client: httpx.AsyncClient) -> None:
    await signed_in(client, await make_member())
    form = await client.get("/contact", params={"from": "https://evil.example/x"})
    assert form.status_code == 200
    assert 'name="page"' not in form.text


async def test_a_member_writes_with_a_picture_and_reads_the_staff_s_answer(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    member = await make_member(name="王小明")
    csrf = await signed_in(client, member)
    sent = await write_to_us(
        client, csrf, "订单还没发货？", page="/store/orders/3", image=picture()
    )
    assert sent.status_code == 303
    conversation = await Conversation.get(user_id=member.id)
    assert sent.headers["location"] == f"/contact/{conversation.id}"
    message = await Message.get(conversation_id=conversation.id)
    assert message.page == "/store/orders/3" and message.picture
    # Kept outside the public /media folder, under the private one.
    media = Path(settings.var_dir) / "media"
    assert not list(media.rglob(f"{message.picture}*"))
    assert (Path(settings.var_dir) / "support" / f"{message.picture}-large.jpg").is_file()
    thread = await client.get(f"/contact/{conversation.id}")
    assert "订单还没发货？" in thread.text
    assert f'src="/contact/messages/{message.id}/thumbnail.jpg"' in thread.text

    staff = await make_user(role="support", name="客服小李")
    await services.write(
        staff,
        conversation.id,
        body="今天下午发出。",
        now=datetime.now(UTC),
        counter=MemoryCounter(),
    )
    inbox = await client.get("/account/notifications")
    assert "今天下午发出" in inbox.text and f"/contact/{conversation.id}" in inbox.text
    assert 'data-unread="1"' in inbox.text  # the badge
    thread = await client.get(f"/contact/{conversation.id}")
    assert "今天下午发出。" in thread.text
    # Read by opening it: the page that read it shows no unread badge (not the count the
    # session brought when the request began).
    assert "data-unread" not in thread.text
    assert "客服小李" not in thread.text  # the member reads "customer service", not a name
    assert await Notification.filter(user_id=member.id, read_at=None).count() == 0


async def test_a_picture_is_shown_to_its_member_and_staff_and_to_nobody_else(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    member = await make_member()
    csrf = await signed_in(client, member)
    await write_to_us(client, csrf, "看这张截图", image=picture(1200, 800))
    message = await Message.get()
    for path in (
        f"/contact/messages/{message.id}/picture.jpg",
        f"/contact/messages/{message.id}/thumbnail.jpg",
    ):
        shown = await client.get(path)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
        assert shown.headers["cache-control"].startswith("private")
    with Image.open(
        io.BytesIO((await client.get(f"/contact/messages/{message.id}/thumbnail.jpg")).content)
    ) as small:
        assert small.size == (480, 320)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        assert (await other.get(f"/contact/messages/{message.id}/picture.jpg")).status_code == 404
        await signed_in(other, await make_member())
        assert (await other.get(f"/contact/messages/{message.id}/picture.jpg")).status_code == 404
        assert (await other.get(f"/contact/messages/{message.id}/thumbnail.jpg")).status_code == 404
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as staff:
        await signed_in(staff, await make_user(role="support"))
        assert (await staff.get(f"/contact/messages/{message.id}/picture.jpg")).status_code == 200
        console = await staff.get(f"/admin/conversations/{message.conversation_id}")  # type: ignore[attr-defined]
        assert f"/contact/messages/{message.id}/thumbnail.jpg" in console.text
    # The public /media mount does not have it.
    assert (await client.get(f"/media/{message.picture}-large.jpg")).status_code == 404


async def test_an_admin_sees_a_member_s_picture_and_a_moderator_does_not(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    csrf = await signed_in(client, await make_member())
    await write_to_us(client, csrf, "看这张截图", image=picture())
    message = await Message.get()
    transport = httpx.ASGITransport(app=app)
    for role, status in (("moderator", 404), ("admin", 200)):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as staff:
            await signed_in(staff, await make_user(role=role))
            for size in ("picture", "thumbnail"):
                shown = await staff.get(f"/contact/messages/{message.id}/{size}.jpg")
                assert shown.status_code == status, (role, size)


async def test_staff_answer_with_a_picture_from_the_console_and_the_member_sees_it(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    member = await make_member()
    conversation = await services.start(
        member, body="这个怎么装？", now=datetime.now(UTC), counter=MemoryCounter()
    )
    csrf = await signed_in(client, await make_user(role="support"))
    answered = await client.post(
        f"/admin/conversations/{conversation.id}/messages",
        data={"csrf_token": csrf, "body": "照图上这样装。"},
        files={"picture": ("guide.png", picture(1600, 1200), "image/png")},
    )
    assert answered.status_code == 303
    reply = await Message.get(conversation_id=conversation.id, from_staff=True)
    assert reply.picture and (reply.picture_width, reply.picture_height) == (480, 360)
    assert (Path(settings.var_dir) / "support" / f"{reply.picture}-large.jpg").is_file()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as own:
        await signed_in(own, member)
        thread = await own.get(f"/contact/{conversation.id}")
        assert f'src="/contact/messages/{reply.id}/thumbnail.jpg"' in thread.text
        shown = await own.get(f"/contact/messages/{reply.id}/picture.jpg")
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"


async def test_a_picture_is_asked_for_again_each_time_and_not_kept_a_day(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    csrf = await signed_in(client, await make_member())
    await write_to_us(client, csrf, "看这张截图", image=picture())
    message = await Message.get()
    path = f"/contact/messages/{message.id}/thumbnail.jpg"
    shown = await client.get(path)
    assert shown.headers["cache-control"] == "private, no-cache"
    etag = shown.headers["etag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await signed_in(other, await make_member())
        assert (await other.get(path, headers={"If-None-Match": etag})).status_code == 404


async def test_a_file_that_is_not_a_picture_is_refused_beside_its_field(
    client: httpx.AsyncClient,
) -> None:
    csrf = await signed_in(client, await make_member())
    refused = await write_to_us(client, csrf, "附件", image=b"GIF89a not really")
    assert refused.status_code == 422
    assert 'id="picture-error"' in refused.text
    assert "附件" in refused.text  # what was typed is kept
    assert not await Conversation.exists()


async def test_an_empty_or_too_long_message_is_refused_beside_its_field(
    client: httpx.AsyncClient,
) -> None:
    csrf = await signed_in(client, await make_member())
    for body in ("   ", "长" * 2001):
        refused = await write_to_us(client, csrf, body)
        assert refused.status_code == 422
        assert 'id="body-error"' in refused.text
    tampered = await write_to_us(client, csrf, "好的", page="https://evil.example/")
    assert tampered.status_code == 422
    assert not await Conversation.exists()


async def test_a_textarea_s_2000_characters_with_crlf_newlines_are_taken(
    client: httpx.AsyncClient,
) -> None:
    csrf = await signed_in(client, await make_member())
    # 2000 characters as typed (a newline is one), sent as a browser does: CRLF, 2019 raw.
    typed = "长" * 100 + "".join("\r\n" + "长" * 99 for _ in range(19))
    assert len(typed.replace("\r\n", "\n")) == 2000 and len(typed) == 2019
    sent = await write_to_us(client, csrf, f"  {typed}\r\n")
    assert sent.status_code == 303
    message = await Message.get()
    assert message.body == typed.replace("\r\n", "\n")
    refused = await write_to_us(client, csrf, typed + "长")
    assert refused.status_code == 422 and 'id="body-error"' in refused.text


async def test_a_file_sent_as_the_message_s_text_is_a_missing_text(
    client: httpx.AsyncClient,
) -> None:
    csrf = await signed_in(client, await make_member())
    refused = await client.post(
        "/contact",
        data={"csrf_token": csrf},
        files={"body": ("body.txt", b"not typed", "text/plain")},
    )
    assert refused.status_code == 422 and 'id="body-error"' in refused.text
    assert "UploadFile" not in refused.text
    assert not await Conversation.exists()
    sent = await client.post(
        "/contact",
        data={"csrf_token": csrf, "body": "你好"},
        files={"page": ("page.txt", b"/store", "text/plain")},
    )
    assert sent.status_code == 303
    message = await Message.get()
    assert (message.body, message.page) == ("你好", None)


async def test_another_member_s_conversation_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await make_member()
    conversation = await services.start(
        owner, body="私事", now=datetime.now(UTC), counter=MemoryCounter()
    )
    csrf = await signed_in(client, await make_member())
    assert (await client.get(f"/contact/{conversation.id}")).status_code == 404
    written = await client.post(
        f"/contact/{conversation.id}/messages", data={"csrf_token": csrf, "body": "我也来"}
    )
    assert written.status_code == 404
    closed = await client.post(f"/contact/{conversation.id}/close", data={"csrf_token": csrf})
    assert closed.status_code == 404
    assert (await client.get("/contact/999999")).status_code == 404
    await conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING


async def test_the_account_page_lists_the_member_s_conversations(client: httpx.AsyncClient) -> None:
    member = await make_member()
    await services.start(member, body="会员卡问题", now=datetime.now(UTC), counter=MemoryCounter())
    await signed_in(client, member)
    account = await client.get("/account")
    section = account.text.split('id="conversations"', 1)[1].split("</section>", 1)[0]
    assert "会员卡问题" in section and "等待回复" in section


async def test_staff_answer_from_the_queue_and_the_member_writes_back(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    member = await make_member(name="王小明")
    conversation = await services.start(
        member, body="发票怎么开？", now=datetime.now(UTC), counter=MemoryCounter()
    )
    csrf = await signed_in(client, await make_user(role="support"))
    queue = await client.get("/admin/conversations")
    assert queue.status_code == 200 and "发票怎么开？" in queue.text and "王小明" in queue.text
    answered = await client.post(
        f"/admin/conversations/{conversation.id}/messages",
        data={"csrf_token": csrf, "body": "付款后写信给我们。"},
        files={"picture": ("", b"", "application/octet-stream")},
    )
    assert answered.status_code == 303
    await conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.ANSWERED
    assert "发票怎么开？" not in (await client.get("/admin/conversations")).text
    assert "付款后写信给我们。" in (await client.get("/admin/conversations?status=answered")).text
    person = await client.get(f"/admin/people/{member.id}")
    assert f'href="/admin/conversations/{conversation.id}"' in person.text

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as own:
        member_csrf = await signed_in(own, member)
        again = await own.post(
            f"/contact/{conversation.id}/messages",
            data={"csrf_token": member_csrf, "body": "好的，谢谢"},
        )
        assert again.status_code == 303
    await conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert "好的，谢谢" in (await client.get("/admin/conversations")).text


async def answered_after_an_hour_and_25_minutes() -> tuple[User, Conversation]:
    """A member's conversation started two hours ago and first answered 85 minutes later."""
    started_at = datetime.now(UTC) - timedelta(hours=2)
    member = await make_member()
    conversation = await services.start(
        member, body="发票怎么开？", now=started_at, counter=MemoryCounter()
    )
    await services.write(
        await make_user(role="support"),
        conversation.id,
        body="付款后写信给我们。",
        now=started_at + timedelta(minutes=85),
        counter=MemoryCounter(),
    )
    return member, conversation


async def test_the_queue_page_shows_each_first_response_time_and_their_median(
    client: httpx.AsyncClient,
) -> None:
    await answered_after_an_hour_and_25_minutes()
    await signed_in(client, await make_user(role="support"))
    page = await client.get("/admin/conversations?status=answered")
    median = page.text.split('class="facts first-responses"', 1)[1].split("</dl>", 1)[0]
    assert "1 小时 25 分钟" in median
    row = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "1 小时 25 分钟" in row


async def test_the_person_page_shows_a_conversation_s_first_response_time(
    client: httpx.AsyncClient,
) -> None:
    member, conversation = await answered_after_an_hour_and_25_minutes()
    staff = await make_user(role="support")
    await signed_in(client, staff)
    page = await client.get(f"/admin/people/{member.id}")
    section = page.text.split('id="conversations"', 1)[1].split("</section>", 1)[0]
    assert f'href="/admin/conversations/{conversation.id}"' in section
    assert "1 小时 25 分钟" in section
    person = await client.get(
        f"/api/v1/admin/people/{member.id}", headers=bearer(await token_for(staff))
    )
    [row] = person.json()["conversations"]
    assert row["first_response_seconds"] == 85 * 60


async def test_a_moderator_has_no_customer_service(client: httpx.AsyncClient) -> None:
    member = await make_member()
    conversation = await services.start(
        member, body="问题", now=datetime.now(UTC), counter=MemoryCounter()
    )
    await signed_in(client, await make_user(role="moderator"))
    assert (await client.get("/admin/conversations")).status_code == 403
    assert (await client.get(f"/admin/conversations/{conversation.id}")).status_code == 403
    assert 'href="/admin/conversations"' not in (await client.get("/admin")).text
    person = await client.get(f"/admin/people/{member.id}")
    assert 'id="conversations"' not in person.text


async def test_a_moderator_reads_no_answer_through_the_person_s_notices(
    client: httpx.AsyncClient,
) -> None:
    member = await make_member()
    conversation = await services.start(
        member, body="问题", now=datetime.now(UTC), counter=MemoryCounter()
    )
    await services.write(
        await make_user(role="support"),
        conversation.id,
        body="您的新卡号是 SY-000042",
        now=datetime.now(UTC),
        counter=MemoryCounter(),
    )
    moderator = await make_user(role="moderator")
    await signed_in(client, moderator)
    page = await client.get(f"/admin/people/{member.id}")
    told = page.text.split('id="told"', 1)[1].split("</section>", 1)[0]
    assert "SY-000042" not in page.text
    assert "客服的回复" in told and "仅客服可见" in told  # the kind, not the text
    person = await client.get(
        f"/api/v1/admin/people/{member.id}", headers=bearer(await token_for(moderator))
    )
    [notice] = [n for n in person.json()["notices"] if n["kind"] == "support_reply"]
    assert notice["text"] is None and "SY-000042" not in person.text


async def test_a_bad_queue_tab_is_refused_not_a_server_error(client: httpx.AsyncClient) -> None:
    await signed_in(client, await make_user(role="support"))
    assert (await client.get("/admin/conversations?status=everything")).status_code == 422
