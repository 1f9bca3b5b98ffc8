"""What moderation does for accounts' profiles: the reviewer of what a person shows of
themselves (accounts.profile_review.ProfileReview, bound by the composition root), and the
review queue's kinds "profile" (a display name or bio with a flag word) and "avatar" (a young
account's new picture), registered by the composition root.

A name or a bio is shown everywhere at once (beside every post, in every @mention) and cannot
wait for a moderator: a word that requires approval refuses it, as a blocked word does, and
asks for other words. A flag word is kept, and the profile queued; rejecting it clears the
bio and gives back a neutral name.
"""

from __future__ import annotations

from datetime import datetime

import links
from accounts import profiles
from accounts.models import User
from accounts.profile_review import CheckedTexts, ProfileReview
from errors import ValidationError
from moderation import review, words
from moderation.errors import BlockedWords, WordsNeedApproval
from moderation.folding import fold_word
from moderation.models import ReviewReason, WordAction
from moderation.review import Reviewable, Reviewables
from translation import N_

PROFILE = "profile"
AVATAR = "avatar"


async def check(texts: dict[str, str]) -> CheckedTexts:
    """A person's words about themselves. Raises BlockedWords, then WordsNeedApproval, each
    naming every such word and the first field that has one; else returns the texts
    censored, with their flag words."""
    verdicts = {name: await words.verdict(text) for name, text in texts.items()}
    # What would be kept is read again: a word hidden inside another (法赌博轮, 赌博 censored)
    # must not make one (法■■轮 is 法轮 to the matcher).
    kept = {name: await words.verdict(v.censored) for name, v in verdicts.items()}
    for action, refusal in (
        (WordAction.BLOCK, BlockedWords),
        (WordAction.REQUIRE_APPROVAL, WordsNeedApproval),
    ):
        found = {
            name: list(dict.fromkeys([*v.words(action), *kept[name].words(action)]))
            for name, v in verdicts.items()
            if v.words(action) or kept[name].words(action)
        }
        if found:
            every = list(dict.fromkeys(w for named in found.values() for w in named))
            raise refusal(every, field=next(iter(found)))
    name = texts.get("display_name")
    if name is not None and not fold_word(verdicts["display_name"].censored):
        raise ValidationError(
            "display_name", "must keep a letter or a digit once its words are hidden"
        )
    flagged = list(dict.fromkeys(w for v in verdicts.values() for w in v.words(WordAction.FLAG)))
    return CheckedTexts({name: v.censored for name, v in verdicts.items()}, flagged)


async def soften(name: str) -> str | None:
    """A name from elsewhere with every word that would refuse or hold it censored; None when
    that cannot be done, or leaves nothing but ■ (the caller names the person itself)."""
    censored = await words.censor_refusals(name)
    return censored if censored is not None and fold_word(censored) else None


async def flag(user_id: int, found: list[str], text: str, now: datetime) -> None:
    await review.hold(
        PROFILE,
        user_id,
        author_id=user_id,
        reason=ReviewReason.FLAGGED,
        words=found,
        text=text,
        now=now,
    )


async def avatar_changed(user_id: int, held: bool, now: datetime) -> None:
    """A new picture: the one waiting before is superseded (its item closed, so a decision
    taken on it answers 409 instead of acting on this one), and a held one queued anew."""
    await review.settle(AVATAR, user_id, approved=False, actor=None, now=now)
    if not held:
        return
    await review.hold(
        AVATAR,
        user_id,
        author_id=user_id,
        reason=ReviewReason.NEW_AVATAR,
        words=[],
        text="",
        now=now,
    )


def profile_review() -> ProfileReview:
    """The reviewer the composition root binds to accounts.profile_review.PROFILE_REVIEW."""
    return ProfileReview(check=check, soften=soften, flag=flag, avatar_changed=avatar_changed)


# ---------------------------------------------------------------------------------------------
# The review queue's kinds


async def _nothing(user_id: int, now: datetime) -> bool:
    """A flagged profile approved: it was shown all along, and stays (nothing changed)."""
    return False


async def _profile_link(user_id: int) -> str | None:
    return links.path("accounts.profile_page", id=user_id)


async def _avatar_link(user_id: int) -> str | None:
    """Where the owner changes their avatar (told of the decision)."""
    return links.path("accounts.edit_profile")


async def _waiting_avatar(user_id: int) -> str | None:
    user = await User.get_or_none(id=user_id)
    return profiles.waiting_avatar_url(user) if user is not None else None


def register(reviewables: Reviewables) -> None:
    """The queue's "profile" and "avatar" kinds (avatars in the app's storage): a flagged
    profile rejected is reset (its owner told, "profile_reset"); a
    waiting avatar approved is shown ("avatar_approved"), rejected is removed
    ("avatar_removed")."""
    reviewables.register(
        PROFILE,
        Reviewable(
            N_("Display name and bio"),
            _nothing,
            profiles.reset_profile,
            _profile_link,
            rejected="profile_reset",
        ),
    )

    async def show(user_id: int, now: datetime) -> bool:
        return await profiles.show_avatar(user_id, now)

    async def remove(user_id: int, now: datetime) -> bool:
        return await profiles.remove_avatar(user_id, now)

    reviewables.register(
        AVATAR,
        Reviewable(
            N_("New account's avatar"),
            show,
            remove,
            _avatar_link,
            approved="avatar_approved",
            rejected="avatar_removed",
            picture=_waiting_avatar,
        ),
    )
