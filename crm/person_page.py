"""The shape of a person's page in the back office (crm.people.person_page): plain values,
which the console's page renders and its API writes as JSON (console.schemas says the same
shape for the contract)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Profile:
    id: int
    email: str | None  # None: an account made with WeChat or a phone number
    display_name: str
    created_at: datetime
    locale: str | None  # None: never chosen (the browser decides)
    staff_role: str | None
    member_until: datetime | None
    member_number: str | None  # "SY-000009": their card, once they have been a member
    email_verified: bool
    email_verified_at: datetime | None
    bio: str
    # Leaving (注销, accounts.leaving): when it is erased (None: not asked, or undone), and
    # when it was.
    erase_after: datetime | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class SessionRow:
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    address: str  # masked when stored: 203.0.113.x


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class LoginCodeRow:
    """A one-time sign-in code mailed to them (accounts.devices)."""

    created_at: datetime
    used_at: datetime | None
    expires_at: datetime


@dataclass(frozen=True)
class SignIn:
    methods: list[str]  # accounts.sign_in_methods.methods: "password", "wechat", "phone"
    email_verified: bool
    session_count: int
    sessions: list[SessionRow]  # the most recently seen first
    tokens: list[TokenRow]
    login_codes: list[LoginCodeRow]


@dataclass(frozen=True)
class GrantRow:
    id: int
    source: str  # membership.models.GrantSource
    days: int
    previous_until: datetime | None
    new_until: datetime
    revoked_at: datetime | None
    granted_by_id: int | None
    granted_by_name: str | None
    enrollment_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class EnrollmentRow:
    id: int
    window_id: int
    window_name: str
    status: str  # membership.models.EnrollmentStatus
    amount_fen: int | None  # None for a reader who may not read payments (moderators)
    created_at: datetime
    paid_at: datetime | None


@dataclass(frozen=True)
class RefundRow:
    id: int
    payment_id: int
    purpose: str  # what the payment was for: "membership", "order"
    subject_id: str
    amount_fen: int
    automatic: bool  # given back by the app (the thing could not be delivered)
    created_at: datetime


@dataclass(frozen=True)
class MembershipSection:
    member_number: str | None
    member_since: datetime | None
    member_until: datetime | None
    grants: list[GrantRow]
    enrollments: list[EnrollmentRow]
    refunds: list[RefundRow] | None  # None: the reader may not read payments


@dataclass(frozen=True)
class OrderItemRow:
    product_id: int
    title: str
    quantity: int
    unit_price_fen: int


@dataclass(frozen=True)
class OrderRow:
    id: int
    status: str  # store.models.OrderStatus
    total_fen: int
    created_at: datetime
    paid_at: datetime | None
    payment_id: int | None
    refunded_fen: int
    items: list[OrderItemRow]


@dataclass(frozen=True)
class PaymentRow:
    id: int
    purpose: str
    subject_id: str
    amount_fen: int
    status: str  # payments.models.PaymentStatus
    method: str  # payments.models.PayMethod
    refunded_fen: int
    created_at: datetime
    succeeded_at: datetime | None


@dataclass(frozen=True)
class PostRow:
    id: int
    title: str
    category: str
    category_name: str
    created_at: datetime
    hidden: bool
    deleted: bool
    locked: bool
    reply_count: int


@dataclass(frozen=True)
class ReportRow:
    id: int
    post_id: int
    post_title: str
    reporter_id: int
    reporter_name: str
    reason: str
    created_at: datetime
    resolved: bool


@dataclass(frozen=True)
class BanRow:
    until: datetime
    reason: str
    active: bool  # not yet over


@dataclass(frozen=True)
class BoardSection:
    posts: list[PostRow]
    reports_made: list[ReportRow]
    reports_against: list[ReportRow]  # reports of their posts, by others
    ban: BanRow | None


@dataclass(frozen=True)
class NoticeRow:
    id: int
    kind: str
    text: str | None  # in the reader's language; None: not the reader's to see (crm.people)
    link: str | None
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class MailRow:
    id: int
    subject: str
    state: str  # accounts.models.OutboxState
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class BroadcastRow:
    broadcast_id: int
    title: str
    broadcast_status: str  # crm.models.BroadcastStatus
    state: str  # crm.models.RecipientState: theirs
    done_at: datetime | None
    clicked_at: datetime | None


@dataclass(frozen=True)
class ConsentRow:
    id: int
    purpose: str
    granted: bool
    source: str
    wording: str
    at: datetime


@dataclass(frozen=True)
class ActivityCount:
    kind: str  # accounts.activity's kinds: "feed.view"...
    count: int


@dataclass(frozen=True)
class ActivitySummary:
    since: date  # Asia/Shanghai days, both included
    until: date
    kinds: list[ActivityCount]
    last_active_day: date | None


@dataclass(frozen=True)
class NoteRow:
    id: int
    body: str
    visibility: str  # crm.models.NoteVisibility
    author_id: int | None
    author_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class ConversationRow:
    """A conversation with customer service (support.models.Conversation)."""

    id: int
    status: str  # support.models.ConversationStatus
    first_message_at: datetime
    last_message_at: datetime
    waiting_since: datetime | None
    first_response_at: datetime | None
    first_response_seconds: int | None  # support.queue.first_response; None: not answered yet
    last_message: str  # the latest message's text, cut short
    last_from_staff: bool


@dataclass(frozen=True)
class PersonPage:
    profile: Profile
    sign_in: SignIn
    membership: MembershipSection
    orders: list[OrderRow] | None  # None: the reader may not read orders
    payments: list[PaymentRow] | None  # None: the reader may not read payments
    board: BoardSection
    notices: list[NoticeRow]
    mails: list[MailRow]
    broadcasts: list[BroadcastRow]
    consents: list[ConsentRow]
    activity: ActivitySummary
    notes: list[NoteRow]  # those the reader may read
    tags: list[str]
    # None: the reader does not answer conversations (moderators)
    conversations: list[ConversationRow] | None
