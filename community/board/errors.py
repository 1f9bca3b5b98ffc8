"""The member board's error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class BoardErrorCode(StrEnum):
    MEMBERS_ONLY = "members_only"
    BANNED = "banned"
    LOCKED = "locked"
    POST_NOT_FOUND = "post_not_found"
    NOT_THE_AUTHOR = "not_the_author"
    USER_NOT_FOUND = "user_not_found"
    CANNOT_BAN_ADMIN = "cannot_ban_admin"  # said of all staff now; the API keeps the code
    MOBILE_REQUIRED = "mobile_required"


class BoardMembersOnly(DomainError):
    code = BoardErrorCode.MEMBERS_ONLY
    status = 403
    default_message = "Only members may do this on the board."


class Banned(DomainError):
    code = BoardErrorCode.BANNED
    status = 403
    default_message = "You may not post on the board for now."


class Locked(DomainError):
    code = BoardErrorCode.LOCKED
    status = 423
    default_message = "This post is locked: no more replies."


class PostNotFound(DomainError):
    code = BoardErrorCode.POST_NOT_FOUND
    status = 404
    default_message = "No such post."


class NotTheAuthor(DomainError):
    code = BoardErrorCode.NOT_THE_AUTHOR
    status = 403
    default_message = "Only the author may change this post."


class UserNotFound(DomainError):
    code = BoardErrorCode.USER_NOT_FOUND
    status = 404
    default_message = "No such person."


class CannotBanStaff(DomainError):
    """Staff look after the board; one cannot silence themselves or another staff member (a
    mistaken or hijacked account would otherwise lock the others out of moderation)."""

    code = BoardErrorCode.CANNOT_BAN_ADMIN
    status = 409
    default_message = "Staff cannot be banned from the board."


class MobileRequired(DomainError):
    """The real-name rule (community.board.real_name): where the site requires it, posting and
    replying wait for a verified mainland mobile number on the account."""

    code = BoardErrorCode.MOBILE_REQUIRED
    status = 403
    default_message = "Link a mobile number to your account before you post or reply."
