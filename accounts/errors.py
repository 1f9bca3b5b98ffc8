"""Accounts' error codes and the errors its services raise."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from errors import DomainError, Forbidden, ServiceUnavailable, Unauthorized, ValidationError

# Who is asking is settled below every package (web/ raises them too): kept importable here.
__all__ = ["Forbidden", "Unauthorized"]


class AccountsErrorCode(StrEnum):
    EMAIL_TAKEN = "email_taken"
    BAD_CREDENTIALS = "bad_credentials"
    NOT_FOUND = "not_found"
    SESSION_ENDED = "session_ended"
    WEAK_PASSWORD = "weak_password"  # nosec B105  # an error code
    RESET_EXPIRED = "reset_expired"
    RESET_NOT_FOUND = "reset_not_found"
    VERIFICATION_EXPIRED = "verification_expired"
    VERIFICATION_NOT_FOUND = "verification_not_found"
    LAST_OWNER = "last_owner"
    WECHAT_STATE = "wechat_state"
    WECHAT_CODE = "wechat_code"
    WECHAT_NOT_SET_UP = "wechat_not_set_up"
    WECHAT_TAKEN = "wechat_taken"
    WECHAT_PENDING = "wechat_pending"
    BAD_CODE = "bad_code"
    LAST_SIGN_IN_METHOD = "last_sign_in_method"
    HAS_PASSWORD = "has_password"  # nosec B105  # an error code
    PHONE_TAKEN = "phone_taken"
    # Leaving (注销, accounts.leaving).
    WRONG_PROOF = "wrong_proof"
    NO_WAY_TO_PROVE = "no_way_to_prove"
    SIGN_IN_AGAIN = "sign_in_again"
    PASSWORD_PROVES = "password_proves"  # nosec B105  # an error code
    ALREADY_LEAVING = "already_leaving"
    NOT_LEAVING = "not_leaving"
    ACCOUNT_LEAVING = "account_leaving"
    ACCOUNT_CLOSED = "account_closed"
    CONSENT_REQUIRED = "consent_required"
    VERSION_NOT_CURRENT = "version_not_current"
    WITHDRAWING_IS_LEAVING = "withdrawing_is_leaving"


class EmailTaken(DomainError):
    code = AccountsErrorCode.EMAIL_TAKEN
    status = 409
    default_message = "An account with this email already exists."


class BadCredentials(DomainError):
    code = AccountsErrorCode.BAD_CREDENTIALS
    status = 401
    default_message = "Wrong email or password."


class NotificationNotFound(DomainError):
    code = AccountsErrorCode.NOT_FOUND
    status = 404
    default_message = "No such notification."


class SessionEnded(DomainError):
    """A token or session that existed and was ended (logout, revocation, password change)."""

    code = AccountsErrorCode.SESSION_ENDED
    status = 401
    default_message = "This session has ended; sign in again."


class SessionNotFound(DomainError):
    code = AccountsErrorCode.NOT_FOUND
    status = 404
    default_message = "No such session."


class WeakPassword(ValidationError):
    """A password long enough but too easy to guess; the message says why."""

    code = AccountsErrorCode.WEAK_PASSWORD


class ResetExpired(DomainError):
    """A password-reset link that was used already, has expired, or never existed."""

    code = AccountsErrorCode.RESET_EXPIRED
    status = 410
    default_message = "This reset link was used already or has expired; ask for a new one."


class ResetNotFound(DomainError):
    """A password-reset link that never existed (a mistyped or made-up token)."""

    code = AccountsErrorCode.RESET_NOT_FOUND
    status = 404
    default_message = "This reset link is not one of ours; ask for a new one."


class VerificationExpired(DomainError):
    code = AccountsErrorCode.VERIFICATION_EXPIRED
    status = 410
    default_message = (
        "This verification link has expired or is for another address; ask for a new one."
    )


class VerificationNotFound(DomainError):
    code = AccountsErrorCode.VERIFICATION_NOT_FOUND
    status = 404
    default_message = "This is not a verification link of ours."


class UserNotFound(DomainError):
    code = AccountsErrorCode.NOT_FOUND
    status = 404
    default_message = "No such person."


class LastOwner(DomainError):
    """The only owner cannot stop being one: somebody must be able to give roles."""

    code = AccountsErrorCode.LAST_OWNER
    status = 409
    default_message = "The last owner cannot be removed; make someone else an owner first."


class WechatStateRefused(DomainError):
    """A WeChat callback whose `state` this browser did not start, used already or let expire:
    forged, replayed, from another browser's session, or too old."""

    code = AccountsErrorCode.WECHAT_STATE
    status = 400
    default_message = (
        "This WeChat sign-in was not started in this browser, was used already or has "
        "expired. Start again."
    )


class WechatCodeRefused(DomainError):
    """WeChat did not accept the code or token (wrong, used, expired): start again."""

    code = AccountsErrorCode.WECHAT_CODE
    status = 400
    default_message = (
        "WeChat did not accept this sign-in (it was used or has expired). Start again."
    )


class WechatNotSetUp(DomainError):
    """Sign-in with WeChat is not offered here, or WeChat refused our app's credentials."""

    code = AccountsErrorCode.WECHAT_NOT_SET_UP
    status = 404
    default_message = "Signing in with WeChat is not available here."


class WechatUnavailable(ServiceUnavailable):
    """WeChat could not be reached or answered something unexpected (code
    service_unavailable: try again shortly)."""

    status = 503
    default_message = "WeChat is not answering right now; please try again shortly."


