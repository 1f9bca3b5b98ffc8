"""Removals of an account's ways in sent at once, on PostgreSQL (each its own connection and
transaction): the account's row is locked before its ways are counted, so however many race,
one way in is always left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from accounts import sign_in_methods
from accounts.errors import LastSignInMethod, SignInMethodNotFound
from accounts.models import Identity, IdentityKind
from tests.factories import make_user

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def test_removing_every_way_in_at_once_leaves_exactly_one() -> None:
    user = await make_user()
    for kind, subject in (
        (IdentityKind.WECHAT, "union-race"),
        (IdentityKind.PHONE, "+8613800000000"),
    ):
        await Identity.create(user=user, kind=kind, subject=subject, label="", created_at=NOW)
    kinds = ["password", "wechat", "phone"] * 4
    results = await asyncio.gather(
        *(sign_in_methods.remove(user, kind, now=NOW) for kind in kinds), return_exceptions=True
    )
    refused = (LastSignInMethod, SignInMethodNotFound)  # the last one; one already removed
    assert all(r is None or isinstance(r, refused) for r in results), results
    assert sum(r is None for r in results) == 2
    assert len(await sign_in_methods.methods(user)) == 1
