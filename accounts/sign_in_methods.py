"""The ways into one account: email and password, WeChat, a phone number; listed, added, and
removed, never the last one.

"password" is a way in when the account has an email and a password; "wechat" and "phone" when
it has an Identity of that kind (accounts.models.Identity, made by accounts.wechat and
accounts.phones). Removing "password" clears the password and keeps the email: it stays the
account's address for mail (notices, receipts), and a password reset mailed to it can make it
a way in again. Each change is told to the owner in the inbox (notice kinds sign_in_added and
sign_in_removed), which needs no address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import notices, services, verification
from accounts.errors import EmailTaken, HasPassword, LastSignInMethod, SignInMethodNotFound
from accounts.models import Identity, IdentityKind, PhoneAddress, User
from errors import ValidationError
from translation import SUPPORTED_LOCALES

PASSWORD = "password"  # nosec B105  # the name of a way in
# What an account without a password stores in its place: no argon2 hash matches it.
NO_PASSWORD = ""  # nosec B105  # the absence of a password, not one
WECHAT = IdentityKind.WECHAT.value
PHONE = IdentityKind.PHONE.value
# The order they are listed in, on the account page and in GET /api/v1/me.
KINDS = (PASSWORD, WECHAT, PHONE)


@dataclass(frozen=True)
class Way:
    """One way in, as the account page lists it: its kind, what it shows (the email, the WeChat
    nickname, the number with its middle hidden) and, for an identity, its id."""

    kind: str
    label: str
    identity_id: int | None = None


def _has_password_way(user: User) -> bool:
    return user.email is not None and user.has_password


async def ways(user: User) -> list[Way]:
    """Every way into `user`'s account, in KINDS order (identities of a kind oldest first)."""
    found = [Way(PASSWORD, user.email or "")] if _has_password_way(user) else []
    identities = await Identity.filter(user_id=user.id).order_by("id")
    for kind in (WECHAT, PHONE):
        found += [Way(kind, i.label, i.id) for i in identities if i.kind == kind]
    return found


async def methods(user: User) -> list[str]:
    """The kinds of way into `user`'s account, each once, in the order ["password", "wechat",
    "phone"]."""
    kinds = {way.kind for way in await ways(user)}
    return [kind for kind in KINDS if kind in kinds]


def _what(way: Way) -> str:
    """How a notice names a way in: the address, or the identity's label after its kind."""
    if way.kind == PASSWORD:
        return way.label
    name = "WeChat" if way.kind == WECHAT else "Phone"
    return f"{name} {way.label}".strip()


async def create_account(
    kind: IdentityKind,
    subject: str,
    label: str,
    *,
    display_name: str,
    locale: str | None,
    now: datetime,
    with_identity: Callable[[Identity], Awaitable[object]] | None = None,
) -> User:
    """A new account without email or password that signs in with one identity (a WeChat
    person, a phone number), made in one transaction with `with_identity`'s rows. Two first
    sign-ins of one person racing end in one account: the loser of the unique (kind, subject)
    gets the winner's."""
    try:
        async with in_transaction():
            user = await User.create(
                email=None,
                display_name=display_name,
                password_hash=NO_PASSWORD,
                locale=locale if locale in SUPPORTED_LOCALES else None,
            )
            identity = await Identity.create(
                user_id=user.id,
                kind=kind,
                subject=subject,
                label=label[:60],
                created_at=now,
                last_used_at=now,
            )
            if with_identity is not None:
                await with_identity(identity)
    except IntegrityError:
        existing = await Identity.get_or_none(kind=kind, subject=subject)
        if existing is None:
            raise
        return await User.get(id=existing.user_id)
    return user


async def tell_added(user_id: int, kind: str, label: str, *, now: datetime) -> None:
    """Tell the owner in the inbox that a way in was added to their account (by anyone: a way
    in the owner did not add is one a thief would keep)."""
    await notices.notify(
        user_id,
        kind="sign_in_added",
        params={"what": _what(Way(kind=kind, label=label))},
        link=links.path("accounts.account_page"),
        now=now,
    )


