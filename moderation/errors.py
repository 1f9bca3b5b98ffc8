"""Moderation's error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class ModerationErrorCode(StrEnum):
    BLOCKED_WORDS = "blocked_words"
    REVIEW_ITEM_NOT_FOUND = "review_item_not_found"
    ALREADY_DECIDED = "already_decided"
    REPORTED_NOT_FOUND = "reported_not_found"
    NO_OPEN_REPORTS = "no_open_reports"


class BlockedWords(DomainError):
    """A text has words the community does not take: refused, naming them (`words`)."""

    code = ModerationErrorCode.BLOCKED_WORDS
    status = 422
    default_message = "This contains words that are not allowed here: %(listed)s."

    def __init__(self, words: list[str]) -> None:
        super().__init__(None, words=words, listed="、".join(words))
        self.words = words


class ReviewItemNotFound(DomainError):
    code = ModerationErrorCode.REVIEW_ITEM_NOT_FOUND
    status = 404
    default_message = "No such item in the review queue."


class AlreadyDecided(DomainError):
    code = ModerationErrorCode.ALREADY_DECIDED
    status = 409
    default_message = "Another moderator decided this item already."
