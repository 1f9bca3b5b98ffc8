"""Each person's private podcast feed: a signed token in its URL, reset at will."""

from __future__ import annotations

import hashlib
import hmac

from tortoise.expressions import F

from accounts.models import User
from community.feed.models import PodcastFeed


def _signature(secret: str, user_id: int, version: int) -> str:
    message = f"podcast:{user_id}:{version}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


async def podcast_token(user: User, secret: str) -> str:
    """The person's podcast token: `<user id>-<version>-<signature>`."""
    feed, _ = await PodcastFeed.get_or_create(user=user)
    return f"{user.id}-{feed.version}-{_signature(secret, user.id, feed.version)}"


async def reset_podcast_token(user: User, secret: str) -> str:
    """A new token; the old feed URL (and its audio links) stop working at once."""
    feed, _ = await PodcastFeed.get_or_create(user=user)
    await PodcastFeed.filter(id=feed.id).update(version=F("version") + 1)
    return await podcast_token(user, secret)


async def user_for_podcast_token(token: str, secret: str) -> User | None:
    """Whose token this is, or None for a malformed, forged or reset one."""
    user_id, _, rest = token.partition("-")
    version, _, signature = rest.partition("-")
    if not (user_id.isdigit() and version.isdigit() and len(signature) == 32):
        return None
    expected = _signature(secret, int(user_id), int(version))
    if not hmac.compare_digest(signature, expected):
        return None
    feed = await PodcastFeed.get_or_none(user_id=int(user_id)).select_related("user")
    if feed is None or feed.version != int(version):
        return None
    return feed.user
