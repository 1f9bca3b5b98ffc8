"""Customer service's error codes, and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class SupportErrorCode(StrEnum):
    CONVERSATION_NOT_FOUND = "conversation_not_found"
    PICTURE_NOT_FOUND = "picture_not_found"


class ConversationNotFound(DomainError):
    """No such conversation, or not the reader's: another member's conversation is answered
    the same as one that does not exist, so its existence does not leak."""

    code = SupportErrorCode.CONVERSATION_NOT_FOUND
    status = 404
    default_message = "No such conversation."


class PictureNotFound(DomainError):
    code = SupportErrorCode.PICTURE_NOT_FOUND
    status = 404
    default_message = "No such picture."
