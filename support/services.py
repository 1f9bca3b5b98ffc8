"""Customer service's rules: a member starts a conversation and writes in it, staff answer,
either side closes it, and a new message opens a closed one again.

Who reads what: a conversation is its member's, and every staff member's whose role answers
conversations (Capability.CONVERSATIONS: support, admins, owners). To anyone else it does not
exist: ConversationNotFound (404), the same answer as for a conversation that is not there.

A member's message puts the conversation in the queue (waiting, since that message unless it
was waiting already); a staff reply takes it out (answered), sets the first response's time
once, and tells the member (an inbox notice, and a mail when they chose it: support.notices;
a member chooses with the message form's box, or on the notices page).

A member's message goes through the watched words first (moderation.words.screen): a blocked
word refuses it, a censored one is kept as ■; a word that requires approval or a flag word
lets it through (the staff are its only readers, and an unanswered question must not wait
for a moderator) and puts it in the review queue as flagged (support.reviewables). Staff
answers are not checked.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from tortoise.functions import Min
from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import NoticeChannel, Notification, User
from accounts.roles import Capability
from accounts.services import forget_unread
from errors import RateLimited, ValidationError
from moderation import words as watched
from ratelimit import Counter, Limit, seconds_left
from support import reviewables
from support.attachments import Kept, PictureUpload
from support.errors import ConversationNotFound, PictureNotFound
from support.models import Conversation, ConversationStatus, Message
from support.notices import SUPPORT_REPLY
from web.schemas import TEXT_PATTERN

MAX_BODY = 2000
MAX_PAGE = 200
# A member's messages (new conversations and replies): enough for any real question, not a
# flood of the staff's queue or of the picture pool.
MEMBER_MESSAGES = Limit(attempts=20, window_seconds=3600)
MEMBER_LIST = 50  # a member's conversations shown: the latest
THREAD = 200  # messages of a conversation shown: the latest
EXCERPT = 60  # characters of a reply quoted in its notice
# What a message may hold: text as the API's schema says it (web.schemas.TEXT_PATTERN: no
# control character but a newline, a tab and a carriage return).
_TEXT = re.compile(TEXT_PATTERN)
# The pages a member may say they wrote from (Message.page), by route name. Every staff member
# reads the page as a link, so it is kept only when its path holds no secret: the site's public
# pages, and the member's own orders and payments (an id, which only its owner can open). Never
# a page whose path is a token (a password reset, an address's verification, an unsubscribe, a
# counted click, a card's check, a podcast feed), nor the account's, the console's or the
# API's pages. Resolved against the app's routes (links.route_name), not by prefix:
# "/membership/verify/<token>" is not the enrollment page "/membership".
MEMBER_PAGES = frozenset(
    {
        "site.home",
        "feed.feed",
        "feed.item_page",
        "feed.search_page",
        "feed.lookup_page",
        "feed.podcast_page",
        "board.board_page",
        "board.post_page",
        "store.listing",
        "store.product_page",
        "store.my_orders",
        "store.order_page",
        "store.checkout_page",
        "membership.window_page",
        "membership.card_page",
        "membership.checkout_page",
        "accounts.profile_page",
        "accounts.profile_by_name",
    }
)
# A path alone: one "/" (not two: "//host" names another site), then no space, control
# character, backslash, query or fragment. The API's schema states the same pattern.
_PATH_CHARACTER = r"[^\x00-\x20\x7f-\x9f\\?#\ufffe\uffff]"
PAGE_PATTERN = rf"^/(?:(?!/){_PATH_CHARACTER}{_PATH_CHARACTER}*)?$"
_PAGE = re.compile(PAGE_PATTERN)


def may_answer(user: User) -> bool:
    """Whether `user` answers members' conversations (support, admins, owners)."""
    return user.may(Capability.CONVERSATIONS)


