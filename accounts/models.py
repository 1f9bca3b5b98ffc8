"""Accounts' tables: people, their API tokens and their notifications inbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

import ipregion
from accounts.roles import role_may


class AvatarState(StrEnum):
    """Who sees a person's avatar (accounts.profiles.avatar_url)."""

    SHOWN = "shown"  # everyone (when there is one: avatar_version > 0)
    # A young account's new picture, waiting for a moderator (the review queue's "avatar"):
    # its owner sees it, everyone else the default, and its files' names cannot be guessed.
    WAITING = "waiting"
    REMOVED = "removed"  # a moderator rejected it: its files are gone; none until the next


class User(Model):
    id = fields.IntField(primary_key=True)
    # Stored lower-cased and stripped; unique so two registrations racing for one address
    # cannot both succeed. None: an account made by signing in with WeChat or a phone number,
    # which has no address until its owner adds one (accounts.sign_in_methods).
    email = fields.CharField(max_length=254, unique=True, null=True)
    display_name = fields.CharField(max_length=40)
    # argon2; "" for an account without a password (made with WeChat or a phone number):
    # no password matches it.
    password_hash = fields.CharField(max_length=200, default="")
    # The back office's role (accounts.roles.StaffRole: owner, admin, support, moderator), None
    # for everyone else; what each role may do is accounts.roles.CAPABILITIES.
    staff_role = fields.CharField(max_length=12, null=True)
    # The previous release's flag, still written in step with staff_role (owner or admin) while
    # hosts of that release may run beside this one; read by nothing here, dropped a release
    # later (expand, then contract).
    admin_flag = fields.BooleanField(default=False, source_field="is_admin")
    # Written only by membership/ (grant, renewal, refund); accounts merely shows it.
    member_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The language pages and mails speak to this person in (web.i18n.SUPPORTED_LOCALES), as
    # last chosen; None: not chosen yet (the browser's Accept-Language decides).
    locale = fields.CharField(max_length=10, null=True)
    # When the address was shown to be theirs (a link mailed to it was opened); mail other
    # than the verification and password reset themselves goes only to verified addresses.
    email_verified_at = fields.DatetimeField(null=True)
    bio = fields.CharField(max_length=280, default="")
    # 0: none; else the version of its files (never used twice: a new one is never hidden by
    # a cached old one), which avatar_state says who may see.
    avatar_version = fields.IntField(default=0)
    # db_default: the column is added to a table that already holds people (migration 0019).
    avatar_state = fields.CharEnumField(
        AvatarState, max_length=10, default=AvatarState.SHOWN, db_default=AvatarState.SHOWN
    )
    # IP属地 shown on their profile: the region of their latest post or reply that had one
    # (accounts.profiles.wrote_from), never an address. None: nothing placed yet.
    ip_region = fields.CharField(max_length=ipregion.MAX_LENGTH, null=True)
    # The versions of the terms and the privacy policy (LegalDocument) this person last agreed
    # to, kept beside the Consent rows that record each answer so that every request can tell
    # without a query whether the current versions are agreed (accounts.consents). 0: none.
    agreed_terms = fields.IntField(default=0, db_default=0)
    agreed_privacy = fields.IntField(default=0, db_default=0)
    # Leaving (注销, accounts.leaving): asked to be erased; until this moment signing in again
    # undoes it, after it the erasure job runs. None: not asked, or undone.
    erase_after = fields.DatetimeField(null=True)
    # Erased: every personal field is emptied and the row stays only so that the orders,
    # payments and posts pointing at it keep their shape ("已注销用户"). Never signs in again.
    erased_at = fields.DatetimeField(null=True)

    # Not a column: the unread notices counted when a browser's session loaded this account
    # (accounts.sessions.load), read by accounts.services.unread_count; None: ask the database.
    unread_at_load: int | None = None
    # Not a column: the scalars the packages above asked to come with that session read
    # (accounts.sessions.SessionScalars), by name; None: not loaded by a session.
    read_with_session: dict[str, Any] | None = None

    class Meta:
        table = "accounts_user"
        # The numbers (stats): accounts made per day, memberships ending per month. Indexes of
        # the table, not of the fields: adding a field's index remakes the table on SQLite,
        # which the rows of other tables pointing at it refuse.
        indexes = (("created_at",), ("member_until",))

    def __str__(self) -> str:
        return self.email or f"{self.display_name} (#{self.id})"

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def is_closed(self, now: datetime) -> bool:
        """Nobody signs in to it any more: erased, or its cooling-off after leaving is over
        (accounts.leaving)."""
        return self.erased_at is not None or (
            self.erase_after is not None and self.erase_after <= now
        )

    def may(self, capability: str) -> bool:
        """Whether this person's staff role grants `capability` (accounts.roles.Capability)."""
        return role_may(self.staff_role, capability)

    @property
    def is_staff(self) -> bool:
        return self.staff_role is not None

    @property
    def is_admin(self) -> bool:
        """An owner or an admin: everything in the back office (owners also manage roles)."""
        return self.staff_role in ("owner", "admin")


