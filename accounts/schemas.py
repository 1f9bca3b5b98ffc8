"""The accounts API's declared shapes: what clients send and what they get back."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from accounts import passwords, phones, profiles, services
from pictures import MEDIA_TYPES
from web.api import Answer, Body, Query, line, text
from web.limits import MIB
from web.paths import ID_PATTERN

Email = Annotated[
    str, msgspec.Meta(min_length=3, max_length=254, pattern=services.EMAIL_INPUT_PATTERN)
]
Password = Annotated[
    str,
    line(
        services.MAX_PASSWORD_LENGTH,
        min_length=services.MIN_PASSWORD_LENGTH,
        description=(
            f"{services.MIN_PASSWORD_LENGTH} to {services.MAX_PASSWORD_LENGTH} characters, and "
            "hard to guess: not one of the most common (Chinese) passwords, and rated at least "
            f"{passwords.MIN_SCORE} of 4 by the zxcvbn strength estimator (on its first "
            f"{passwords.ESTIMATE_CHARS} characters, knowing the email, and at registration the "
            "name); else 422 weak_password, with the reason"
        ),
    ),
]
DisplayName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=services.MAX_DISPLAY_NAME_LENGTH,
        pattern=services.DISPLAY_NAME_PATTERN,
    ),
]
Cursor = Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN}$")]  # an id: the page below it


class Registration(Body):
    email: Email
    password: Password
    display_name: DisplayName
    # Once the operator has published the terms and the privacy policy (accounts.consents), a
    # registration agrees to their current versions (GET /legal/{kind}) and states "I am 14
    # or older"; before that these are not asked.
    terms: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    privacy: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    age_14: bool = False


class Credentials(Body):
    email: Annotated[str, line(254)]
    password: Annotated[str, line(services.MAX_PASSWORD_LENGTH)]
    name: Annotated[str, line(80, description="a label for the token, e.g. the device")] | None = (
        None
    )
    device_token: (
        Annotated[str, line(300, description="the device_token an earlier sign-in answered")] | None
    ) = None
    code: (
        Annotated[str, line(6, description="a one-time code mailed by POST /login-codes")] | None
    ) = None


class PasswordChange(Body):
    current_password: Annotated[str, line(services.MAX_PASSWORD_LENGTH)]
    new_password: Password


class ResetRequest(Body):
    email: Annotated[str, line(254)]


class LoginCodeRequest(Body):
    email: Annotated[str, line(254)]


Phone = Annotated[
    str,
    msgspec.Meta(
        max_length=40,
        pattern=phones.PHONE_INPUT_PATTERN,
        description=(
            "a mainland China mobile number: 11 digits starting 13 to 19, with or without +86, "
            "spaces or hyphens"
        ),
    ),
]


class PhoneCodeRequest(Body):
    phone: Phone


class PhoneCredentials(Body):
    phone: Phone
    code: Annotated[str, line(20, description="the 6-digit code texted by POST /phone-codes")]
    device_token: (
        Annotated[str, line(300, description="the device_token an earlier sign-in answered")] | None
    ) = None


class NewPassword(Body):
    password: Password


class NotificationsQuery(Query):
    cursor: Cursor | None = None


class InboxQuery(Query):
    """The inbox page's `before` (the id the next page starts below)."""

    before: Cursor | None = None


class OpenSession(Answer):
    id: str  # "s<n>" for a browser session, "t<n>" for an API token
    kind: Literal["session", "token"]
    created_at: str
    last_seen_at: str | None
    user_agent: str
    address: str  # masked: the network, not the device
    current: bool
    # Readable, in the caller's language: "Chrome 131 on Windows 10", "API token: phone".
    device: str


class OpenSessions(Answer):
    items: list[OpenSession]


class Account(Answer):
    id: int
    email: str
    display_name: str


class Me(Account):
    # None: an account made with WeChat or a phone number, until its owner adds an address.
    email: str | None  # type: ignore[assignment]
    # Its ways in, in this order: "password" (an email and a password), "wechat", "phone".
    sign_in_methods: list[Literal["password", "wechat", "phone"]]
    is_admin: bool  # an owner or an admin
    staff_role: str | None  # "owner", "admin", "support", "moderator" or None
    member_until: str | None
    email_verified: bool
    locale: str | None
    bio: str
    avatar_url: str | None
    # IP属地 shown on their profile: the province or country of their latest post or reply
    # (accounts.profiles.wrote_from), never an address; None until one was placed.
    ip_region: str | None
    # A young account's new avatar waiting for a moderator: avatar_url is the caller's to
    # see; everyone else sees none until it is approved (SHUYUAN_AVATAR_REVIEW_DAYS).
    avatar_pending_review: bool


class ProfileChange(Body):
    """Only what is given changes."""

    display_name: DisplayName | None = None
    bio: Annotated[str, text(280)] | None = None
    locale: Literal["zh_CN", "en"] | None = None


class NoticeChoiceItem(Answer):
    kind: str
    channel: Literal["inbox", "inbox_mail", "nothing"]


class NoticeChoices(Answer):
    items: list[NoticeChoiceItem]


class NoticeChoiceChange(Body):
    channel: Literal["inbox", "inbox_mail", "nothing"]


AVATAR_UPLOAD = {
    "type": "object",
    "properties": {
        "avatar": {
            "type": "string",
            "format": "binary",
            "maxLength": profiles.MAX_AVATAR_BYTES,
            "description": (
                "A JPEG, PNG, WebP or GIF picture of at most "
                f"{profiles.MAX_AVATAR_BYTES // MIB} MiB (a larger request is 413 "
                "payload_too_large); one that cannot be read as a picture is 422 invalid_field "
                "(avatar)"
            ),
        }
    },
    "required": ["avatar"],
}
AVATAR_ENCODING = {"avatar": {"contentType": ", ".join(MEDIA_TYPES)}}


class Token(Answer):
    token: str
    # Keep it and send it back as `device_token` when signing in again: this client's
    # failures are then counted apart from its address (accounts.devices).
    device_token: str
    # Present (true) when this sign-in undid the account's cancellation in its cooling-off
    # (accounts.leaving.come_back).
    came_back: bool | None = None


class NotificationItem(Answer):
    id: int
    kind: str
    text: str  # in the caller's language (explicit Accept-Language, else the account's)
    message: str  # the same as text (kept for older clients)
    link: str | None
    created_at: str
    read: bool


class Notifications(Answer):
    items: list[NotificationItem]
    unread: int
    next_cursor: str | None


class ConsentGiven(Body):
    """Agreement to the current version of a document; `age_14` adds the statement "I am 14
    or older" (asked once, with the terms and privacy policy)."""

    document: Literal["terms", "privacy", "cross_border"]
    version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    age_14: bool = False


class ConsentItem(Answer):
    id: int
    # terms, privacy, cross_border, age_14, or a notice kind whose mail needs consent
    purpose: str
    version: int | None
    granted: bool
    source: str
    wording: str  # what the person was shown, in their language
    at: str


class ConsentVersions(Answer):
    terms: int  # 0: none published (nothing is asked until both are)
    privacy: int
    cross_border: int


class Consents(Answer):
    items: list[ConsentItem]  # newest first
    outstanding: list[str]  # what must be given before anything else (terms, privacy, age_14)
    current: ConsentVersions
    age_stated: bool


class LegalDocumentText(Answer):
    kind: Literal["terms", "privacy", "cross_border"]
    version: int
    title: str
    body: str
    published_at: str | None  # None: the built-in first cross-border notice
    current_version: int