class WechatTaken(DomainError):
    """This WeChat person already signs in to another account."""

    code = AccountsErrorCode.WECHAT_TAKEN
    status = 409
    default_message = "This WeChat account already signs in to another Shuyuan account."


class WechatPendingMissing(DomainError):
    """The first-sign-in page without a WeChat identity waiting in this browser's session."""

    code = AccountsErrorCode.WECHAT_PENDING
    status = 400
    default_message = (
        "No WeChat sign-in is waiting in this browser (it may have expired). Start again."
    )


class BadCode(DomainError):
    """A code (sent by SMS to sign in, or mailed to link WeChat) that is wrong, expired, used
    already or out of tries: one answer for all four, so a guesser learns nothing."""

    code = AccountsErrorCode.BAD_CODE
    status = 401
    default_message = "Wrong or expired code; ask for a new one."


class LastSignInMethod(DomainError):
    """The only way into an account cannot be removed: its owner would be locked out."""

    code = AccountsErrorCode.LAST_SIGN_IN_METHOD
    status = 409
    default_message = "This is your only way to sign in; add another before removing it."


class SignInMethodNotFound(DomainError):
    code = AccountsErrorCode.NOT_FOUND
    status = 404
    default_message = "This account has no such way to sign in."


class HasPassword(DomainError):
    """An email and a password are added only to an account without a password."""

    code = AccountsErrorCode.HAS_PASSWORD
    status = 409
    default_message = "This account already has an email and a password."


class PhoneTaken(DomainError):
    """A number that signs in to another account cannot be added to this one."""

    code = AccountsErrorCode.PHONE_TAKEN
    status = 409
    default_message = "This number already signs in to another account; remove it there first."


class WrongProof(DomainError):
    """Leaving (accounts.leaving): the password or the code that should prove it is the
    account's owner is wrong, expired or used. 403, not 401: the caller is signed in."""

    code = AccountsErrorCode.WRONG_PROOF
    status = 403
    default_message = "That password or code is not right; the account was not cancelled."


class NoWayToProve(DomainError):
    """No code can be sent: the account proves it is its owner's another way (a fresh sign-in
    with WeChat), or texts cannot be sent here."""

    code = AccountsErrorCode.NO_WAY_TO_PROVE
    status = 409
    default_message = (
        "No code can be sent to this account: sign in with WeChat again, then cancel it "
        "within 10 minutes."
    )


class SignInAgain(DomainError):
    """A WeChat-only account proves it is its owner's by a fresh sign-in (accounts.leaving:
    RECENT_SIGN_IN): this session or token began too long ago."""

    code = AccountsErrorCode.SIGN_IN_AGAIN
    status = 403
    default_message = (
        "To prove it is you, sign in with WeChat again, then cancel your account within 10 minutes."
    )


class PasswordProves(DomainError):
    """An account with a password proves it with the password, not with a code."""

    code = AccountsErrorCode.PASSWORD_PROVES
    status = 409
    default_message = "This account has a password: prove it is yours with the password."


class AlreadyLeaving(DomainError):
    code = AccountsErrorCode.ALREADY_LEAVING
    status = 409
    default_message = "This account is already being cancelled."


class NotLeaving(DomainError):
    """Undo asked for an account that is not being cancelled."""

    code = AccountsErrorCode.NOT_LEAVING
    status = 409
    default_message = "This account is not being cancelled: there is nothing to undo."


class AccountLeaving(DomainError):
    """A request with the one token a cancelled account keeps, anywhere but its cancellation's
    own endpoints (GET and DELETE /api/v1/me/deletion)."""

    code = AccountsErrorCode.ACCOUNT_LEAVING
    status = 403
    default_message = (
        "This account is being cancelled: only undoing it is possible "
        "(DELETE /api/v1/me/deletion), or sign in again."
    )


class AccountClosed(DomainError):
    """An account whose cooling-off has passed (or that is erased): nobody signs in to it."""

    code = AccountsErrorCode.ACCOUNT_CLOSED
    status = 403
    default_message = "This account was cancelled and can no longer be signed in to."


class ConsentRequired(DomainError):
    """Something must be agreed first: the current terms and privacy policy before anything
    else (accounts.consents.required), or the cross-border notice before paying a provider
    abroad. `documents` names what (terms, privacy, cross_border)."""

    code = AccountsErrorCode.CONSENT_REQUIRED
    status = 403
    default_message = (
        "Agree to the current terms of service and privacy policy first: read them at "
        "/legal/terms and /legal/privacy, then POST /api/v1/me/consents for each (or open "
        "/me/consent in a browser)."
    )

    def __init__(
        self, message: str | None = None, *, documents: tuple[str, ...] = (), **details: Any
    ) -> None:
        super().__init__(message, documents=list(documents), **details)
        self.documents = documents


class VersionNotCurrent(DomainError):
    """Only the version published now may be agreed to: an older one (or one not published)
    is refused, and the answer names the current one."""

    code = AccountsErrorCode.VERSION_NOT_CURRENT
    status = 409
    default_message = "This is not the current version; read and agree to version %(current)s."


class PublishedMeanwhile(DomainError):
    """Two publications of one document at once: one became the next version."""

    code = AccountsErrorCode.VERSION_NOT_CURRENT
    status = 409
    default_message = "Someone published this document at the same time; read it and try again."


class WithdrawingIsLeaving(DomainError):
    """The terms and the privacy policy are not optional: withdrawing them is leaving."""

    code = AccountsErrorCode.WITHDRAWING_IS_LEAVING
    status = 409
    default_message = (
        "Agreement to the terms and the privacy policy is what an account stands on: to "
        "withdraw it, leave Shuyuan (注销) at /me/leave."
    )
