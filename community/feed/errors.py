"""The daily feed's error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class FeedErrorCode(StrEnum):
    KEYWORD_TAKEN = "keyword_taken"
    UNKNOWN_KEYWORD = "unknown_keyword"
    ITEM_NOT_FOUND = "item_not_found"
    MEMBERS_ONLY = "members_only"


class KeywordTaken(DomainError):
    code = FeedErrorCode.KEYWORD_TAKEN
    status = 409
    default_message = "Another live item already uses this keyword."


class UnknownKeyword(DomainError):
    code = FeedErrorCode.UNKNOWN_KEYWORD
    status = 404
    default_message = "No item has this keyword."


class ItemNotFound(DomainError):
    code = FeedErrorCode.ITEM_NOT_FOUND
    status = 404
    default_message = "No such item."


class MembersOnly(DomainError):
    code = FeedErrorCode.MEMBERS_ONLY
    status = 403
    default_message = "Only members may open this."
