"""The member who did everything is made, every kind of thing at least once."""

from __future__ import annotations

from payments.provider import PaymentProvider
from settings import Settings
from tests.privacy.everything import member_who_did_everything


async def test_the_member_who_did_everything_has_done_every_kind_of_thing(
    settings: Settings, provider: PaymentProvider
) -> None:
    made = await member_who_did_everything(settings, provider)
    assert made.user.bio and made.user.email == made.email
    for kind in ("identity", "enrollment", "order", "invoice", "post", "reply", "conversation",
                 "report", "note", "share_link", "ledger", "payout"):  # fmt: skip
        assert made.ids.get(kind), kind
