"""Profiles as reportable things (moderation.reports.Reportable "profile"): a member's name,
bio and picture, which anyone signed in can read. Taking a profile down resets it as a
rejected flagged profile is (accounts.profiles.reset_profile: a neutral name, no bio), and
its owner is told why (profile_reset). Registered by the composition root."""

from __future__ import annotations

from datetime import datetime

import links
from accounts import notices, profiles
from accounts.models import User
from moderation.reports import NothingToReport, Reportable, Reportables, Shown
from translation import N_

EXCERPT = 120


async def _find(user_id: int, reporter: User | None) -> Shown:
    person = await profiles.person(user_id)
    if person is None or (reporter is not None and reporter.id == user_id):
        raise NothingToReport()  # nobody reports themselves
    text = person.display_name + (f" · {person.bio}" if person.bio else "")
    return Shown(
        text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…",
        links.path("accounts.profile_page", id=user_id),
        user_id,
    )


async def _take_down(user_id: int, actor: User, now: datetime, note: str) -> None:
    person = await profiles.person(user_id)
    if person is None:
        return
    shown = person.display_name + (f" · {person.bio}" if person.bio else "")
    await profiles.reset_profile(user_id, now)
    await notices.notify(
        user_id,
        kind="profile_reset",
        params={"excerpt": shown[:60], "note": note},
        link=links.path("accounts.edit_profile"),
        now=now,
    )


def register(reportables: Reportables) -> None:
    reportables.register("profile", Reportable(N_("Profile"), _find, _take_down))
