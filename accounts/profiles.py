"""A person's profile: display name, short bio, avatar, the language they read in, and their
IP属地 (the province or country of their latest post or reply: wrote_from).

Shown on their page (/people/<id>) and beside their posts and replies; an @mention of their
display name links to it. The avatar is an uploaded picture (pictures.PicturePool), cut to a
square and stored as JPEG under media/avatars/ with a version in its name, so a new one is
never hidden by a cached old one. A young account's new avatar waits for a moderator before
anyone else sees it (set_avatar; the review queue's "avatar", moderation.profiles).

What a person says of themselves goes through the watched words (accounts.profile_review).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

import links
from accounts import notices, profile_review
from accounts.models import AvatarState, User
from accounts.services import check_display_name, new_display_name
from errors import RateLimited, ValidationError
from pictures import PicturePool, Sizes
from ratelimit import Counter, Limit, seconds_left
from storage import STORAGE
from translation import N_, SUPPORTED_LOCALES

MAX_BIO = 280
MAX_AVATAR_BYTES = 4 * 1024 * 1024
AVATAR_SIZES = {"large": 256, "small": 64}
AVATAR = Sizes(field="avatar", max_bytes=MAX_AVATAR_BYTES, widths=AVATAR_SIZES, square=True)
# New avatars per account: each costs a decode, and accounts are free to make.
AVATAR_CHANGES = Limit(attempts=10, window_seconds=3600)
_BIO_REFUSED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def clean_bio(bio: str) -> str:
    """The bio as kept: NFC, trimmed, no control or direction-override characters, at most
    MAX_BIO characters. Raises ValidationError("bio")."""
    text = unicodedata.normalize("NFC", bio).strip().replace("\r\n", "\n")
    if len(text) > MAX_BIO:
        raise ValidationError("bio", f"must be at most {MAX_BIO} characters")
    if _BIO_REFUSED.search(text):
        raise ValidationError("bio", "must not contain control characters")
    return text


async def update_profile(
    user: User,
    *,
    display_name: str | None = None,
    bio: str | None = None,
    locale: str | None = None,
    now: datetime,
) -> User:
    """Change what is given (None: unchanged), every field checked before anything is saved.
    A name or a bio that changes goes through the watched words (accounts.profile_review):
    refused for a blocked word or one that requires approval, censored words kept as ■,
    flag words kept and the profile queued for a look. Raises ValidationError listing every
    bad field, then the reviewer's refusal (BlockedWords, WordsNeedApproval: 422, naming the
    field and the words)."""
    changes: dict[str, object] = {}
    errors: list[tuple[str, str]] = []
    if display_name is not None:
        try:
            changes["display_name"] = await check_display_name(display_name, user_id=user.id)
        except ValidationError as exc:
            errors.extend(exc.errors)
    if bio is not None:
        try:
            changes["bio"] = clean_bio(bio)
        except ValidationError as exc:
            errors.extend(exc.errors)
    if locale is not None:
        if locale not in SUPPORTED_LOCALES:
            errors.append(("locale", "must be zh_CN or en"))
        else:
            changes["locale"] = locale
    if errors:
        field, reason = errors[0]
        raise ValidationError(field, reason, others=errors)
    # Only what changes is checked: a name kept as it was passed when it was given.
    said: dict[str, str] = {
        name: str(changes[name])
        for name in ("display_name", "bio")
        if name in changes and changes[name] != getattr(user, name)
    }
    checked = await profile_review.check(said) if said else None
    if checked is not None:
        changes.update(checked.texts)
    if changes:
        async with in_transaction():  # saved and queued for a look together, or neither
            await User.filter(id=user.id).update(**changes)
            if checked is not None:
                await profile_review.flag_if_needed(user.id, checked, now=now)
        for name, value in changes.items():
            setattr(user, name, value)
    return user


async def reset_profile(user_id: int, now: datetime) -> bool:
    """A moderator rejected what a person says of themselves (the review queue's "profile"):
    their bio is cleared and their display name is a neutral one again, the way an account
    made without a usable name is named (services.new_display_name: 书友 and four digits).
    Whether there was such a person to reset."""
    return bool(await User.filter(id=user_id).update(display_name=await new_display_name(), bio=""))


async def language_on_sign_in(
    user: User, browser_locale: str | None, *, switched: bool = False
) -> str | None:
    """Signing in brings the account's language to the browser: it is returned (for the
    browser to keep). But a language chosen with the switch in this browser since it last
    signed out (`switched`) wins, and an account that has none yet takes the browser's: either
    is saved on the account, and None is returned (the browser keeps its own)."""
    if user.locale in SUPPORTED_LOCALES and not (switched and browser_locale in SUPPORTED_LOCALES):
        return user.locale
    if browser_locale in SUPPORTED_LOCALES:
        await User.filter(id=user.id).update(locale=browser_locale)
        user.locale = browser_locale
    return None


async def choose_language(user: User | None, locale: str) -> bool:
    """The language switch: `locale` is kept on the account of whoever is signed in (None:
    nobody). False, and nothing kept, for a language Shuyuan does not speak."""
    if locale not in SUPPORTED_LOCALES:
        return False
    if user is not None and user.locale != locale:
        await User.filter(id=user.id).update(locale=locale)
        user.locale = locale
    return True


async def wrote_from(user: User, region: str | None) -> None:
    """Keep `region` (ipregion.region_of of the address a post or reply of `user`'s was just
    written from) as their IP属地, shown on their profile (the account-information rules of
    2022, art. 12). None, an address the data does not place, keeps the one before."""
    if region is None:
        return
    await User.filter(id=user.id).update(ip_region=region)
    user.ip_region = region


async def person(user_id: int) -> User | None:
    """The person whose public page this is, or None."""
    return await User.get_or_none(id=user_id)


async def person_named(display_name: str) -> User | None:
    """The person an @mention of `display_name` names (the first to take it, never an erased
    account), or None."""
    return await User.filter(display_name=display_name[:40], erased_at=None).order_by("id").first()


def avatar_held(user: User, *, now: datetime, review_days: int) -> bool:
    """Whether an avatar `user` uploads at `now` waits for a moderator: their account is
    younger than `review_days` days (settings.avatar_review_days; 0: no account's waits)."""
    return review_days > 0 and now - user.created_at < timedelta(days=review_days)


async def set_avatar(
    user: User,
    data: bytes,
    *,
    pictures: PicturePool,
    counter: Counter,
    now: datetime,
    review_days: int,
) -> User:
    """A new avatar from an uploaded picture, decoded in the picture pool. At most
    AVATAR_CHANGES per account an hour: every upload the pool took counts, refused or not
    (each cost a read); one the full pool turned away (503) does not. A young account's
    (avatar_held) is kept but waits for a moderator (AvatarState.WAITING, and an item in the
    review queue: accounts.profile_review): its owner sees it, everyone else the default,
    until it is approved. Raises RateLimited, ValidationError("avatar"), ServiceUnavailable
    (pool busy)."""
    key = f"avatar:{user.id}"
    if await counter.count(key, AVATAR_CHANGES) >= AVATAR_CHANGES.attempts:
        raise RateLimited(seconds_left(AVATAR_CHANGES), "Too many avatar changes; try again later.")
    try:
        sizes = await pictures.jpegs(data, AVATAR)
    except ValidationError:
        await counter.hit(key, AVATAR_CHANGES)
        raise
    await counter.hit(key, AVATAR_CHANGES)
    version = user.avatar_version + 1
    held = avatar_held(user, now=now, review_days=review_days)
    state = AvatarState.WAITING if held else AvatarState.SHOWN
    storage = STORAGE.get()
    for size, content in sizes.items():
        key = _avatar_key(user.id, version, size, waiting=held)
        await storage.put(key, content, "image/jpeg")
    async with in_transaction():  # kept and queued for a moderator together, or neither
        await User.filter(id=user.id).update(avatar_version=version, avatar_state=state)
        await profile_review.reviewer().avatar_changed(user.id, held, now)
    await _remove_avatar_files(user.id, user.avatar_version)  # the previous version's
    user.avatar_version, user.avatar_state = version, state
    return user


def _waiting_mark(user_id: int, version: int) -> str:
    """What names a waiting avatar's files beside its owner's id and version: keyed with the
    app's secret, so its address cannot be guessed (a shown one's can, and may be)."""
    key = notices.letterhead().secret.encode()
    return hmac.new(key, f"avatar:{user_id}:{version}".encode(), hashlib.sha256).hexdigest()[:20]


def _avatar_file(user_id: int, version: int, size: str, *, waiting: bool) -> str:
    if waiting:
        return f"user-{user_id}-v{version}-{_waiting_mark(user_id, version)}-{size}.jpg"
    return f"user-{user_id}-v{version}-{size}.jpg"


def _avatar_key(user_id: int, version: int, size: str, *, waiting: bool) -> str:
    """The storage key of an avatar's file: media/avatars/, which /media serves."""
    return f"media/avatars/{_avatar_file(user_id, version, size, waiting=waiting)}"


async def _remove_avatar_files(user_id: int, version: int) -> None:
    storage = STORAGE.get()
    for size in AVATAR_SIZES:
        for waiting in (False, True):
            await storage.delete(_avatar_key(user_id, version, size, waiting=waiting))


# What an erased account (注销, accounts.leaving) is called wherever a person is named.
DELETED_ACCOUNT = N_("Deleted account")


def shown_name(user: User, gettext: Callable[[str], str]) -> str:
    """The name pages show for `user`: their display name, or "已注销用户" (DELETED_ACCOUNT in
    the reader's language) once their account is erased."""
    return gettext(DELETED_ACCOUNT) if user.erased_at is not None else user.display_name


async def remove_every_avatar_file(user_id: int) -> int:
    """Delete every file of every avatar `user_id` ever had, shown or waiting (their account
    is erased: privacy.erasure). Returns how many files it deleted."""
    storage = STORAGE.get()
    keys = await storage.keys(f"media/avatars/user-{user_id}-v")
    for key in keys:
        await storage.delete(key)
    return len(keys)


def avatar_url(user: User | None, size: str = "small", *, viewer: User | None = None) -> str | None:
    """Where `viewer` sees `user`'s avatar: None (the default picture) when they have none,
    when a moderator removed it, when it waits for a moderator and `viewer` is not its
    owner, and once their account is erased."""
    if (
        user is None
        or not user.avatar_version
        or user.avatar_state == AvatarState.REMOVED
        or user.erased_at is not None
    ):
        return None
    waiting = user.avatar_state == AvatarState.WAITING
    if waiting and (viewer is None or viewer.id != user.id):
        return None
    name = _avatar_file(user.id, user.avatar_version, size, waiting=waiting)
    return links.path("media", path=f"/avatars/{name}")


def waiting_avatar_url(user: User, size: str = "large") -> str | None:
    """A waiting avatar's address, for the moderators who decide on it (None: none waits)."""
    if not user.avatar_version or user.avatar_state != AvatarState.WAITING:
        return None
    name = _avatar_file(user.id, user.avatar_version, size, waiting=True)
    return links.path("media", path=f"/avatars/{name}")


def shown_avatar_key(user: User, size: str = "large") -> str | None:
    """The storage key of an avatar everyone may see (a share poster draws it), or None."""
    if not user.avatar_version or user.avatar_state != AvatarState.SHOWN:
        return None
    return _avatar_key(user.id, user.avatar_version, size, waiting=False)


async def show_avatar(user_id: int, now: datetime) -> bool:
    """A moderator approved a waiting avatar: its files take the names everyone may see.
    Whether one waited (False: replaced or decided since)."""
    user = await User.get_or_none(id=user_id)
    if user is None or user.avatar_state != AvatarState.WAITING:
        return False
    storage = STORAGE.get()
    for size in AVATAR_SIZES:
        await storage.move(
            _avatar_key(user.id, user.avatar_version, size, waiting=True),
            _avatar_key(user.id, user.avatar_version, size, waiting=False),
        )
    return bool(
        await User.filter(id=user.id, avatar_version=user.avatar_version).update(
            avatar_state=AvatarState.SHOWN
        )
    )


async def remove_avatar(user_id: int, now: datetime) -> bool:
    """A moderator rejected a waiting avatar: its files are deleted, and the person has none
    (the default picture) until they upload another. Whether one waited."""
    user = await User.get_or_none(id=user_id)
    if user is None or user.avatar_state != AvatarState.WAITING:
        return False
    await _remove_avatar_files(user.id, user.avatar_version)
    return bool(
        await User.filter(id=user.id, avatar_version=user.avatar_version).update(
            avatar_state=AvatarState.REMOVED
        )
    )


# An @mention: "@" not inside a word or an address, then a display name's characters.
MENTION = re.compile(r"(?<![\w@/.])@([\w\u4e00-\u9fff·.-]{1,40})")


def link_mentions(markdown: str) -> str:
    """Markdown with each @name (outside code) as a link to that person's page."""
    parts = re.split(r"(`+[^`]*`+)", markdown)
    return "".join(
        part if part.startswith("`") else MENTION.sub(_mention_link, part) for part in parts
    )


def _mention_link(mention: re.Match[str]) -> str:
    name = mention.group(1)
    return f"[@{name}]({links.path('accounts.profile_by_name', name=name)})"
