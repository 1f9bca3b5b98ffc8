"""The console API's declared shapes: the audit log, staff roles, and people (the search, a
person's page, staff's notes and tags)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from crm import notes
from web.api import Answer, Body, Query, line, text
from web.paths import ID_PATTERN
from web.schemas import OptionalDay

# Each filter may be given empty (a form sends every field; "actor=" is "anyone").
OptionalId = Annotated[str, msgspec.Meta(pattern=f"^(?:{ID_PATTERN})?$")]
Day = OptionalDay


class AuditQuery(Query):
    """Filters of the audit log, every one optional: `actor` is the acting person's user id;
    `since` and `until` are days in Asia/Shanghai, both included; `cursor` is a page's
    `next_cursor`."""

    actor: OptionalId = ""
    action: Annotated[str, line(40)] = ""
    object_type: Annotated[str, line(30)] = ""
    object_id: Annotated[str, line(40)] = ""
    since: Day = ""
    until: Day = ""
    cursor: OptionalId = ""


class PeopleQuery(Query):
    """The person finder: an email's start, part of a display name, a mainland mobile number
    given for a delivery, a member card's number ("SY-000009", with or without "SY-") or an
    account number; `cursor` is a page's `next_cursor`. Empty finds nobody."""

    q: Annotated[str, line(100)] = ""
    cursor: OptionalId = ""


class AuditEntry(Answer):
    id: int
    actor_id: int | None  # None: the command line or the app itself
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: str


class AuditPage(Answer):
    items: list[AuditEntry]
    next_cursor: str | None


class StaffRoleChange(Body):
    role: Literal["owner", "admin", "support", "moderator"] | None


class StaffMember(Answer):
    user_id: int
    email: str | None  # None: an account made with WeChat or a phone number
    display_name: str
    role: str | None


class PersonFound(Answer):
    id: int
    email: str | None  # None: an account made with WeChat or a phone number
    display_name: str
    created_at: str
    member_until: str | None
    email_verified: bool
    staff_role: str | None


class PeopleFound(Answer):
    """A page of the people found, newest accounts first."""

    items: list[PersonFound]
    next_cursor: str | None


# A person's page (crm.person_page, written as it is): times are RFC 3339 UTC, days
# YYYY-MM-DD in Asia/Shanghai, money integer fen.
class PersonProfile(Answer):
    id: int
    email: str | None  # None: an account made with WeChat or a phone number
    display_name: str
    created_at: str
    locale: str | None
    staff_role: str | None
    member_until: str | None
    member_number: str | None
    email_verified: bool
    email_verified_at: str | None
    bio: str
    erase_after: str | None  # leaving (注销): erased then unless they sign in again
    erased_at: str | None


class PersonSession(Answer):
    created_at: str
    last_seen_at: str
    user_agent: str
    address: str


class PersonToken(Answer):
    id: int
    name: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class PersonLoginCode(Answer):
    created_at: str
    used_at: str | None
    expires_at: str


class PersonSignIn(Answer):
    methods: list[str]  # accounts.sign_in_methods: "password", "wechat", "phone", in this order
    email_verified: bool
    session_count: int
    sessions: list[PersonSession]
    tokens: list[PersonToken]
    login_codes: list[PersonLoginCode]


class PersonGrant(Answer):
    id: int
    source: str
    days: int
    previous_until: str | None
    new_until: str
    revoked_at: str | None
    granted_by_id: int | None
    granted_by_name: str | None
    enrollment_id: int | None
    created_at: str


class PersonEnrollment(Answer):
    id: int
    window_id: int
    window_name: str
    status: str
    amount_fen: int | None  # null for a caller who may not read payments
    created_at: str
    paid_at: str | None


class PersonRefund(Answer):
    id: int
    payment_id: int
    purpose: str
    subject_id: str
    amount_fen: int
    automatic: bool
    created_at: str


class PersonMembership(Answer):
    member_number: str | None
    member_since: str | None
    member_until: str | None
    grants: list[PersonGrant]
    enrollments: list[PersonEnrollment]
    refunds: list[PersonRefund] | None  # null: the caller may not read payments


