"""Referral rewards' error codes, and the errors their services raise."""

from __future__ import annotations

from enum import StrEnum

from errors import DomainError
from translation import yuan


class ReferralErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    RULE_CHANGED = "rule_changed"
    PAYOUT_TOO_LARGE = "payout_too_large"
    PAYOUT_DECIDED = "payout_decided"
    OWN_PAYOUT = "own_payout"


class RuleNotFound(DomainError):
    code = ReferralErrorCode.NOT_FOUND
    status = 404
    default_message = "No such reward rule."


class RuleChanged(DomainError):
    """Another admin set or retired the reward of the same thing at the same moment."""

    code = ReferralErrorCode.RULE_CHANGED
    status = 409
    default_message = (
        "The reward for this was changed by someone else at the same moment: look at it again."
    )


class PayoutNotFound(DomainError):
    code = ReferralErrorCode.NOT_FOUND
    status = 404
    default_message = "No such payout."


class PayoutTooLarge(DomainError):
    """More than is withdrawable now was asked for; `withdrawable_fen` says how much is."""

    code = ReferralErrorCode.PAYOUT_TOO_LARGE
    status = 409
    default_message = "You can withdraw at most %(withdrawable)s now."

    def __init__(self, withdrawable_fen: int) -> None:
        super().__init__(withdrawable=yuan(withdrawable_fen))
        self.withdrawable_fen = withdrawable_fen


class PayoutDecided(DomainError):
    code = ReferralErrorCode.PAYOUT_DECIDED
    status = 409
    default_message = "This payout was already approved or rejected."


class SharedThingNotFound(DomainError):
    """Nothing to share there: no such thing, or nothing a visitor may see of it."""

    code = ReferralErrorCode.NOT_FOUND
    status = 404
    default_message = "There is nothing to share there."


class ShareLinkNotFound(DomainError):
    code = ReferralErrorCode.NOT_FOUND
    status = 404
    default_message = "No such share link."


class OwnPayout(DomainError):
    code = ReferralErrorCode.OWN_PAYOUT
    status = 403
    default_message = "Another member of staff decides your own payout."