def clean_body(body: str) -> str:
    """A message as kept, the one place its length is counted (the form and the API's
    schema count nothing tighter): newlines as \\n (a textarea's CRLF is one character),
    trimmed, then 1 to MAX_BODY characters, no control characters, then NFC (which may make
    it a little longer: the count is of what the member typed). Raises
    ValidationError("body")."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not 1 <= len(text) <= MAX_BODY:
        raise ValidationError("body", f"must be 1 to {MAX_BODY} characters")
    if not _TEXT.fullmatch(text):
        raise ValidationError("body", "must not contain control characters")
    return unicodedata.normalize("NFC", text)


def member_page(path: str) -> str | None:
    """`path` if it is a path alone (PAGE_PATTERN, at most MAX_PAGE characters) of one of
    MEMBER_PAGES; else None."""
    if len(path) > MAX_PAGE or not _PAGE.fullmatch(path):
        return None
    return path if links.route_name(path) in MEMBER_PAGES else None


def clean_page(page: str | None) -> str | None:
    """The page a member wrote from, as given by a form or the API: empty is none; anything
    else must be one of MEMBER_PAGES, a path without query (member_page). Raises
    ValidationError("page"). It is shown to the staff as a link on this site and never used
    to redirect anyone."""
    if not page:
        return None
    checked = member_page(page)
    if checked is None:
        raise ValidationError("page", "must be a public page of this site, such as /store")
    return checked


def page_from(value: str) -> str | None:
    """The page a "Contact us" link says the member came from, read leniently (a link, not
    a form): its path, without any query, when it is one of MEMBER_PAGES; else none."""
    if not value.startswith("/") or value.startswith("//"):
        return None
    return member_page(urlsplit(value).path)


async def _within_limit(counter: Counter, user_id: int) -> None:
    """Count one of a member's messages. Raises RateLimited past MEMBER_MESSAGES."""
    # Counted, then checked: the count is one atomic step (a Redis INCR), so requests at
    # once each see their own number and at most MEMBER_MESSAGES pass. (Reading the count
    # first let every request that read it before the others counted pass.)
    if await counter.hit(f"support:{user_id}", MEMBER_MESSAGES) > MEMBER_MESSAGES.attempts:
        raise RateLimited(
            seconds_left(MEMBER_MESSAGES),
            "You have sent many messages in the last hour; please wait a little before "
            "writing again.",
        )


async def _kept(picture: PictureUpload | None) -> Kept | None:
    return await picture.shelf.keep(picture.data) if picture is not None else None


async def start(
    user: User,
    *,
    body: str,
    picture: PictureUpload | None = None,
    page: str | None = None,
    email_me: bool | None = None,
    now: datetime,
    counter: Counter,
) -> Conversation:
    """A member's new conversation with customer service: their first message (and
    picture), written from `page`. It waits in the queue from `now`. `email_me` is the
    form's box "also email me the answer" (choose_answer_mail; None keeps their choice).
    Raises ValidationError (body, page, picture), BlockedWords (body), RateLimited
    (MEMBER_MESSAGES), ServiceUnavailable (the picture pool is full)."""
    problems: list[tuple[str, str]] = []
    text = where = None
    try:
        text = clean_body(body)
    except ValidationError as exc:
        problems += exc.errors
    try:
        where = clean_page(page)
    except ValidationError as exc:
        problems += exc.errors
    if problems or text is None:
        (field, reason), *_ = problems
        raise ValidationError(field, reason, others=problems)
    screened = await watched.screen(body=text)
    text = screened.texts["body"]
    await _within_limit(counter, user.id)
    kept = await _kept(picture)
    try:
        async with in_transaction():
            conversation = await Conversation.create(
                user=user,
                status=ConversationStatus.WAITING,
                waiting_since=now,
                first_message_at=now,
                last_message_at=now,
            )
            message = await _message(conversation, user, text, kept, where, False, now)
            await Conversation.filter(id=conversation.id).update(last_message_id=message.id)
            await reviewables.queue(message, screened, now)
    except BaseException:
        if picture is not None and kept is not None:
            # The message was not written: nor is its picture.
            await picture.shelf.discard(kept.stem)
        raise
    conversation.last_message_id = message.id
    await choose_answer_mail(user, email_me)
    return conversation


async def _message(
    conversation: Conversation,
    author: User,
    text: str,
    kept: Kept | None,
    page: str | None,
    from_staff: bool,
    now: datetime,
) -> Message:
    return await Message.create(
        conversation=conversation,
        author=author,
        from_staff=from_staff,
        body=text,
        picture=kept.stem if kept else None,
        picture_width=kept.width if kept else None,
        picture_height=kept.height if kept else None,
        page=page,
        created_at=now,
    )


async def conversation_for(reader: User, conversation_id: int) -> Conversation:
    """The conversation, if `reader` may read it: its member, or staff who answer. Raises
    ConversationNotFound otherwise, as for one that does not exist."""
    conversation = await Conversation.filter(id=conversation_id).select_related("user").first()
    if conversation is None:
        raise ConversationNotFound()
    if conversation.user_id != reader.id and not may_answer(reader):  # type: ignore[attr-defined]
        raise ConversationNotFound()
    return conversation


