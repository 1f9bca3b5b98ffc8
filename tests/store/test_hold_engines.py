"""The hold's two engines tell the same story.

store.holds holds an order two ways: "single" (the PL/pgSQL function store_hold, one round
trip, PostgreSQL only; what a drop runs on) and "portable" (store/sql/take_allowance.sql and
claim_units.sql in one transaction; SQLite, and any order of several products). PostgreSQL
is the reference. Each engine plays the same buying story here, through the one entry every
buyer takes (place_order, as a signed-in person and as an API token), and must give exactly
the answers written in STORY: limits, several tokens of one account, members only, the
members' head start, raffle winners, returns (cancel and expiry), refunds, a revoked token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette

from accounts import legal_documents
from accounts import services as accounts
from accounts.models import User
from errors import DomainError
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.memory import StoreMemory
from store.models import Allowance, Order, Product, StockUnit
from tests.factories import address, card_payment_method, make_member, make_user, token_for

# What the story must answer, line by line, on every engine.
STORY = [
    # Limits: two per customer, whichever way the customer comes.
    "limit: person buys -> held",
    "limit: first token buys -> held",
    "limit: second token of the same account buys -> limit_exceeded",
    "limit: person buys again -> limit_exceeded",
    "limit: a stranger buys 3 at once -> limit_exceeded",
    "limit: allowance -> 2",
    "limit: person cancels one -> cancelled",
    "limit: allowance -> 1",
    "limit: second token buys -> held",
    "limit: units left -> 3",
    # The last unit, and returns.
    "last: first buyer -> held",
    "last: second buyer -> sold_out",
    "last: second buyer's token -> sold_out",
    "last: first buyer cancels -> cancelled",
    "last: second buyer's token -> held",
    "last: its hold runs out -> cancelled",
    "last: first buyer -> held",
    # Members only.
    "members: a visitor's account -> members_only",
    "members: a visitor's token -> members_only",
    "members: a member -> held",
    "members: a member's token -> held",
    # The members' head start: members buy before the sale opens to everyone.
    "head start: a visitor's token -> not_started",
    "head start: a member's token -> held",
    "head start: the visitor once the sale opens -> held",
    # Raffle winners.
    "raffle: a loser -> not_a_winner",
    "raffle: the winner's token -> held",
    "raffle: the winner again -> limit_exceeded",
    # Refunds give the allowance (and, while the sale runs, the unit) back.
    "refund: buyer -> held",
    "refund: paid -> paid",
    "refund: buyer again -> limit_exceeded",
    "refund: refunded -> refunded",
    "refund: buyer again -> held",
    # Tokens that are not (or no longer) anyone's.
    "token: revoked -> session_ended",
    "token: never issued -> unauthorized",
    "token: of an account being cancelled -> account_leaving",
    # Consent (the gate's rule, in the token's own round trip too).
    "consent: the token of a person who has not agreed -> consent_required",
    "consent: the token of a person who has -> held",
]


class Story:
    def __init__(self, app: Starlette, settings: Settings, engine: str, now: datetime) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine
        self.now = now
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    async def buy(
        self,
        line: str,
        buyer: User | str,
        product: Product,
        quantity: int = 1,
        at: datetime | None = None,
    ) -> Order | None:
        try:
            order = await store.place_order(
                buyer=buyer,
                items=[store.Wanted(product_id=product.id, quantity=quantity)],
                now=at or self.now,
                counter=MemoryCounter(),  # the buy limit per account is not the story here
                memory=StoreMemory(),  # nor the sold-out memory: every answer is the engine's
                shipping=address(),
                engine=self.engine,
            )
        except DomainError as exc:
            self.say(f"{line} -> {exc.code}")
            return None
        self.say(f"{line} -> held")
        return order

    async def cancel(self, line: str, order: Order | None, user: User) -> None:
        assert order is not None
        cancelled = await store.cancel_order(
            provider=self.app.state.payments_provider,
            order_id=order.id,
            user=user,
            now=self.now,
            memory=StoreMemory(),
        )
        self.say(f"{line} -> {cancelled.status}")


async def product(title: str, **fields: object) -> Product:
    values: dict[str, object] = {
        "description": "",
        "category": "逼格工场",
        "price_fen": 9_900,
        "stock": 1,
    }
    values.update(fields)
    return await store.create_product(title=title, **values)  # type: ignore[arg-type]


async def units_left(item: Product) -> int:
    return await StockUnit.filter(product_id=item.id, order_id__isnull=True).count()


async def allowance(item: Product, user: User) -> int:
    row = await Allowance.get_or_none(product_id=item.id, user_id=user.id)
    return row.units if row is not None else 0


async def tell(story: Story) -> None:
    now = story.now
    engine = story.engine

    # Limits.
    person = await make_user()
    first_token, second_token = await token_for(person), await token_for(person)
    limited = await product(f"限购两件 {engine}", stock=5, per_customer_limit=2)
    kept = await story.buy("limit: person buys", person, limited)
    await story.buy("limit: first token buys", first_token, limited)
    await story.buy("limit: second token of the same account buys", second_token, limited)
    await story.buy("limit: person buys again", person, limited)
    await story.buy("limit: a stranger buys 3 at once", await make_user(), limited, 3)
    story.say(f"limit: allowance -> {await allowance(limited, person)}")
    await story.cancel("limit: person cancels one", kept, person)
    story.say(f"limit: allowance -> {await allowance(limited, person)}")
    await story.buy("limit: second token buys", second_token, limited)
    story.say(f"limit: units left -> {await units_left(limited)}")

    # The last unit, and returns.
    one = await product(f"最后一件 {engine}")
    first, second = await make_user(), await make_user()
    second_token = await token_for(second)
    held = await story.buy("last: first buyer", first, one)
    await story.buy("last: second buyer", second, one)
    await story.buy("last: second buyer's token", second_token, one)
    await story.cancel("last: first buyer cancels", held, first)
    taken = await story.buy("last: second buyer's token", second_token, one)
    assert taken is not None
    await store.release_expired_orders(
        provider=story.app.state.payments_provider, now=taken.hold_expires_at
    )
    story.say(f"last: its hold runs out -> {(await Order.get(id=taken.id)).status}")
    await story.buy("last: first buyer", first, one)

    # Members only.
    visitor, member = await make_user(), await make_member()
    for_members = await product(f"会员专享 {engine}", stock=2, members_only=True)
    await story.buy("members: a visitor's account", visitor, for_members)
    await story.buy("members: a visitor's token", await token_for(visitor), for_members)
    await story.buy("members: a member", member, for_members)
    await story.buy("members: a member's token", await token_for(member), for_members)

    # The members' head start.
    early = await product(
        f"会员先买 {engine}",
        stock=2,
        sale_starts_at=now + timedelta(minutes=10),
        member_head_start_minutes=30,
    )
    await story.buy("head start: a visitor's token", await token_for(visitor), early)
    await story.buy("head start: a member's token", await token_for(member), early)
    opened = now + timedelta(minutes=11)
    await story.buy("head start: the visitor once the sale opens", visitor, early, at=opened)

    # Raffle winners.
    raffle = await product(
        f"限量抽签 {engine}",
        stock=1,
        per_customer_limit=1,
        raffle_entries_until=now + timedelta(minutes=1),
        raffle_purchase_minutes=30,
    )
    hopefuls = [await make_user(), await make_user()]
    for hopeful in hopefuls:
        await store.enter_raffle(product_id=raffle.id, user=hopeful, now=now)
    draw = await store.draw_raffle(
        product_id=raffle.id, now=now + timedelta(minutes=1), seed="书院"
    )
    [winner] = [h for h in hopefuls if h.id in draw.winners]
    [loser] = [h for h in hopefuls if h.id not in draw.winners]
    buy_at = now + timedelta(minutes=2)
    await story.buy("raffle: a loser", loser, raffle, at=buy_at)
    await story.buy("raffle: the winner's token", await token_for(winner), raffle, at=buy_at)
    await story.buy("raffle: the winner again", winner, raffle, at=buy_at)

    # Refunds.
    buyer = await make_user()
    refundable = await product(f"可退款 {engine}", stock=1, per_customer_limit=1)
    order = await story.buy("refund: buyer", buyer, refundable)
    assert order is not None
    provider = story.app.state.payments_provider
    await store.pay_order(
        provider=provider,
        order_id=order.id,
        user=buyer,
        choice=PaymentChoice(
            payment_method=await card_payment_method(story.settings, "4242424242424242")
        ),
        now=now,
    )
    story.say(f"refund: paid -> {(await Order.get(id=order.id)).status}")
    await story.buy("refund: buyer again", buyer, refundable)
    refunded = await store.refund_order(provider=provider, order_id=order.id, now=now)
    story.say(f"refund: refunded -> {refunded.status}")
    await story.buy("refund: buyer again", buyer, refundable)

    # Tokens that are not anyone's.
    anyone = await product(f"人人可买 {engine}", stock=3)
    revoked = await token_for(await make_user())
    await accounts.revoke_token(revoked, now=now)
    await story.buy("token: revoked", revoked, anyone)
    await story.buy("token: never issued", "sy_" + "x" * 43, anyone)
    # A token a sign-in made in the instant a cancellation ended every other (accounts.leaving).
    leaving_token = await token_for(leaving := await make_user())
    await User.filter(id=leaving.id).update(erase_after=now + timedelta(days=15))
    await story.buy("token: of an account being cancelled", leaving_token, anyone)

    # The terms and privacy policy published after one person signed up (never agreed).
    unagreed = await token_for(await make_user())
    await legal_documents.publish("terms", "用户协议", "条款", by=None, now=now)
    await legal_documents.publish("privacy", "隐私政策", "隐私", by=None, now=now)
    await story.buy("consent: the token of a person who has not agreed", unagreed, anyone)
    agreed = await token_for(await make_user())
    await story.buy("consent: the token of a person who has", agreed, anyone)


# store_hold is PostgreSQL's; the SQLite run tells the story through the portable engine.
@pytest.mark.parametrize(
    "engine", [pytest.param("single", marks=pytest.mark.postgres_only), "portable"]
)
async def test_each_engine_tells_the_same_story(
    app: Starlette, settings: Settings, engine: str
) -> None:
    story = Story(app, settings, engine, datetime.now(UTC))
    await tell(story)
    assert story.lines == STORY
