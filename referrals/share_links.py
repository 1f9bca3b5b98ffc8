"""Share links: a person's short link to a feed item, a board post, a product (a drop too) or
the enrollment window, what the shared page and poster show of it, and the poster itself.

What is shown of a thing (`shared_thing`) is what anyone may read without signing in: a
members-only feed item shows its teaser (community.text.teaser_of: never its body), a board
post only its title while the board is members-only to read, and nothing anywhere mentions a
reward (WeChat forbids induced sharing; rewards are the referrer's own business, shown only on
their own page).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import anyio
from tortoise.exceptions import IntegrityError

import links
from accounts import profiles
from accounts.models import User
from community.board.models import BoardSettings, Post
from community.feed.models import FeedItem
from community.text import plain_text, teaser_of
from errors import ValidationError
from membership.models import EnrollmentWindow
from referrals import posters
from referrals.errors import SharedThingNotFound
from referrals.models import SharedKind, ShareLink, Source
from storage import STORAGE, NotStored
from store import covers, images
from store.models import Product
from tallies import SHANGHAI
from translation import N_, translations, yuan

# Codes: 8 characters of an alphabet without look-alikes (0/O, 1/l/I), 31^8 ~ 8.5e11 of them:
# guessing one that exists is hopeless, and a code reads aloud and types on a phone.
CODE_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"
CODE_LENGTH = 8
CODE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
TEASER_CHARS = 60  # a poster and a card show one line; the page's own text is the rest
SOURCES = {source.value for source in Source}
POSTER_LANGUAGES = tuple(posters.LOCALES)
SALE_OPENS = N_("On sale %(when)s")
ENROLMENT_OPENS = N_("Opens %(when)s")


@dataclass(frozen=True)
class SharedThing:
    """The public face of a shared thing: what its share card, OpenGraph tags and poster show."""

    kind: SharedKind
    id: int
    title: str
    teaser: str  # public text only
    path: str  # its page on this site
    image_path: str | None  # a picture of it, or None (the site's icon stands in)
    price_fen: int | None = None
    opens_at: datetime | None = None  # a sale or an enrollment still to open: the countdown


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _kind(object_type: object) -> SharedKind:
    if object_type not in {kind.value for kind in SharedKind}:
        raise ValidationError("object_type", "must be feed_item, post, product or window")
    return SharedKind(str(object_type))


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= TEASER_CHARS else line[: TEASER_CHARS - 1].rstrip() + "…"


async def shared_thing(object_type: object, object_id: object, now: datetime) -> SharedThing:
    """What may be shown of the thing anyone may open now. Raises ValidationError (no such
    kind, an id that is not a positive whole number), SharedThingNotFound (nothing there, or
    nothing a visitor may see: an unpublished item or product, a hidden post)."""
    kind = _kind(object_type)
    if (
        not isinstance(object_id, int)
        or isinstance(object_id, bool)
        or not 1 <= object_id <= 2**31 - 1
    ):
        raise ValidationError("object_id", "must be a positive whole number")
    if kind == SharedKind.FEED_ITEM:
        item = await FeedItem.get_or_none(id=object_id, unpublished=False, publish_at__lte=now)
        if item is None:
            raise SharedThingNotFound()
        # A members-only item: only what a non-member reads of it (its teaser).
        teaser = (
            teaser_of(item.body_html, item.teaser)
            if item.members_only
            else item.teaser or plain_text(item.body_html)
        )
        return SharedThing(
            kind,
            item.id,
            item.title,
            _first_line(teaser),
            links.path("feed.item_page", id=item.id),
            None,
        )
    if kind == SharedKind.POST:
        post = await Post.get_or_none(id=object_id, hidden=False, deleted=False)
        if post is None:
            raise SharedThingNotFound()
        board = await BoardSettings.first()
        members_only = board is not None and board.members_only_read
        teaser = "" if members_only else _first_line(plain_text(post.body_html))
        return SharedThing(
            kind, post.id, post.title, teaser, links.path("board.post_page", id=post.id), None
        )
    if kind == SharedKind.PRODUCT:
        product = await Product.get_or_none(id=object_id, published=True)
        if product is None:
            raise SharedThingNotFound()
        opens = (
            product.sale_starts_at
            if product.sale_starts_at and product.sale_starts_at > now
            else None
        )
        return SharedThing(
            kind,
            product.id,
            product.title,
            _first_line(product.description),
            links.path("store.product_page", id=product.id),
            images.image_url(product.image) or covers.cover_url(product.id),
            price_fen=product.price_fen,
            opens_at=opens,
        )
    window = await EnrollmentWindow.get_or_none(id=object_id)
    if window is None:
        raise SharedThingNotFound()
    benefits = [str(line) for line in window.benefits or [] if str(line).strip()]
    return SharedThing(
        kind,
        window.id,
        window.name,
        _first_line(benefits[0] if benefits else ""),
        links.path("membership.window_page"),
        None,
        price_fen=window.price_fen,
        opens_at=window.opens_at if window.opens_at > now else None,
    )


async def link_for(
    sharer: User, object_type: object, object_id: object, now: datetime
) -> ShareLink:
    """`sharer`'s link to the thing: the one they have, else a new one. Raises ValidationError,
    SharedThingNotFound."""
    thing = await shared_thing(object_type, object_id, now)
    found = await ShareLink.get_or_none(
        sharer_id=sharer.id, object_type=thing.kind, object_id=thing.id
    )
    if found is not None:
        return found
    for _ in range(5):
        try:
            return await ShareLink.create(
                code=new_code(),
                sharer_id=sharer.id,
                object_type=thing.kind,
                object_id=thing.id,
                created_at=now,
            )
        except IntegrityError:
            # The same person's link made by a second request at the same moment (then it is
            # theirs), or, hardly ever, a code taken: try again.
            found = await ShareLink.get_or_none(
                sharer_id=sharer.id, object_type=thing.kind, object_id=thing.id
            )
            if found is not None:
                return found
    raise RuntimeError("no free share code after 5 tries")


def short_url(link: ShareLink, source: Source = Source.LINK) -> str:
    """The link's public address; a poster's QR code and WeChat's card say where they came from."""
    query = {} if source == Source.LINK else {"from": source.value}
    return links.absolute("referrals.visit", _query=query, code=link.code)


