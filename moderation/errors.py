"""Moderation's error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class ModerationErrorCode(StrEnum):
    BLOCKED_WORDS = "blocked_words"
    WORDS_NEED_APPROVAL = "words_need_approval"
    REVIEW_ITEM_NOT_FOUND = "review_item_not_found"
    ALREADY_DECIDED = "already_decided"
    REPORTED_NOT_FOUND = "reported_not_found"
    NO_OPEN_REPORTS = "no_open_reports"


class BlockedWords(DomainError):
    """A text has words the community does not take: refused, naming them (`words`), and the
    field of the first text that has one (`field`, when the caller named its texts: a page
    shows the refusal beside it, the API answers it as a ValidationError's `field`)."""

    code = ModerationErrorCode.BLOCKED_WORDS
    status = 422
    default_message = "This contains words that are not allowed here: %(listed)s."

    def __init__(self, words: list[str], *, field: str | None = None) -> None:
        named = {"field": field} if field else {}
        super().__init__(None, words=words, listed="、".join(words), **named)
        self.words = words
        self.field = field


class WordsNeedApproval(BlockedWords):
    """A text that is shown everywhere at once and cannot wait for a moderator (a display
    name, a bio) has words that require one: refused too, naming them, asking for others."""

    code = ModerationErrorCode.WORDS_NEED_APPROVAL
    default_message = (
        "A moderator must approve these words first, and this is shown at once: "
        "%(listed)s. Please choose other words."
    )


class ReviewItemNotFound(DomainError):
    code = ModerationErrorCode.REVIEW_ITEM_NOT_FOUND
    status = 404
    default_message = "No such item in the review queue."


class AlreadyDecided(DomainError):
    code = ModerationErrorCode.ALREADY_DECIDED
    status = 409
    default_message = "Another moderator decided this item already."
