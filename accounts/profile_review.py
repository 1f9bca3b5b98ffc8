"""What reviews what a person shows of themselves: the words of their display name and bio,
and a young account's avatar.

accounts imports no package above it, and the watched words and the review queue are
moderation's: the composition root binds moderation's ProfileReview (moderation.profiles) to
PROFILE_REVIEW for each app, command and test. Nothing here accepts anything by default: code
that reads the wire where nothing bound it fails with wiring.NotWired, as a sign-in hook does
(accounts.sign_in_hooks), rather than letting a name through unchecked.

The rules the reviewer applies (docs/moderation.md): a blocked word refuses a name or a bio
(moderation.errors.BlockedWords, 422 `blocked_words`, with `field` and `words`); a word that
requires approval refuses it too (WordsNeedApproval, 422 `words_need_approval`: a name or a
bio is shown everywhere at once and cannot wait for a moderator); a censored word is kept
as ■; a flag word is kept, and the profile put in the review queue ("profile").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from wiring import Wire


@dataclass(frozen=True)
class CheckedTexts:
    """Texts a person wrote of themselves that may be kept: as kept (censored words as ■),
    and the flag words that put the profile in the review queue once they are saved."""

    texts: dict[str, str]
    flagged_words: list[str]


@dataclass(frozen=True)
class ProfileReview:
    # Check the named texts ({"display_name": ..., "bio": ...}). Raises the refusal (a
    # DomainError naming the field and the words) for a blocked word or one that requires
    # approval.
    check: Callable[[dict[str, str]], Awaitable[CheckedTexts]]
    # A name from elsewhere (WeChat's nickname), never refused: every word that would refuse
    # or hold it censored as ■ (None when that cannot be done: the caller names them).
    soften: Callable[[str], Awaitable[str | None]]
    # Put a person's profile in the review queue for a look: (user_id, words, text, now).
    flag: Callable[[int, list[str], str, datetime], Awaitable[None]]
    # A person's avatar changed: (user_id, held, now). A picture still waiting is superseded
    # (its queue item closed: a moderator's decision is about the picture they saw); a held
    # one is put in the review queue.
    avatar_changed: Callable[[int, bool, datetime], Awaitable[None]]


PROFILE_REVIEW: Wire[ProfileReview] = Wire("accounts.profile_review")


def reviewer() -> ProfileReview:
    return PROFILE_REVIEW.get()


async def check(texts: dict[str, str]) -> CheckedTexts:
    """The texts as they may be kept, with the words that flag them (raises the refusal)."""
    return await reviewer().check(texts)


async def flag_if_needed(user_id: int, checked: CheckedTexts, *, now: datetime) -> None:
    """Queue the profile for a look when its new texts had flag words."""
    if checked.flagged_words:
        text = "\n".join(checked.texts.values())
        await reviewer().flag(user_id, checked.flagged_words, text, now)