async def made_with_identity(user: User) -> bool:
    """Whether the account was made by signing in with WeChat or a phone (its first way in,
    made in the same transaction), not registered with an email."""
    return await Identity.filter(
        user_id=user.id, created_at__lte=user.created_at + timedelta(seconds=5)
    ).exists()


async def remove_identities(user_id: int, *, now: datetime) -> None:
    """Remove every WeChat and phone way into the account, each told to the owner (a password
    reset that first proves the account's address: accounts.resets)."""
    identities = await Identity.filter(user_id=user_id)
    for identity in identities:
        await notices.notify(
            user_id,
            kind="sign_in_removed",
            params={"what": _what(Way(kind=identity.kind.value, label=identity.label))},
            link=links.path("accounts.account_page"),
            now=now,
        )
    await _delete_identities([identity.id for identity in identities])


async def _delete_identities(ids: list[int]) -> None:
    """Delete these identities, and with a number the addresses that signed in to it (exempt
    from its send limits): a number given up may be someone else's next year."""
    numbers = await Identity.filter(id__in=ids, kind=IdentityKind.PHONE).values_list(
        "subject", flat=True
    )
    if numbers:
        await PhoneAddress.filter(phone__in=numbers).delete()
    await Identity.filter(id__in=ids).delete()


async def remove(user: User, kind: str, identity_id: int | None = None, *, now: datetime) -> None:
    """Remove one way into the account: the password (the email stays, for mail), or the
    identity `identity_id` of `kind` (every identity of that kind when None). The owner is told
    in the inbox. Raises SignInMethodNotFound (no such way), LastSignInMethod (it would leave
    no way in)."""
    async with in_transaction():
        # Invariant "an account always keeps a way in": the account's row is locked (on
        # PostgreSQL; SQLite runs one writer at a time) before its ways are counted, so two
        # removals racing cannot each leave the other's as the last and both succeed.
        locked = await User.select_for_update().get(id=user.id)
        present = await ways(locked)
        if kind == PASSWORD:
            going = [way for way in present if way.kind == PASSWORD]
        else:
            going = [
                way
                for way in present
                if way.kind == kind and identity_id in (None, way.identity_id)
            ]
        if not going:
            raise SignInMethodNotFound()
        if len(going) >= len(present):
            raise LastSignInMethod()
        if kind == PASSWORD:
            await User.filter(id=user.id).update(password_hash=NO_PASSWORD)
            user.password_hash = NO_PASSWORD
        else:
            await _delete_identities([way.identity_id for way in going if way.identity_id])
        for way in going:
            await notices.notify(
                user.id,
                kind="sign_in_removed",
                params={"what": _what(way)},
                link=links.path("accounts.account_page"),
                now=now,
            )


async def add_email_and_password(user: User, email: str, password: str, *, now: datetime) -> User:
    """Give an account without a password (made with WeChat or a phone, or whose password was
    removed) an email and a password, so both sign it in; a link to verify the address is
    mailed (mail other than that waits for it) and the owner is told in the inbox.

    An account that kept its address (its password removed) must give that address again.
    Raises HasPassword, ValidationError (email, password), WeakPassword, EmailTaken (the
    address is another account's; the unique index decides a race)."""
    if user.has_password:
        raise HasPassword()
    normalized = services.validate_email(email)
    if user.email is not None and normalized != user.email:
        raise ValidationError("email", "must be the address this account already has")
    services.validate_password(
        password, user_inputs=[normalized, normalized.partition("@")[0], user.display_name]
    )
    if await User.filter(email=normalized).exclude(id=user.id).exists():
        raise EmailTaken()
    password_hash = await services.hash_password(password)
    try:
        async with in_transaction():
            # The guard in SQL: only an account still without a password gets one (two forms
            # sent at once set one, the other is told HasPassword).
            changed = await User.filter(id=user.id, password_hash=NO_PASSWORD).update(
                email=normalized, password_hash=password_hash
            )
            if not changed:
                raise HasPassword()
            user.email, user.password_hash = normalized, password_hash
            await verification.send_verification(user, now=now)
            await tell_added(user.id, PASSWORD, normalized, now=now)
    except IntegrityError:
        raise EmailTaken() from None
    return user