class PersonOrderItem(Answer):
    product_id: int
    title: str
    quantity: int
    unit_price_fen: int


class PersonOrder(Answer):
    id: int
    status: str
    total_fen: int
    created_at: str
    paid_at: str | None
    payment_id: int | None
    refunded_fen: int
    items: list[PersonOrderItem]


class PersonPayment(Answer):
    id: int
    purpose: str
    subject_id: str
    amount_fen: int
    status: str
    method: str
    refunded_fen: int
    created_at: str
    succeeded_at: str | None


class PersonPost(Answer):
    id: int
    title: str
    category: str
    category_name: str
    created_at: str
    hidden: bool
    deleted: bool
    locked: bool
    reply_count: int


class PersonReport(Answer):
    id: int
    post_id: int
    post_title: str
    reporter_id: int
    reporter_name: str
    reason: str
    created_at: str
    resolved: bool


class PersonBan(Answer):
    until: str
    reason: str
    active: bool


class PersonBoard(Answer):
    posts: list[PersonPost]
    reports_made: list[PersonReport]
    reports_against: list[PersonReport]
    ban: PersonBan | None


class PersonNotice(Answer):
    id: int
    kind: str
    text: str | None  # null: an answer from customer service, for a caller who does not answer them
    link: str | None
    created_at: str
    read_at: str | None


class PersonMail(Answer):
    id: int
    subject: str
    state: str
    created_at: str
    sent_at: str | None


class PersonBroadcast(Answer):
    broadcast_id: int
    title: str
    broadcast_status: str
    state: str
    done_at: str | None
    clicked_at: str | None


class PersonConsent(Answer):
    id: int
    purpose: str
    granted: bool
    source: str
    wording: str
    at: str


class PersonActivityCount(Answer):
    kind: str
    count: int


class PersonActivity(Answer):
    since: str
    until: str
    kinds: list[PersonActivityCount]
    last_active_day: str | None


class PersonNoteShown(Answer):
    id: int
    body: str
    visibility: Literal["staff", "admins"]
    author_id: int | None
    author_name: str | None
    created_at: str


class PersonConversation(Answer):
    id: int
    status: Literal["waiting", "answered", "closed"]
    first_message_at: str
    last_message_at: str
    waiting_since: str | None
    first_response_at: str | None
    first_response_seconds: int | None  # from the first message to the first answer
    last_message: str  # the latest message's text, cut short
    last_from_staff: bool


class PersonPage(Answer):
    """Everything the back office knows of a person, each list the latest 50 or so, newest
    first; `orders` and `payments` (and membership's `refunds`) are null for a caller whose
    role may not read them; `notes` are those the caller may read; `conversations` (with
    customer service) are null for a caller who does not answer them."""

    profile: PersonProfile
    sign_in: PersonSignIn
    membership: PersonMembership
    orders: list[PersonOrder] | None
    payments: list[PersonPayment] | None
    board: PersonBoard
    notices: list[PersonNotice]
    mails: list[PersonMail]
    broadcasts: list[PersonBroadcast]
    consents: list[PersonConsent]
    activity: PersonActivity
    notes: list[PersonNoteShown]
    tags: list[str]
    conversations: list[PersonConversation] | None


class NewNote(Body):
    """A note on a person: `admins` (only admins may write it) keeps it from support and
    moderators."""

    body: Annotated[str, text(notes.MAX_NOTE, min_length=1)]
    visibility: Literal["staff", "admins"] = "staff"


class NoteVisibilityChange(Body):
    visibility: Literal["staff", "admins"]


class NoteWritten(Answer):
    id: int
    user_id: int
    body: str
    visibility: Literal["staff", "admins"]
    author_id: int | None
    created_at: str


Tag = Annotated[str, line(notes.MAX_TAG, min_length=1)]


class NewTag(Body):
    name: Tag


class TagField(Body):
    """The person page's tag forms (add, remove): the tag's name."""

    tag: Tag


class PersonTags(Answer):
    tags: list[str]