async def _locked(conversation_id: int) -> Conversation:
    """The conversation's row, locked until the transaction ends (SELECT ... FOR UPDATE).

    Every change of a conversation (a message, a close, a reopening) locks its row first, so
    they follow one order: a message's id is taken after the lock, and the status,
    waiting_since, first_response_at and the last-message pointers are written from the row as
    the previous change left it. That order keeps the invariant "a conversation is waiting
    exactly when its newest message is the member's and it is not closed"."""
    return await Conversation.filter(id=conversation_id).select_for_update().get()


async def write(
    actor: User,
    conversation_id: int,
    *,
    body: str,
    picture: PictureUpload | None = None,
    email_me: bool | None = None,
    now: datetime,
    counter: Counter,
) -> Message:
    """A message in a conversation, by its member or by a staff member who answers.

    The member's puts it in the queue (waiting since `now`, unless it was waiting already),
    and records their box "also email me the answer" (`email_me`, choose_answer_mail);
    a staff member's answers it (out of the queue), sets the first response's time if none
    was, is written in the audit log and reaches the member as a notice (support.notices).
    A closed conversation is opened again by either. The member's message goes through the
    watched words (the module's docstring); a staff member's does not. Raises
    ConversationNotFound, ValidationError (body, picture), BlockedWords (body), RateLimited
    (the member's MEMBER_MESSAGES), ServiceUnavailable (the picture pool is full)."""
    conversation = await conversation_for(actor, conversation_id)
    member_id: int = conversation.user_id  # type: ignore[attr-defined]
    from_staff = actor.id != member_id
    text = clean_body(body)
    screened = None
    if not from_staff:
        screened = await watched.screen(body=text)
        text = screened.texts["body"]
        await _within_limit(counter, actor.id)
    kept = await _kept(picture)
    try:
        async with in_transaction():
            # The row first, then the message: see _locked for the invariant this orders.
            locked = await _locked(conversation.id)
            message = await _message(locked, actor, text, kept, None, from_staff, now)
            if from_staff:
                # Answered (out of the queue); the first response's time is written once,
                # by the first staff message.
                changes: dict[str, Any] = {
                    "status": ConversationStatus.ANSWERED,
                    "waiting_since": None,
                    "first_response_at": locked.first_response_at or now,
                }
            else:
                # Waiting since the member's oldest unanswered message: a second message
                # while waiting does not move it later.
                already = locked.status == ConversationStatus.WAITING and locked.waiting_since
                changes = {
                    "status": ConversationStatus.WAITING,
                    "waiting_since": locked.waiting_since if already else now,
                }
            await Conversation.filter(id=locked.id).update(
                **changes, last_message_at=now, last_message_id=message.id
            )
            if from_staff:
                await _answered(locked, actor, message, now)
            if screened is not None:
                await reviewables.queue(message, screened, now)
    except BaseException:
        if picture is not None and kept is not None:
            # The message was not written: nor is its picture.
            await picture.shelf.discard(kept.stem)
        raise
    if not from_staff:
        await choose_answer_mail(actor, email_me)
    return message


async def mails_answers(user: User) -> bool:
    """Whether `user` has chosen to be mailed customer service's answers (support_reply:
    the inbox only, unless they chose mail too)."""
    return await notices.channel_for(user.id, SUPPORT_REPLY) == NoticeChannel.INBOX_AND_MAIL


async def choose_answer_mail(user: User, email_me: bool | None) -> None:
    """Record the member's box "also email me the answer" as their choice for the answers'
    notices (the same choice as on the notices page, accounts.notices.choose): ticked, the
    inbox and mail; left empty, no mail (the inbox only, or still nothing if they chose
    nothing). None (the API, which has no box): their choice stands."""
    if email_me is None:
        return
    current = await notices.channel_for(user.id, SUPPORT_REPLY)
    if email_me:
        wanted = NoticeChannel.INBOX_AND_MAIL
    elif current == NoticeChannel.INBOX_AND_MAIL:
        wanted = NoticeChannel.INBOX
    else:
        return
    if wanted != current:
        await notices.choose(user, SUPPORT_REPLY, wanted.value, source="contact_form")


async def _answered(
    conversation: Conversation, actor: User, message: Message, now: datetime
) -> None:
    """A staff reply's audit entry and the member's notice, in its transaction."""
    await audit.record(
        actor=actor,
        action="conversation.reply",
        object_type="conversation",
        object_id=conversation.id,
        after={"message": message.id, "member": conversation.user_id},  # type: ignore[attr-defined]
        now=now,
    )
    excerpt = " ".join(message.body.split())
    await notices.notify(
        conversation.user_id,  # type: ignore[attr-defined]
        kind=SUPPORT_REPLY,
        params={"excerpt": excerpt if len(excerpt) <= EXCERPT else excerpt[:EXCERPT] + "…"},
        link=links.path("support.conversation_page", id=conversation.id),
        now=now,
    )


