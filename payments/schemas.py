"""The payments API's declared shapes: how a client pays for a thing, and what it hears back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from payments.models import PaymentStatus, PayMethod
from payments.provider import MAX_URL_LENGTH
from payments.services import MAX_AMOUNT_FEN, PAYMENT_METHOD_PATTERN
from payments.services import PaymentChoice as PaymentsChoice
from web.api import Answer, Body, Query, whole

PaymentMethodId = Annotated[
    str,
    msgspec.Meta(
        pattern=PAYMENT_METHOD_PATTERN,
        max_length=99,
        description="a PaymentMethod id made by Stripe.js (pm_...)",
    ),
]


# For PaymentChoice's rules: a property's schema applies only when it is sent, so _NULL is
# "left out or null" and _GIVEN, with "required", is "sent and not null".
_NULL: dict[str, Any] = {"type": "null"}
_GIVEN: dict[str, Any] = {"type": "string"}


def _method_is(method: str) -> dict[str, Any]:
    return {"required": ["method"], "properties": {"method": {"const": method}}}


class PaymentChoice(Body):
    """One of three forms: {payment_method} to pay by card (method may be "card"), {method:
    "wechat_pay"}, or {method: "alipay", return_url}; a field another form needs is left out
    or null (the schema's if/then/else says so; payments.services.check_choice decides). The
    server checks what no schema can: the payment_method must be one the provider made, the
    method one offered here, and return_url a page of this site; else 422 invalid_field."""

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "if": _method_is("wechat_pay"),
        "then": {
            "properties": {
                "payment_method": _NULL,
                "return_url": _NULL,
                "flow": {"enum": ["native", "h5", "jsapi", None]},
            }
        },
        "else": {
            "if": _method_is("alipay"),
            "then": {
                "required": ["return_url"],
                "properties": {
                    "payment_method": _NULL,
                    "return_url": _GIVEN,
                    "flow": {"enum": ["page", "wap", None]},
                },
            },
            "else": {  # a card: method left out, null or "card"
                "required": ["payment_method"],
                "properties": {"payment_method": _GIVEN, "return_url": _NULL, "flow": _NULL},
            },
        },
    }

    payment_method: PaymentMethodId | None = None
    method: (
        Annotated[
            Literal["card", "wechat_pay", "alipay"],
            msgspec.Meta(description="how to pay; card when left out (then payment_method)"),
        ]
        | None
    ) = None
    return_url: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=MAX_URL_LENGTH,
                description="Alipay only: the page of this site Alipay sends the buyer back to",
            ),
        ]
        | None
    ) = None
    flow: (
        Annotated[
            Literal["native", "h5", "jsapi", "page", "wap"],
            msgspec.Meta(
                description=(
                    "where a wallet is paid; left out, the server picks by the device (WeChat "
                    "Pay: jsapi inside WeChat, h5 in another phone's browser, native (a QR "
                    "code) on a computer). h5 and jsapi need WeChat Pay paid directly; jsapi "
                    "needs the payer's openid (a WeChat sign-in with the official account)"
                )
            ),
        ]
        | None
    ) = None

    def choice(self, site_origins: tuple[str, ...]) -> PaymentsChoice:
        return PaymentsChoice(
            payment_method=self.payment_method,
            method=self.method,
            return_url=self.return_url,
            site_origins=site_origins,
            flow=self.flow,
        )


class PayForm(Body):
    """A checkout page's form: the method, and for a card its PaymentMethod from Stripe.js."""

    payment_method: Annotated[str, msgspec.Meta(max_length=255)] = ""
    method: Literal["card", "wechat_pay", "alipay"] = "card"
    # The cross-border notice's box, ticked (shown beside the card while it is not agreed).
    cross_border: bool = False


class QrCodeAction(Answer, tag_field="type", tag="wechat_pay_display_qr_code"):
    """WeChat Pay: show the QR code; the buyer scans it with WeChat."""

    qr_data: str  # what the QR code holds: WeChat opens it
    qr_image_url: str  # our picture of the code (SVG), on this site
    hosted_instructions_url: str | None  # Stripe's page showing the code, for another device
    expires_at: str | None  # when the code stops being payable: never after the hold


class RedirectAction(Answer, tag_field="type", tag="redirect"):
    """Alipay, or WeChat Pay's h5 flow: send the buyer to `url`."""

    url: str  # Alipay's page (back to the return_url), or ours sending them on to WeChat
    expires_at: str | None


class JsapiAction(Answer, tag_field="type", tag="wechat_pay_jsapi"):
    """WeChat Pay inside WeChat's browser: call WeixinJSBridge.invoke("getBrandWCPayRequest",
    {appId: app_id, timeStamp: time_stamp, nonceStr: nonce_str, package, signType: sign_type,
    paySign: pay_sign}); then read the order or enrollment for the outcome."""

    app_id: str
    time_stamp: str
    nonce_str: str
    package: str  # prepay_id=...
    sign_type: str  # RSA
    pay_sign: str
    expires_at: str | None


class PaymentAnswer(Answer):
    """The answer to "pay for this"; the final status comes from the order or enrollment."""

    status: Literal["paid", "requires_action", "failed"]
    payment_id: int
    client_secret: str | None
    reason: str | None  # why it failed, in the caller's language
    reason_code: str | None  # the same as a code (card_declined, insufficient_funds, ...)
    # A wallet's next step, when it waits.
    next_action: QrCodeAction | RedirectAction | JsapiAction | None


class Refund(Body):
    amount_fen: (
        Annotated[int, whole(1, MAX_AMOUNT_FEN, description="fen to refund; the rest if left out")]
        | None
    ) = None


class PaymentRecord(Answer):
    id: int
    purpose: str
    subject_id: str
    amount_fen: int
    currency: str
    status: PaymentStatus
    method: PayMethod
    refunded_fen: int
    failure_code: str | None
    failure_message: str | None
    client_secret: str | None
    created_at: str


class PaymentsQuery(Query):
    """The admin's payments: all, or of one method or status."""

    method: Literal["", "card", "wechat_pay", "alipay"] = ""
    status: Literal[
        "", "pending", "requires_action", "succeeded", "failed", "refunded", "disputed"
    ] = ""
    limit: Annotated[int, whole(1, 500)] = 100


class PaymentList(Answer):
    payments: list[PaymentRecord]
