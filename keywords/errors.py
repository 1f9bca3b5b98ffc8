"""The keyword box's error codes, and the errors its services raise. A keyword already taken
and a keyword nothing answers are the feed's errors (community.feed.errors: KeywordTaken,
409 keyword_taken; UnknownKeyword, 404 unknown_keyword), raised here with the same meaning."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class KeywordsErrorCode(StrEnum):
    NOT_FOUND = "not_found"


class RuleNotFound(DomainError):
    code = KeywordsErrorCode.NOT_FOUND
    status = 404
    default_message = "No such auto-reply."
