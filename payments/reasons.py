"""Why a payment failed, in our own words: the provider's error codes mapped to sentences that
are message ids (translated where a person reads them), never the provider's English text,
which is kept on the payment for admins (Payment.error_message)."""

from __future__ import annotations

from translation import N_

GENERIC = N_("The payment did not go through.")
SENTENCES = {
    "card_declined": N_("Your card was declined."),
    "generic_decline": N_("Your card was declined."),
    "do_not_honor": N_("Your card was declined."),
    "insufficient_funds": N_("Your card has insufficient funds."),
    "lost_card": N_("Your card was declined."),
    "stolen_card": N_("Your card was declined."),
    "fraudulent": N_("Your card was declined."),
    "expired_card": N_("Your card has expired."),
    "incorrect_cvc": N_("Your card's security code is incorrect."),
    "invalid_cvc": N_("Your card's security code is incorrect."),
    "incorrect_number": N_("Your card number is incorrect."),
    "invalid_number": N_("Your card number is incorrect."),
    "invalid_expiry_month": N_("Your card's expiry date is incorrect."),
    "invalid_expiry_year": N_("Your card's expiry date is incorrect."),
    "processing_error": N_("The card could not be charged just now; try again in a moment."),
    "authentication_required": N_(
        "Your bank asked to confirm this payment; try again and confirm it."
    ),
    "payment_intent_authentication_failure": N_("The payment was not confirmed with your bank."),
    "canceled": N_("The payment was cancelled."),
    "payment_intent_payment_attempt_failed": N_(
        "The payment was declined, or not finished, in WeChat Pay or Alipay."
    ),
    "abandoned": N_("The payment never started."),
}


def sentence(code: str | None) -> str:
    """The message id saying why a payment with this failure code failed."""
    return SENTENCES.get(code or "", GENERIC)