class AuditEntry(Model):
    """One staff action (accounts.audit): who, what, on which object, the object's fields
    before and after, when. Written in the same transaction as the action itself."""

    id = fields.IntField(primary_key=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )  # None: the command line or the app itself
    action = fields.CharField(max_length=40)  # "product.update", "member.grant"...
    object_type = fields.CharField(max_length=30)
    object_id = fields.CharField(max_length=40, null=True)
    before: Any = fields.JSONField(null=True)
    after: Any = fields.JSONField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "accounts_audit"
        indexes = (("actor_id", "id"), ("action", "id"), ("object_type", "object_id", "id"))


class Session(Model):
    """A browser's session (accounts.sessions): the cookie holds a random key, this row only
    its SHA-256. A visitor's session (no user) exists only to carry a flash message."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="sessions", on_delete=fields.CASCADE, null=True
    )
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    user_agent = fields.CharField(max_length=200, default="")
    address = fields.CharField(max_length=64, default="")  # masked: 203.0.113.x
    privileges = fields.CharField(max_length=40, default="")  # the rights it began with
    data: dict[str, Any] = fields.JSONField(default=dict)  # flash messages

    class Meta:
        table = "accounts_session"
        indexes = (("user_id", "last_seen_at"),)


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    # sha256 of the bearer token; the token itself is shown once and never stored.
    token_hash = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=80, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts_api_token"


class Notification(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="notifications", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=40)
    # What happened, as the parameters of its kind's sentence (accounts.notices), rendered in
    # the reader's language when shown. `message` is the text of rows written before kinds had
    # sentences (kept as they were) and the Chinese text of new ones, for older readers.
    params: Any = fields.JSONField(null=True)
    message = fields.CharField(max_length=500)
    link = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts_notification"
        indexes = (("user_id", "read_at"),)


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a delivery run; never claimed again (never sent twice)
    SENT = "sent"
    FAILED = "failed"  # every attempt failed: an admin looks
    UNKNOWN = "unknown"  # a run died while sending: maybe sent, so never sent again


class OutboxMessage(Model):
    """Something to send to the outside world later (a mail first), written in the same
    transaction as the change that causes it and delivered by a job (accounts.outbox)."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=20)
    recipient = fields.CharField(max_length=320)
    subject = fields.CharField(max_length=200)
    text = fields.TextField()
    html = fields.TextField(null=True)
    headers: Any = fields.JSONField(null=True)  # extra mail headers (List-Unsubscribe...)
    # The random left part of the mail's Message-ID (<token@sending domain>), chosen when it
    # is written: the same on every attempt, never a row number (which would repeat in a
    # rebuilt database). NULL for rows written before it: one is chosen when they are sent.
    message_token = fields.CharField(max_length=40, null=True)
    # One message per key ("receipt:order:12"): a change retried enqueues nothing more.
    dedupe_key = fields.CharField(max_length=120, unique=True)
    state = fields.CharEnumField(OutboxState, max_length=10, default=OutboxState.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    claimed_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "accounts_outbox"
        # (recipient, id): the mails sent to one address, newest first (a person's page in
        # the back office).
        indexes = (("state", "next_attempt_at"), ("recipient", "id"))


class PasswordReset(Model):
    """A forgotten password's link, single use and expiring (only its digest is kept)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="password_resets", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "accounts_password_reset"


class NoticeChannel(StrEnum):
    INBOX = "inbox"  # in the inbox only
    INBOX_AND_MAIL = "inbox_mail"  # in the inbox and by mail (to a verified address)
    NOTHING = "nothing"


class NoticeChoice(Model):
    """How one person wants to be told of one kind of notice (no row: the kind's default)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="notice_choices", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=40)
    channel = fields.CharEnumField(NoticeChannel, max_length=12)

    class Meta:
        table = "accounts_notice_choice"
        unique_together = (("user", "kind"),)


class LoginCode(Model):
    """A one-time sign-in code mailed to the account: it lets a browser that the throttle on
    its address would refuse try the password anyway (accounts.devices). Only its digest is
    kept; it works once, for a few minutes."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="login_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64)
    # "sign_in" (accounts.devices) or "link" (accounts.link_codes: proves the mailbox to link
    # WeChat): a wrong link code spends the tries of the account's link codes only.
    # db_default: the column is added to tables that already hold codes (migration 0015).
    purpose = fields.CharField(max_length=10, default="sign_in", db_default="sign_in")
    tries = fields.IntField(default=0)  # sign-in attempts that presented it
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "accounts_login_code"
        indexes = (("user_id", "code_hash"),)


class MailRequest(Model):
    """A mail asked for by someone who is not signed in (a reset link, a sign-in code), kept
    until a job looks the address up: the request itself writes this row whether or not an
    account has the address, so its answer takes the same time either way."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=20)  # "reset" or "login_code"
    email = fields.CharField(max_length=320)
    locale = fields.CharField(max_length=10)
    created_at = fields.DatetimeField()

    class Meta:
        table = "accounts_mail_request"


class Activity(Model):
    """How many times one person did one kind of thing on one Asia/Shanghai day: "feed.view",
    "feed.play", "feed.lookup", "store.view" (accounts.activity). Counted in memory and written
    in batches; the dashboard's active members are read from it."""

    id = fields.IntField(primary_key=True)
    user_id = fields.IntField()
    day = fields.DateField()
    kind = fields.CharField(max_length=20)
    count = fields.IntField(default=0)

    class Meta:
        table = "accounts_activity"
        unique_together = (("user_id", "day", "kind"),)
        # A day's active people (stats); who ever read the feed (crm's segments).
        indexes = (("day", "user_id"), ("kind", "user_id"))


class Consent(Model):
    """A person's yes or no to something the law wants asked first (mail with commercial
    messages: China's Advertising Law, art. 43), as given: when, where, and the words shown.
    Never updated: the latest row for a purpose is the person's current answer."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="consents", on_delete=fields.CASCADE
    )
    # The notice kind it is for ("broadcast"), a document agreed to ("terms", "privacy",
    # "cross_border": accounts.legal_documents.Document), or the statement "age_14" (14 or older).
    purpose = fields.CharField(max_length=40)
    # The LegalDocument version agreed to; None for everything else.
    version = fields.IntField(null=True)
    granted = fields.BooleanField()
    source = fields.CharField(max_length=20)  # "notices_page", "unsubscribe_link", "api"
    wording = fields.CharField(max_length=500)  # what the person was shown, in their language
    at = fields.DatetimeField()

    class Meta:
        table = "accounts_consent"
        indexes = (("user_id", "purpose", "id"),)


class LegalDocument(Model):
    """One published version of the terms, the privacy policy or the cross-border notice
    (accounts.consents): never edited once published; a change is the next version, which
    everyone is asked to agree to again."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=20)  # "terms", "privacy", "cross_border"
    version = fields.IntField()
    title = fields.CharField(max_length=120)
    body = fields.TextField()
    published_at = fields.DatetimeField()
    published_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="legal_documents", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "accounts_legal_document"
        unique_together = (("kind", "version"),)


class IdentityKind(StrEnum):
    WECHAT = "wechat"
    PHONE = "phone"


class Identity(Model):
    """A way into an account other than its email and password (accounts.sign_in_methods):
    a WeChat person or a mainland mobile number. One subject is one account (unique), so two
    sign-ins racing to create accounts for one person end with one.

    A WeChat person's subject is their unionid when WeChat gives one (the same person in the
    official account and the website app, both bound to one Open Platform account), else
    "openid:<appid>:<openid>". A phone's subject is the number as +86 and 11 digits."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="identities", on_delete=fields.CASCADE
    )
    user_id: int  # the foreign key's column, as Tortoise sets it (typed for mypy)
    kind = fields.CharEnumField(IdentityKind, max_length=10)
    subject = fields.CharField(max_length=120)
    # What the account page shows of it: the WeChat nickname, the number with its middle
    # hidden (138****0000).
    label = fields.CharField(max_length=60, default="")
    created_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts_identity"
        unique_together = (("kind", "subject"),)
        indexes = (("user_id", "kind"),)


class WechatOpenid(Model):
    """One app's openid of a WeChat identity: the official account's is what paying inside
    WeChat (JSAPI) needs; the website app's is kept so a person without a unionid is found
    again."""

    id = fields.IntField(primary_key=True)
    identity: fields.ForeignKeyRelation[Identity] = fields.ForeignKeyField(
        "accounts.Identity", related_name="openids", on_delete=fields.CASCADE
    )
    user_id = fields.IntField()  # the identity's account, for the payment's one lookup
    app_id = fields.CharField(max_length=40)
    openid = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "accounts_wechat_openid"
        unique_together = (("app_id", "openid"),)
        indexes = (("user_id", "app_id"),)


class PhoneCode(Model):
    """A 6-digit code sent by SMS to a mainland mobile number (accounts.phones): only its
    digest is kept; it works once, for five minutes, and for a few tries."""

    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=16)  # +86 and 11 digits
    code_hash = fields.CharField(max_length=64)
    # Who asked for it: the SHA-256 of their address (only whether two requests came from one
    # place is ever asked).
    address_hash = fields.CharField(max_length=64)
    tries = fields.IntField(default=0)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "accounts_phone_code"
        indexes = (("phone", "id"),)


class PhoneAddress(Model):
    """An address that signed in to a number before: its code requests are not held to the
    per-(number, address) limit that stops strangers spending the owner's sends."""

    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=16)
    address_hash = fields.CharField(max_length=64)  # SHA-256 of the address
    last_at = fields.DatetimeField()

    class Meta:
        table = "accounts_phone_address"
        unique_together = (("phone", "address_hash"),)


class SmsDay(Model):
    """Text messages sent on one Asia/Shanghai day, against the daily budget (accounts.phones):
    one row a day, counted with one conditional UPDATE so every worker on every host shares it."""

    id = fields.IntField(primary_key=True)
    day = fields.DateField(unique=True)
    sent = fields.IntField(default=0)
    refused = fields.IntField(default=0)  # asked for past the budget
    alerted_at = fields.DatetimeField(null=True)  # the staff were told the budget ran out

    class Meta:
        table = "accounts_sms_day"


class WechatCredential(Model):
    """The official account's access token and JS-SDK ticket (accounts.wechat_jssdk). WeChat
    keeps one of each per AppID and a new fetch makes the previous one invalid, so they live
    here, one row per AppID: one job refreshes them for every host, and pages only read."""

    id = fields.IntField(primary_key=True)
    app_id = fields.CharField(max_length=40, unique=True)
    # WeChat asks for 512 characters of room; "" until first fetched.
    access_token = fields.CharField(max_length=1000, default="")
    access_token_expires_at = fields.DatetimeField(null=True)
    jsapi_ticket = fields.CharField(max_length=1000, default="")
    jsapi_ticket_expires_at = fields.DatetimeField(null=True)
    refreshed_at = fields.DatetimeField(null=True)  # when either was last fetched
    # When a refresh began: no other host begins one for a while after (fetching twice at once
    # would leave the row holding whichever token WeChat invalidated).
    refresh_claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts_wechat_credential"
