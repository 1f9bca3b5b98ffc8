"""The membership API's declared shapes: windows, enrollments, payments for them, grants."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from membership import benefits, windows
from membership.models import EnrollmentStatus
from membership.windows import WindowState
from payments.models import PayMethod
from payments.schemas import (
    JsapiAction,
    PaymentAnswer,
    PaymentChoice,
    QrCodeAction,
    RedirectAction,
)
from web.api import Answer, Body, Id, Moment, Query, line, text, whole

__all__ = ["PaymentAnswer", "PaymentChoice"]

WindowName = Annotated[str, line(80, min_length=1)]
Price = Annotated[int, whole(1, windows.MAX_PRICE_FEN)]
Seats = Annotated[int, whole(1, windows.MAX_SEATS)]
TermDays = Annotated[int, whole(1, 3660)]


class Question(Body):
    question: Annotated[str, line(benefits.MAX_QUESTION_LENGTH, min_length=1)]
    answer: Annotated[str, text(benefits.MAX_ANSWER_LENGTH, min_length=1)]

    def checked(self) -> benefits.Question:
        return benefits.Question(self.question, self.answer)


Benefits = Annotated[
    list[Annotated[str, line(benefits.MAX_BENEFIT_LENGTH, min_length=1)]],
    msgspec.Meta(
        max_length=benefits.MAX_BENEFITS,
        description=f"what a member gets, one short line each (at most {benefits.MAX_BENEFITS} "
        f"lines of {benefits.MAX_BENEFIT_LENGTH} characters), in the order shown",
    ),
]
Faq = Annotated[
    list[Question],
    msgspec.Meta(
        max_length=benefits.MAX_QUESTIONS,
        description=f"questions and answers shown on the window's page (at most "
        f"{benefits.MAX_QUESTIONS}; a question of at most {benefits.MAX_QUESTION_LENGTH} "
        f"characters, an answer of at most {benefits.MAX_ANSWER_LENGTH}, newlines allowed)",
    ),
]


class NewWindow(Body):
    """A window sells seats from opens_at until closes_at. closes_at must be after opens_at and
    in the future (a schema cannot compare two times: else 422 invalid_field, naming
    closes_at); at most one window sells at any moment (else 409 window_overlap)."""

    name: WindowName
    price_fen: Price
    seats: Seats
    opens_at: Moment
    closes_at: Moment
    term_days: TermDays | None = None
    benefits: Benefits = msgspec.field(default_factory=list)
    faq: Faq = msgspec.field(default_factory=list)


class WindowChange(Body):
    """What to change; a field left out keeps its value. Before the window opens anything may
    change; once open, only closes_at, and only later (else 409 window_started); a closed
    window no more (409 closed). benefits and faq may change at any time, even once closed
    (a change of those alone is never 409). closes_at must stay after opens_at (a schema
    cannot compare two times: else 422 invalid_field, naming closes_at). close_now stops
    selling now."""

    name: WindowName | None = None
    price_fen: Price | None = None
    seats: Seats | None = None
    opens_at: Moment | None = None
    closes_at: Moment | None = None
    term_days: TermDays | None = None
    benefits: Benefits | None = None  # may change at any time, even once open or closed
    faq: Faq | None = None  # as benefits
    close_now: bool = False  # close the window now


class MembersQuery(Query):
    """The console's members list: part of an email or name; current members or everyone who
    has been one; `cursor`, the card number a page ends before."""

    q: Annotated[str, line(100)] = ""
    who: Literal["current", "all"] = "current"
    cursor: Id | None = None


class Grant(Body):
    user_id: Id
    days: Annotated[int, whole(1, 3660)]


class Window(Answer):
    id: int
    name: str
    price_fen: int
    seats: int
    opens_at: str
    closes_at: str
    term_days: int


class QuestionAnswer(Answer):
    question: str
    answer: str


class CurrentWindow(Window):
    seats_left: int
    state: WindowState
    benefits: list[str]
    faq: list[QuestionAnswer]


class EnrollmentAnswer(Answer):
    id: int
    window_id: int
    status: EnrollmentStatus
    amount_fen: int
    hold_expires_at: str
    payment_id: int | None
    payment_method: PayMethod | None  # of its latest payment
    next_action: QrCodeAction | RedirectAction | JsapiAction | None  # while a wallet waits


class EnrollmentCancelled(Answer):
    """A seat given back: the enrollment's id and its status now."""

    id: int
    status: EnrollmentStatus


class Position(Answer):
    position: int


class Membership(Answer):
    user_id: int
    member_until: str | None


class Reminder(Answer):
    waiting: bool  # false: the window is open already (nothing to wait for)