def poster_url(link: ShareLink, language: str = "zh") -> str:
    return links.absolute("referrals.poster", _query={"lang": language}, code=link.code)


def when_text(moment: datetime, language: str) -> str:
    """A moment as a poster says it, in Asia/Shanghai: 12月8日 20:00, or Dec 8, 20:00."""
    local = moment.astimezone(SHANGHAI)
    if language == "zh":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%b} {local.day}, {local:%H:%M}"


def poster_of(
    thing: SharedThing, sharer: User, avatar: bytes | None, language: str
) -> posters.Poster:
    _ = translations(posters.LOCALES[language]).gettext
    countdown = None
    if thing.opens_at is not None:
        opens = SALE_OPENS if thing.kind == SharedKind.PRODUCT else ENROLMENT_OPENS
        countdown = _(opens) % {"when": when_text(thing.opens_at, language)}
    price = yuan(thing.price_fen) if thing.price_fen is not None and countdown is None else None
    return posters.Poster(
        title=thing.title,
        teaser=thing.teaser,
        price_text=price,
        countdown_text=countdown,
        sharer_name=sharer.display_name,
        sharer_avatar=avatar,
        url="",  # set by the caller: the link's QR code
        language=language,  # type: ignore[arg-type]
    )


async def poster_png(link: ShareLink, language: str, *, now: datetime) -> bytes:
    """The link's poster in `language` ("zh" or "en"), drawn once per what it shows and kept
    in the storage's media/posters/ (a retitled thing or a new avatar is a new file). Raises
    SharedThingNotFound when the thing is gone or no longer public."""
    if language not in POSTER_LANGUAGES:
        language = "zh"
    thing = await shared_thing(link.object_type.value, link.object_id, now)
    sharer = await User.get(id=link.sharer_id)
    avatar = await _avatar_bytes(sharer)
    poster = poster_of(thing, sharer, avatar, language)
    poster = posters.Poster(**{**poster.__dict__, "url": short_url(link, Source.POSTER)})
    key = posters.poster_key(
        poster, object_type=link.object_type.value, object_id=link.object_id, sharer_id=sharer.id
    )
    storage = STORAGE.get()
    stored = f"media/posters/{key.replace(':', '-')}.png"
    with contextlib.suppress(NotStored):
        return await storage.get(stored)
    png = await anyio.to_thread.run_sync(posters.draw_poster, poster)
    await storage.put(stored, png, "image/png")  # whole or not at all, for any reader
    return png


async def _avatar_bytes(user: User) -> bytes | None:
    """The sharer's avatar, when everyone may see it (not one waiting for a moderator)."""
    key = profiles.shown_avatar_key(user)
    if key is None:
        return None
    try:
        return await STORAGE.get().get(key)
    except (NotStored, OSError):
        return None
