"""Money is never lost: every order of the events that can meet a held order or seat.

A shopper holds the last unit (or seat) and starts paying with a card that wants 3-D Secure.
Then six things happen, in every one of their 720 orders (enumerated, not sampled), for a store
order and for an enrollment:

- succeeded: the shopper's bank approves (3-D Secure done, or a retry on the same intent), and
  the provider's webhook says so;
- failed: 3-D Secure fails, and the webhook says so;
- canceled: the provider cancels the intent, and the webhook says so;
- expiry: the hold runs out and the background job releases what it can;
- cancel: the shopper gives the order or seat back;
- reconciliation: the reconciler settles what was left.

After every release a rival shopper takes the freed unit or seat at once, so a success that
comes after a release can only be refunded. Whatever the order, at the end: money the bank took
is either delivered once (the order paid by that payment, the member made) or refunded in full,
never neither and never both, and the person was told; money not taken delivers nothing; units
and seats are held exactly by the order or enrollment that may have them.

Every story runs twice: through the Stripe adapter over localstripe (a 3-D Secure test card),
and through the tests' in-memory provider (tests/payments/memory_provider.py, its payer's bank
asking for 3-D Secure), the same payments.provider.PaymentProvider interface.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.models import Notification, User
from app import create_app
from composition import AppWiring
from errors import DomainError
from membership import services as membership
from membership.models import Enrollment, EnrollmentStatus, EnrollmentWindow, Seat
from payments import services as payments
from payments.models import OPEN_STATUSES, Payment, PaymentStatus, Refund, Settlement
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus, StockUnit
from tests.factories import address, card_payment_method, make_users, make_window
from tests.payments.memory_provider import MemoryProvider
from tests.payments.world import Bank, MemoryBank

pytestmark = pytest.mark.postgres_only

EVENTS = ("succeeded", "failed", "canceled", "expiry", "cancel", "reconciliation")
CARD_3DS = "4000002500003155"


@dataclass
class World:
    """What every story of one test shares: people, a card, and a client of localstripe."""

    settings: Settings
    http: httpx.AsyncClient
    client: httpx.AsyncClient
    buyer: User
    rival: User
    card_3ds: str
    memory: MemoryProvider | None = None  # the in-memory provider the app pays through, if so

    def bank(self, payment: Payment) -> Bank | MemoryBank:
        assert payment.provider_intent_id is not None
        if self.memory is not None:
            return MemoryBank(self.memory, self.client, payment.provider_intent_id)
        return Bank(self.settings, self.http, self.client, payment.provider_intent_id)


@dataclass
class Case:
    """One held thing being paid for, and the clock of its story."""

    subject_id: int
    payment_id: int
    bank: Bank | MemoryBank
    now: datetime
    released: bool = False


class OrderStory:
    """A store order for the last unit of a product."""

    purpose = "order"
    hold = timedelta(minutes=10)

    def __init__(self, provider: PaymentProvider, world: World) -> None:
        self.provider, self.world = provider, world
        self.buyer, self.rival = world.buyer, world.rival

    async def start(self, now: datetime) -> Case:
        self.product = await store.create_product(
            title="签名本", description="", category="书", price_fen=6_800, stock=1
        )
        order = await store.place_order(
            buyer=self.buyer,
            items=[store.Wanted(product_id=self.product.id, quantity=1)],
            now=now,
            counter=MemoryCounter(),
            shipping=address(),
        )
        result = await store.pay_order(
            provider=self.provider,
            order_id=order.id,
            user=self.buyer,
            choice=PaymentChoice(payment_method=self.world.card_3ds),
            now=now,
        )
        assert result.outcome == payments.Outcome.REQUIRES_ACTION
        assert result.payment.provider_intent_id is not None
        return Case(order.id, result.payment.id, self.world.bank(result.payment), now)

    async def expire(self, case: Case) -> None:
        await store.release_expired_orders(provider=self.provider, now=case.now)

    async def cancel(self, case: Case) -> None:
        await store.cancel_order(
            provider=self.provider, order_id=case.subject_id, user=self.buyer, now=case.now
        )

    async def rival_takes(self, case: Case) -> None:
        with contextlib.suppress(DomainError):  # nothing was released
            await store.place_order(
                buyer=self.rival,
                items=[store.Wanted(product_id=self.product.id, quantity=1)],
                now=case.now,
                counter=MemoryCounter(),
            )

    async def delivered_by(self, payment: Payment) -> bool:
        order = await Order.get(id=int(payment.subject_id))
        return order.status == OrderStatus.PAID and order.payment_id == payment.id

    async def check_holds(self, case: Case) -> None:
        order = await Order.get(id=case.subject_id)
        held = await StockUnit.filter(order_id=order.id).count()
        may_hold = order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID)
        assert held == (1 if may_hold else 0), (order.status, held)
        claimed = await StockUnit.filter(product_id=self.product.id, order_id__isnull=False)
        assert len(claimed) <= 1  # never oversold

    async def finish(self, case: Case) -> None:
        return None  # nothing remembered between cases: each order brings its own memory


class EnrollmentStory:
    """An enrollment for the last seat of a window."""

    purpose = "membership"
    hold = timedelta(minutes=15)

    def __init__(self, provider: PaymentProvider, world: World) -> None:
        self.provider, self.world = provider, world
        self.buyer, self.rival = world.buyer, world.rival

    async def start(self, now: datetime) -> Case:
        self.window = await make_window(now=now, seats=1)
        enrollment = await membership.enroll(window_id=self.window.id, user=self.buyer, now=now)
        result = await membership.pay_enrollment(
            provider=self.provider,
            enrollment_id=enrollment.id,
            user=self.buyer,
            choice=PaymentChoice(payment_method=self.world.card_3ds),
            now=now,
        )
        assert result.outcome == payments.Outcome.REQUIRES_ACTION
        assert result.payment.provider_intent_id is not None
        return Case(enrollment.id, result.payment.id, self.world.bank(result.payment), now)

    async def expire(self, case: Case) -> None:
        await membership.release_expired_holds(provider=self.provider, now=case.now)

    async def cancel(self, case: Case) -> None:
        await membership.cancel_enrollment(
            provider=self.provider, enrollment_id=case.subject_id, user=self.buyer, now=case.now
        )

    async def rival_takes(self, case: Case) -> None:
        with contextlib.suppress(DomainError):  # nothing was released
            await membership.enroll(window_id=self.window.id, user=self.rival, now=case.now)

    async def delivered_by(self, payment: Payment) -> bool:
        enrollment = await Enrollment.get(id=int(payment.subject_id))
        buyer = await User.get(id=self.buyer.id)
        return (
            enrollment.status == EnrollmentStatus.PAID
            and enrollment.payment_id == payment.id
            and buyer.member_until is not None
        )

    async def check_holds(self, case: Case) -> None:
        enrollment = await Enrollment.get(id=case.subject_id)
        held = await Seat.filter(enrollment_id=enrollment.id).count()
        may_hold = enrollment.status in (EnrollmentStatus.PENDING_PAYMENT, EnrollmentStatus.PAID)
        assert held == (1 if may_hold else 0), (enrollment.status, held)
        taken = await Seat.filter(window_id=self.window.id, enrollment_id__isnull=False).count()
        assert taken <= 1  # never more members than seats
        if enrollment.status != EnrollmentStatus.PAID:
            assert (await User.get(id=self.buyer.id)).member_until is None

    async def finish(self, case: Case) -> None:
        # The next story opens a window of its own: at most one window sells at a time.
        await EnrollmentWindow.filter(id=self.window.id).update(closed_at=self.window.opens_at)
        await User.filter(id__in=[self.buyer.id, self.rival.id]).update(member_until=None)


Story = OrderStory | EnrollmentStory


async def happen(event: str, story: Story, case: Case) -> None:
    if event == "succeeded":
        await case.bank.succeed()
    elif event == "failed":
        await case.bank.fail()
    elif event == "canceled":
        await case.bank.cancel()
    elif event == "expiry":
        case.now = max(case.now, case.now + story.hold + timedelta(minutes=1))
        await story.expire(case)
        await story.rival_takes(case)
    elif event == "cancel":
        try:
            await story.cancel(case)
        except DomainError as exc:  # already paid, already expired: said, nothing changed
            assert exc.status == 409, exc
        await story.rival_takes(case)
    elif event == "reconciliation":
        await payments.reconcile(story.provider, now=case.now)
    else:
        raise AssertionError(event)


async def check_money(story: Story, case: Case, order_of_events: tuple[str, ...]) -> None:
    payment = await Payment.get(id=case.payment_id)
    intent = await case.bank.intent()
    charged = intent["status"] == "succeeded"
    refunded_at_bank = await case.bank.amount_refunded()
    delivered = await story.delivered_by(payment)
    where = f"{story.purpose} after {' > '.join(order_of_events)}: {payment}, {payment.settlement}"
    # The numbers (stats): money counts on the day it arrived, refunds on the day they left,
    # each refund a row: what the bank gave back is what the rows say, in every order.
    refund_rows = await Refund.filter(payment_id=payment.id).values_list("amount_fen", flat=True)
    assert sum(refund_rows) == refunded_at_bank, where
    assert (payment.succeeded_at is not None) == charged, where
    if not charged:
        assert payment.status in (PaymentStatus.FAILED, *OPEN_STATUSES), where
        assert not delivered, where
        assert refunded_at_bank == 0, where
        return
    refunded = (
        payment.status == PaymentStatus.REFUNDED
        and payment.settlement == Settlement.REFUNDED
        and refunded_at_bank == payment.amount_fen
    )
    fulfilled = (
        payment.status == PaymentStatus.SUCCEEDED
        and payment.settlement == Settlement.FULFILLED
        and refunded_at_bank == 0
    )
    # Invariant: every succeeded payment ends fulfilled once or refunded, never neither, never
    # both; and a fulfilled payment is the one that delivered its thing.
    assert refunded != fulfilled, where
    assert delivered == fulfilled, where
    if refunded:
        told = await Notification.filter(
            user_id=story.buyer.id, kind__endswith="refunded_late", link__isnull=False
        ).count()
        assert told >= 1, where


async def run_story(story: Story, order_of_events: tuple[str, ...]) -> None:
    case = await story.start(datetime.now(UTC))
    for event in order_of_events:
        await happen(event, story, case)
    await check_money(story, case, order_of_events)
    await story.check_holds(case)
    await story.finish(case)


ORDERS = list(itertools.permutations(EVENTS))
assert len(ORDERS) == 720


@pytest.mark.parametrize("first", EVENTS)
@pytest.mark.parametrize("kind", ["order", "enrollment"])
@pytest.mark.parametrize("provider_kind", ["stripe", "memory"])
async def test_money_is_delivered_once_or_refunded_in_every_order_of_events(
    provider_kind: str,
    kind: str,
    first: str,
    provider: PaymentProvider,
    settings: Settings,
    client: httpx.AsyncClient,
    wired: AppWiring,
) -> None:
    """Through the Stripe adapter (over localstripe), and through the tests' in-memory
    provider (whose payer's bank asks for 3-D Secure): the same stories, the same rules."""
    buyer, rival = await make_users(2, prefix=f"story-{provider_kind}-{kind}-{first}")
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=settings.stripe_api_base))
        if provider_kind == "memory":
            memory = MemoryProvider("asks")
            provider = memory
            app = create_app(
                settings,
                manage_database=False,
                background_tasks=False,
                wired=wired,
                payments_provider=memory,
            )
            stack.push_async_callback(app.state.counter.aclose)
            stack.callback(app.state.pictures.close)
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://testserver"
                )
            )
            world = World(settings, http, client, buyer, rival, "pm_memory_3ds", memory)
        else:
            world = World(
                settings, http, client, buyer, rival, await card_payment_method(settings, CARD_3DS)
            )
        for order_of_events in ORDERS:
            if order_of_events[0] == first:
                story = (
                    OrderStory(provider, world)
                    if kind == "order"
                    else EnrollmentStory(provider, world)
                )
                await run_story(story, order_of_events)
