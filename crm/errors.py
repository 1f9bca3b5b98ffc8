"""The back office's people tools' error codes, and the errors their services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class CrmErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    DAILY_LIMIT = "daily_limit"
    EMPTY_AUDIENCE = "empty_audience"
    NAME_TAKEN = "name_taken"
    NOT_SCHEDULED = "not_scheduled"
    SEGMENT_IN_USE = "segment_in_use"


class PersonNotFound(DomainError):
    code = CrmErrorCode.NOT_FOUND
    status = 404
    default_message = "No such person."


class NoteNotFound(DomainError):
    code = CrmErrorCode.NOT_FOUND
    status = 404
    default_message = "No such note."


class SegmentNotFound(DomainError):
    code = CrmErrorCode.NOT_FOUND
    status = 404
    default_message = "No such segment."


class ProductNotFound(DomainError):
    code = CrmErrorCode.NOT_FOUND
    status = 404
    default_message = "No such product."


class BroadcastNotFound(DomainError):
    code = CrmErrorCode.NOT_FOUND
    status = 404
    default_message = "No such broadcast."


class DailyLimit(DomainError):
    """Every recipient of a broadcast has already been reached on its Asia/Shanghai day."""

    code = CrmErrorCode.DAILY_LIMIT
    status = 409
    default_message = (
        "Everyone in this audience has already received a broadcast on %(day)s: "
        "one a day is the most anyone receives."
    )


class EmptyAudience(DomainError):
    code = CrmErrorCode.EMPTY_AUDIENCE
    status = 422
    default_message = "Nobody is in this audience."


class SegmentNameTaken(DomainError):
    code = CrmErrorCode.NAME_TAKEN
    status = 409
    default_message = "A segment with this name already exists."


class SegmentInUse(DomainError):
    code = CrmErrorCode.SEGMENT_IN_USE
    status = 409
    default_message = (
        "A broadcast that has not been sent yet goes to this segment: cancel it first, "
        "or wait until it is sent."
    )


class NotScheduled(DomainError):
    code = CrmErrorCode.NOT_SCHEDULED
    status = 409
    default_message = "Only a broadcast that has not started can be canceled."
