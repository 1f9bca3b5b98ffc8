"""Small factories for test data: each makes one thing, the way the app would."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import httpx

from accounts import consents, legal_documents
from accounts import services as accounts
from accounts import sessions as account_sessions
from accounts.models import Consent, Identity, IdentityKind, User
from membership import windows
from membership.models import EnrollmentWindow
from payments.provider import PaymentProvider
from payments.services import PaymentChoice
from settings import Settings
from store.models import Order
from store.shipping import Address, check_address
from web.sessions import SESSION_COOKIE, new_key

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_user(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    name: str | None = None,
    admin: bool = False,
    role: str | None = None,
    cross_border: bool = True,
) -> User:
    """A registered person; `admin` makes them an admin, `role` gives any staff role. They
    agreed to the current cross-border notice (a card pays through Stripe, abroad) unless
    `cross_border` is False (the tests of that consent)."""
    number = next(_numbers)
    # Once a test published the terms and privacy policy, a sign-up agrees to them.
    versions = await legal_documents.current_versions(fresh=True)
    user = await accounts.register(
        email=email or f"reader{number}@example.cn",
        password=password,
        display_name=name or f"读者{number}",
        agreement=consents.SignUpAgreement(versions.terms, versions.privacy, age_14=True),
    )
    if cross_border:
        await consents.agree(
            user, "cross_border", versions.cross_border, source="test", now=datetime.now(UTC)
        )
    if admin or role:
        user.staff_role = role or "admin"
        user.admin_flag = user.staff_role in ("owner", "admin")
        await user.save(update_fields=["staff_role", "admin_flag"])
    return user


async def make_member(*, days: int = 365, **kwargs: object) -> User:
    """A person whose membership is valid for `days` more days."""
    user = await make_user(**kwargs)  # type: ignore[arg-type]
    user.member_until = datetime.now(UTC) + timedelta(days=days)
    await user.save(update_fields=["member_until"])
    return user


async def make_user_without_email(*, name: str | None = None) -> User:
    """An account made by signing in with a phone number: no email, no password, one phone
    Identity (as accounts.phones makes it)."""
    number = next(_numbers)
    digits = f"138{number:08d}"
    user = await User.create(email=None, display_name=name or f"书友{digits[-4:]}")
    await Identity.create(
        user=user,
        kind=IdentityKind.PHONE,
        subject=f"+86{digits}",
        label=f"{digits[:3]}****{digits[-4:]}",
        created_at=user.created_at,  # made with the account, as a first sign-in makes it
    )
    return user


async def make_member_without_email(*, days: int = 365, name: str | None = None) -> User:
    """make_user_without_email whose membership is valid for `days` more days."""
    user = await make_user_without_email(name=name)
    user.member_until = datetime.now(UTC) + timedelta(days=days)
    await user.save(update_fields=["member_until"])
    return user


async def session_cookie(user: User) -> tuple[str, str]:
    """A signed-in browser session for `user` (one without a password too), as the cookie's
    (name, value): what signing in with WeChat or a phone leaves in the browser."""
    key = new_key()
    await account_sessions.begin_with_key(
        key, user, now=datetime.now(UTC), user_agent="tests", address="127.0.0.1", data={}
    )
    return SESSION_COOKIE, key


async def token_for(user: User) -> str:
    return await accounts.issue_token(user, name="test")


async def agree_abroad(client: httpx.AsyncClient, token: str | None = None) -> None:
    """Agree to the current cross-border notice (before paying by card, through Stripe) as a
    client would: over the API with `token`, else with the signed-in browser's button on the
    consent page. For people made otherwise than by make_user (a sign-up form, the API, a
    phone or WeChat sign-in)."""
    if token is not None:
        current = (await client.get("/api/v1/legal/cross_border", headers=bearer(token))).json()
        agreed = await client.post(
            "/api/v1/me/consents",
            json={"document": "cross_border", "version": current["version"]},
            headers=bearer(token),
        )
    else:
        page = await client.get("/me/consent")
        agreed = await client.post(
            "/me/consent/optional",
            data={"csrf_token": csrf_from(page.text), "purpose": "cross_border", "answer": "yes"},
        )
    assert agreed.status_code in (201, 303), agreed.text


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, *, next_url: str = ""
) -> httpx.Response:
    """Sign in through the real login form, CSRF token and all (from ?next=next_url)."""
    page = await client.get("/account/login", params={"next": next_url} if next_url else None)
    data = {"email": email, "password": password, "csrf_token": csrf_from(page.text)}
    if next_url:
        data["next"] = next_url
    return await client.post("/account/login", data=data)


async def make_users(count: int, *, prefix: str = "crowd", cross_border: bool = True) -> list[User]:
    """Many accounts at once, sharing one real argon2 hash so setup stays quick; as make_user,
    they agreed to the current cross-border notice unless `cross_border` is False."""
    shared_hash = await accounts.hash_password(PASSWORD)
    start = next(_numbers)
    await User.bulk_create(
        [
            User(
                email=f"{prefix}{start}-{n}@example.cn",
                display_name=f"读者{start}-{n}",
                password_hash=shared_hash,
            )
            for n in range(count)
        ]
    )
    made = await User.filter(email__startswith=f"{prefix}{start}-").order_by("id")
    if cross_border:
        version = (await legal_documents.current_versions(fresh=True)).cross_border
        now = datetime.now(UTC)
        await Consent.bulk_create(
            [
                Consent(
                    user_id=user.id,
                    purpose="cross_border",
                    version=version,
                    granted=True,
                    source="test",
                    wording="",
                    at=now,
                )
                for user in made
            ]
        )
    return made


async def make_window(
    *,
    now: datetime,
    seats: int = 10,
    price_fen: int = 19_900,
    opens_in: timedelta = timedelta(0),
    lasts: timedelta = timedelta(days=3),
    name: str = "2027 年度会员",
) -> EnrollmentWindow:

    return await windows.create_window(
        name=name,
        price_fen=price_fen,
        seats=seats,
        opens_at=now + opens_in,
        closes_at=now + opens_in + lasts,
        now=now,
    )


async def card_payment_method(settings: Settings, number: str) -> str:
    """A PaymentMethod for a test card number, standing in for Stripe.js in the browser."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{settings.stripe_api_base}/v1/payment_methods",
            headers={"Authorization": f"Bearer {settings.stripe_secret_key}"},
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
                "card[cvc]": "123",
            },
        )
        response.raise_for_status()
        return str(response.json()["id"])


# A mainland address, as the API takes it (POST /api/v1/orders and /orders/{id}/payment).
SHIPPING = {
    "name": "张三",
    "phone": "13812345678",
    "province": "北京市",
    "city": "北京市",
    "district": "海淀区",
    "address": "中关村大街 1 号",
}


def address() -> Address:
    """SHIPPING, as the store's services take it."""
    return check_address(**SHIPPING)


async def paid_order(
    provider: PaymentProvider, settings: Settings, buyer: User, product_id: int, quantity: int = 1
) -> Order:
    """An order of `quantity` of a product, shipped to SHIPPING, held and paid through the
    real provider with the test card that succeeds."""
    from ratelimit import MemoryCounter
    from store import services as store

    order = await store.place_order(
        buyer=buyer,
        items=[store.Wanted(product_id=product_id, quantity=quantity)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    await store.pay_order(
        provider=provider,
        order_id=order.id,
        user=buyer,
        choice=PaymentChoice(
            payment_method=await card_payment_method(settings, "4242424242424242")
        ),
        now=datetime.now(UTC),
    )
    return await Order.get(id=order.id)
