"""The seat hold's two engines tell the same story.

membership.seats holds a seat two ways: "single" (the PL/pgSQL function membership_hold_seat,
one round trip that also finds a token's owner; PostgreSQL only, what a rush runs on) and
"portable" (claim_seat.sql in a transaction, the rules in Python; SQLite). PostgreSQL is the
reference. Each engine plays the same enrollment story here, through the one entry every
person takes (services.enroll, signed in and as an API token), and must give exactly the
answers written in STORY: one seat per person, members and renewals, the last seat, the
waitlist's offered seat, expiry, tokens that are nobody's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette

from accounts import legal_documents
from accounts import services as accounts
from accounts.models import User
from errors import DomainError
from membership import services, windows
from membership.memory import SeatMemory
from membership.models import Enrollment, EnrollmentWindow, Seat, WaitlistEntry
from tests.factories import make_member, make_user, token_for

STORY = [
    "one each: a person -> held",
    "one each: the person again -> already_enrolled",
    "one each: the person's token -> already_enrolled",
    "members: a member -> already_member",
    "members: a member's token -> already_member",
    "members: a member whose renewal is due, by token -> held",
    "last seat: a stranger's token -> held",
    "last seat: another stranger -> sold_out",
    "waitlist: the other stranger's place -> 1",
    "waitlist: the first person gives their seat back -> cancelled",
    "waitlist: someone not offered it, by token -> sold_out",
    "waitlist: the one offered it, by token -> held",
    "waitlist: their place -> gone",
    "expiry: holds run out -> 3",
    "expiry: someone not offered it, by token -> held",
    "seats: held -> 1 of 3",
    "token: revoked -> session_ended",
    "token: never issued -> unauthorized",
    "no window: a token never issued -> unauthorized",
    "no window: a person -> window_not_found",
    "consent: the token of a person who has not agreed -> consent_required",
    "consent: the token of a person who has -> held",
]


class Story:
    def __init__(self, app: Starlette, engine: str, now: datetime) -> None:
        self.app = app
        self.engine = engine
        self.now = now
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    async def enroll(
        self, line: str, who: User | str, window_id: int, at: datetime | None = None
    ) -> Enrollment | None:
        try:
            enrollment = await services.enroll(
                window_id=window_id,
                user=who,
                now=at or self.now,
                memory=SeatMemory(),  # not the full memory: every answer is the engine's
                engine=self.engine,
            )
        except DomainError as exc:
            self.say(f"{line} -> {exc.code}")
            return None
        self.say(f"{line} -> held")
        return enrollment


async def tell(story: Story) -> None:
    now = story.now
    window = await windows.create_window(
        name=f"年度会员 {story.engine}",
        price_fen=19_900,
        seats=3,
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(days=1),
        now=now - timedelta(minutes=2),
    )
    w = window.id

    person = await make_user()
    first = await story.enroll("one each: a person", person, w)
    await story.enroll("one each: the person again", person, w)
    await story.enroll("one each: the person's token", await token_for(person), w)

    member = await make_member(days=200)
    await story.enroll("members: a member", member, w)
    await story.enroll("members: a member's token", await token_for(member), w)
    renewing = await make_member(days=10)
    await story.enroll(
        "members: a member whose renewal is due, by token", await token_for(renewing), w
    )

    stranger, other = await make_user(), await make_user()
    await story.enroll("last seat: a stranger's token", await token_for(stranger), w)
    await story.enroll("last seat: another stranger", other, w)
    place = await services.join_waitlist(window_id=w, user=other, now=now)
    story.say(f"waitlist: the other stranger's place -> {place}")
    assert first is not None
    cancelled = await services.cancel_enrollment(
        provider=story.app.state.payments_provider, enrollment_id=first.id, user=person, now=now
    )
    story.say(f"waitlist: the first person gives their seat back -> {cancelled.status.value}")
    late = await make_user()
    late_token = await token_for(late)
    await story.enroll("waitlist: someone not offered it, by token", late_token, w)
    await story.enroll("waitlist: the one offered it, by token", await token_for(other), w)
    waiting = await WaitlistEntry.filter(window_id=w, user_id=other.id).exists()
    story.say(f"waitlist: their place -> {'still there' if waiting else 'gone'}")

    later = now + timedelta(hours=1)
    released = await services.release_expired_holds(provider=None, now=later, window_id=w)
    story.say(f"expiry: holds run out -> {released}")
    await story.enroll("expiry: someone not offered it, by token", late_token, w, at=later)
    taken = await Seat.filter(window_id=w, enrollment_id__isnull=False).count()
    story.say(f"seats: held -> {taken} of {(await EnrollmentWindow.get(id=w)).seats}")

    revoked = await token_for(await make_user())
    await accounts.revoke_token(revoked, now=now)
    await story.enroll("token: revoked", revoked, w)
    await story.enroll("token: never issued", "sy_" + "x" * 43, w)
    await story.enroll("no window: a token never issued", "sy_" + "y" * 43, w + 1000)
    await story.enroll("no window: a person", person, w + 1000)

    # The terms and privacy policy published after one person signed up (never agreed).
    unagreed = await token_for(await make_user())
    await legal_documents.publish("terms", "用户协议", "条款", by=None, now=now)
    await legal_documents.publish("privacy", "隐私政策", "隐私", by=None, now=now)
    await story.enroll("consent: the token of a person who has not agreed", unagreed, w, at=later)
    await story.enroll(
        "consent: the token of a person who has", await token_for(await make_user()), w, at=later
    )


# membership_hold_seat is PostgreSQL's; the SQLite run tells the story through the portable
# engine.
@pytest.mark.parametrize(
    "engine", [pytest.param("single", marks=pytest.mark.postgres_only), "portable"]
)
async def test_each_engine_tells_the_same_story(app: Starlette, engine: str) -> None:
    story = Story(app, engine, datetime.now(UTC))
    await tell(story)
    assert story.lines == STORY