async def close(actor: User, conversation_id: int, *, now: datetime) -> Conversation:
    """Close a conversation (its member, or staff): out of the queue, kept to be read. A
    staff member's close is in the audit log. Raises ConversationNotFound."""
    conversation = await conversation_for(actor, conversation_id)
    async with in_transaction():
        locked = await _locked(conversation.id)  # after any message being written now
        if locked.status != ConversationStatus.CLOSED:  # closed once (and audited once)
            await Conversation.filter(id=locked.id).update(
                status=ConversationStatus.CLOSED, waiting_since=None
            )
            if actor.id != conversation.user_id:  # type: ignore[attr-defined]
                await audit.record(
                    actor=actor,
                    action="conversation.close",
                    object_type="conversation",
                    object_id=conversation.id,
                    before={"status": locked.status.value},
                    now=now,
                )
    await conversation.refresh_from_db()
    return conversation


async def reopen(actor: User, conversation_id: int, *, now: datetime) -> Conversation:
    """Open a closed conversation again (its member, or staff): waiting from `now` when the
    member wrote last, answered otherwise. A staff member's reopening is in the audit log.
    Raises ConversationNotFound."""
    conversation = await conversation_for(actor, conversation_id)
    async with in_transaction():
        locked = await _locked(conversation.id)
        if locked.status == ConversationStatus.CLOSED:
            # Read under the lock: no message is being written to it meanwhile.
            last = await Message.filter(conversation_id=locked.id).order_by("-id").first()
            waiting = last is None or not last.from_staff
            await Conversation.filter(id=locked.id).update(
                status=ConversationStatus.WAITING if waiting else ConversationStatus.ANSWERED,
                waiting_since=now if waiting else None,
            )
            if actor.id != conversation.user_id:  # type: ignore[attr-defined]
                await audit.record(
                    actor=actor,
                    action="conversation.reopen",
                    object_type="conversation",
                    object_id=conversation.id,
                    now=now,
                )
    await conversation.refresh_from_db()
    return conversation


async def member_conversations(user: User, *, limit: int = MEMBER_LIST) -> list[Conversation]:
    """A member's conversations, the latest message first."""
    return (
        await Conversation.filter(user_id=user.id).order_by("-last_message_at", "-id").limit(limit)
    )


async def thread(conversation: Conversation, *, limit: int = THREAD) -> list[Message]:
    """A conversation's messages, oldest first (the latest `limit` of them), with authors."""
    latest = (
        await Message.filter(conversation_id=conversation.id)
        .select_related("author")
        .order_by("-id")
        .limit(limit)
    )
    return latest[::-1]


async def last_messages(conversations: list[Conversation]) -> dict[int, Message]:
    """Each conversation's latest message, by conversation id."""
    ids = [c.last_message_id for c in conversations if c.last_message_id is not None]
    found = await Message.filter(id__in=ids) if ids else []
    return {m.conversation_id: m for m in found}  # type: ignore[attr-defined]


async def first_messages(conversations: list[Conversation]) -> dict[int, Message]:
    """Each conversation's first message (what it is about), by conversation id."""
    if not conversations:
        return {}
    firsts = (
        await Message.filter(conversation_id__in=[c.id for c in conversations])
        .annotate(first=Min("id"))
        .group_by("conversation_id")
        .values_list("first", flat=True)
    )
    found = await Message.filter(id__in=list(firsts))
    return {m.conversation_id: m for m in found}  # type: ignore[attr-defined]


async def answers_read(user: User, conversation_id: int, *, now: datetime) -> None:
    """The notices of answers in this conversation, read: the member is reading them."""
    link = links.path("support.conversation_page", id=conversation_id)
    await Notification.filter(user_id=user.id, kind=SUPPORT_REPLY, link=link, read_at=None).update(
        read_at=now
    )
    forget_unread(user)


async def picture_of(reader: User | None, message_id: int) -> str:
    """The stem of a message's picture, if `reader` may see it (the conversation's member,
    or staff who answer). Raises PictureNotFound for everyone else, as for a message with
    no picture."""
    message = await Message.get_or_none(id=message_id)
    if reader is None or message is None or message.picture is None:
        raise PictureNotFound()
    try:
        await conversation_for(reader, message.conversation_id)  # type: ignore[attr-defined]
    except ConversationNotFound:
        raise PictureNotFound() from None
    return message.picture
