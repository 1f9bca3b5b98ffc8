"""The real-name rule (网络安全法 art. 24: a site that lets people publish asks for their real
identity first): where SHUYUAN_REQUIRE_VERIFIED_MOBILE is on, a person posts and replies on the
board only once their account has a verified mainland mobile number, which the carriers issue
to a named person. Off by default (development); on in production on the mainland.

Liking and reporting publish nothing and are not held back: a report of unlawful content must
never wait for a number. Staff are held to it too: what they post is published all the same.
The setting reaches the rule as `mobile_required`, from the app's settings by the pages and
the API.
"""

from __future__ import annotations

from datetime import datetime

from accounts import phones
from accounts.models import User
from community.board.errors import MobileRequired
from community.board.permissions import check_can_write


async def lacks_mobile(user: User, *, mobile_required: bool) -> bool:
    """Whether the rule stops `user` now: it is on, and their account has no verified mobile
    number (accounts.phones.has_verified_mobile). Pages show, in place of the forms to post and
    reply, where to link one."""
    return mobile_required and not await phones.has_verified_mobile(user)


async def check_can_publish(user: User, now: datetime, *, mobile_required: bool) -> None:
    """The guard of posting and replying: what check_can_write raises (BoardMembersOnly,
    Banned), then MobileRequired where the rule stops `user`. Pages and the API call it before
    they read the text, so a refusal (403) comes before a bad field (422)."""
    await check_can_write(user, now)
    if await lacks_mobile(user, mobile_required=mobile_required):
        raise MobileRequired()
