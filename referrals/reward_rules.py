"""The reward rules admins set: per product and per enrollment window, one active at a time."""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from errors import ValidationError
from membership.models import EnrollmentWindow
from referrals.errors import RuleChanged, RuleNotFound
from referrals.models import RewardKind, RewardRule, RuleAppliesTo
from store.models import Product
from translation import N_

# The most a fixed reward may be: the most a product or a window may cost (a reward is never
# more than what was paid anyway).
MAX_REWARD_FEN = 10_000_000
_TOP = {RewardKind.PERCENT: 100, RewardKind.AMOUNT: MAX_REWARD_FEN}
_THINGS = {RuleAppliesTo.PRODUCT: Product, RuleAppliesTo.WINDOW: EnrollmentWindow}
_NAMES_NOTHING = {
    RuleAppliesTo.PRODUCT: N_("names no product"),
    RuleAppliesTo.WINDOW: N_("names no enrollment window"),
}
_AUDITED = ("applies_kind", "applies_id", "kind", "value", "members_only")


def _choice(field: str, value: str, kinds: type[RuleAppliesTo] | type[RewardKind]) -> str:
    if value not in {kind.value for kind in kinds}:
        raise ValidationError(field, "is not one of the allowed values")
    return value


async def _checked(
    applies_kind: str, applies_id: int, kind: str, value: int
) -> tuple[RuleAppliesTo, RewardKind]:
    applies = RuleAppliesTo(_choice("applies_kind", applies_kind, RuleAppliesTo))
    reward = RewardKind(_choice("kind", kind, RewardKind))
    top = _TOP[reward]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
        raise ValidationError("value", f"must be a whole number from 1 to {top}")
    if (
        not isinstance(applies_id, int)
        or isinstance(applies_id, bool)
        or not await _THINGS[applies].exists(id=applies_id)
    ):
        raise ValidationError("applies_id", _NAMES_NOTHING[applies])
    return applies, reward


def active_key(applies_kind: RuleAppliesTo, applies_id: int) -> str:
    return f"{applies_kind.value}:{applies_id}"


async def set_rule(
    *,
    applies_kind: str,
    applies_id: int,
    kind: str,
    value: int,
    members_only: bool = False,
    actor: User,
    now: datetime,
) -> RewardRule:
    """The reward for the referrer of each paid purchase of the product or enrollment window
    `applies_id`: `value` percent of what was paid, or `value` fen (never more than what was
    paid), optionally only when the buyer is a member when paying. The thing's active rule,
    if any, is retired in the same transaction (with an audit entry, "reward_rule.set").
    Payments already credited keep the rule they were credited under. Raises
    ValidationError (a kind, a value out of range, a thing that does not exist), RuleChanged
    (another admin changed the same thing's reward at the same moment)."""
    applies, reward = await _checked(applies_kind, applies_id, kind, value)
    key = active_key(applies, applies_id)
    try:
        async with in_transaction():
            retired = await _retire(key, now)
            # Invariant "one active rule per thing": the UNIQUE active_key refuses a second
            # active rule written by a concurrent set_rule after our retirement above.
            rule = await RewardRule.create(
                applies_kind=applies,
                applies_id=applies_id,
                kind=reward,
                value=value,
                members_only=bool(members_only),
                active_key=key,
                created_by=actor,
                created_at=now,
            )
            await audit.record(
                actor=actor,
                action="reward_rule.set",
                object_type="reward_rule",
                object_id=rule.id,
                before=audit.snapshot(retired, _AUDITED) if retired else None,
                after=audit.snapshot(rule, _AUDITED),
                now=now,
            )
    except IntegrityError:
        raise RuleChanged() from None
    return rule


async def retire_rule(rule_id: int, *, actor: User, now: datetime) -> RewardRule:
    """Stop rewarding purchases of the rule's thing (an audit entry, "reward_rule.retire").
    Retiring a retired rule changes nothing. Raises RuleNotFound."""
    rule = await RewardRule.get_or_none(id=rule_id)
    if rule is None:
        raise RuleNotFound()
    async with in_transaction():
        # Conditional on this rule being active still: a rule set for the thing meanwhile
        # (which retired this one) stays active.
        if await RewardRule.filter(id=rule_id, active_key__not_isnull=True).update(
            active_key=None, retired_at=now
        ):
            await audit.record(
                actor=actor,
                action="reward_rule.retire",
                object_type="reward_rule",
                object_id=rule.id,
                before=audit.snapshot(rule, _AUDITED),
                now=now,
            )
    return await RewardRule.get(id=rule_id)


async def _retire(key: str, now: datetime) -> RewardRule | None:
    """The active rule with `key`, retired (None when there was none)."""
    rule = await RewardRule.filter(active_key=key).select_for_update().first()
    if rule is None:
        return None
    # Conditional on still being active: two retirements at once retire it once.
    if not await RewardRule.filter(id=rule.id, active_key=key).update(
        active_key=None, retired_at=now
    ):
        return None
    rule.active_key, rule.retired_at = None, now
    return rule


async def active_rule(applies_kind: RuleAppliesTo, applies_id: int) -> RewardRule | None:
    """The rule that rewards a purchase of this thing now, if any."""
    return await RewardRule.get_or_none(active_key=active_key(applies_kind, applies_id))
