"""A person's profile: display name, short bio, avatar, the language they read in, and their
IP属地 (the province or country of their latest post or reply: wrote_from).

Shown on their page (/people/<id>) and beside their posts and replies; an @mention of their
display name links to it. The avatar is an uploaded picture (pictures.PicturePool), cut to a
square and stored as JPEG under media/avatars/ with a version in its name, so a new one is
never hidden by a cached old one.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import links
from accounts.models import User
from accounts.services import check_display_name
from errors import RateLimited, ValidationError
from pictures import PicturePool, Sizes
from ratelimit import Counter, Limit, seconds_left
from translation import SUPPORTED_LOCALES

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
) -> User:
    """Change what is given (None: unchanged), every field checked before anything is saved.
    Raises ValidationError listing every bad field."""
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
    if changes:
        await User.filter(id=user.id).update(**changes)
        for name, value in changes.items():
            setattr(user, name, value)
    return user


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
    """The person an @mention of `display_name` names (the first to take it), or None."""
    return await User.filter(display_name=display_name[:40]).order_by("id").first()


async def set_avatar(
    user: User, data: bytes, *, media_dir: Path, pictures: PicturePool, counter: Counter
) -> User:
    """A new avatar from an uploaded picture, decoded in the picture pool. At most
    AVATAR_CHANGES per account an hour: every upload the pool took counts, refused or not
    (each cost a read); one the full pool turned away (503) does not. Raises RateLimited,
    ValidationError("avatar"), ServiceUnavailable (pool busy)."""
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
    folder = media_dir / "avatars"
    folder.mkdir(parents=True, exist_ok=True)
    for size, content in sizes.items():
        (folder / f"user-{user.id}-v{version}-{size}.jpg").write_bytes(content)
    await User.filter(id=user.id).update(avatar_version=version)
    for size in AVATAR_SIZES:  # the previous version's files
        (folder / f"user-{user.id}-v{user.avatar_version}-{size}.jpg").unlink(missing_ok=True)
    user.avatar_version = version
    return user


def avatar_url(user: User | None, size: str = "small") -> str | None:
    if user is None or not user.avatar_version:
        return None
    return links.path("media", path=f"/avatars/user-{user.id}-v{user.avatar_version}-{size}.jpg")


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
