"""Membership's error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError


class MembershipErrorCode(StrEnum):
    NO_WINDOW = "no_window"
    WINDOW_NOT_FOUND = "window_not_found"
    WINDOW_OVERLAP = "window_overlap"
    WINDOW_STARTED = "window_started"
    NOT_OPEN = "not_open"
    CLOSED = "closed"
    SOLD_OUT = "sold_out"
    SEATS_AVAILABLE = "seats_available"
    ALREADY_MEMBER = "already_member"
    ALREADY_ENROLLED = "already_enrolled"
    ENROLLMENT_NOT_FOUND = "enrollment_not_found"
    HOLD_EXPIRED = "hold_expired"
    ALREADY_PAID = "already_paid"
    NOT_A_MEMBER = "not_a_member"
    USER_NOT_FOUND = "user_not_found"


class NoWindow(DomainError):
    code = MembershipErrorCode.NO_WINDOW
    status = 404
    default_message = "There is no enrollment window."


class WindowNotFound(DomainError):
    code = MembershipErrorCode.WINDOW_NOT_FOUND
    status = 404
    default_message = "No such enrollment window."


class WindowOverlap(DomainError):
    code = MembershipErrorCode.WINDOW_OVERLAP
    status = 409
    default_message = "Another enrollment window is open during that time."


class WindowStarted(DomainError):
    code = MembershipErrorCode.WINDOW_STARTED
    status = 409
    default_message = "The window has opened: only its closing time can be extended now."


class NotOpen(DomainError):
    code = MembershipErrorCode.NOT_OPEN
    status = 409
    default_message = "Enrollment has not opened yet."


class Closed(DomainError):
    code = MembershipErrorCode.CLOSED
    status = 409
    default_message = "Enrollment has closed."


class SoldOut(DomainError):
    code = MembershipErrorCode.SOLD_OUT
    status = 409
    default_message = "All seats are taken; you can join the waitlist."


class SeatsAvailable(DomainError):
    code = MembershipErrorCode.SEATS_AVAILABLE
    status = 409
    default_message = "Seats are still available: enroll instead of waiting."


class AlreadyMember(DomainError):
    code = MembershipErrorCode.ALREADY_MEMBER
    status = 409
    default_message = "You are already a member; renew in the last 30 days of your membership."


class AlreadyEnrolled(DomainError):
    code = MembershipErrorCode.ALREADY_ENROLLED
    status = 409
    default_message = "You already hold a seat in this window."


class EnrollmentNotFound(DomainError):
    code = MembershipErrorCode.ENROLLMENT_NOT_FOUND
    status = 404
    default_message = "No such enrollment."


class HoldExpired(DomainError):
    code = MembershipErrorCode.HOLD_EXPIRED
    status = 409
    default_message = "Your seat hold has expired; enroll again if seats are left."


class EnrollmentPaid(DomainError):
    code = MembershipErrorCode.ALREADY_PAID
    status = 409
    default_message = "This enrollment is already paid."


class NotAMember(DomainError):
    code = MembershipErrorCode.NOT_A_MEMBER
    status = 409
    default_message = "This person is not a member."


class UserNotFound(DomainError):
    code = MembershipErrorCode.USER_NOT_FOUND
    status = 404
    default_message = "No such user."
