"""The back office's people: giving and taking staff roles, and finding a person by what an
operator knows of them (an email, a name, a number)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.errors import LastOwner, UserNotFound
from accounts.models import User
from accounts.roles import StaffRole

FIND_LIMIT = 20
MAX_FIND = 100  # characters of what is looked for
MAX_ALSO = 200  # accounts found by other keys, at most


async def set_role(
    *, actor: User | None, user_id: int, role: StaffRole | None, now: datetime | None = None
) -> User:
    """Give `user_id` a staff role (None: take it away), with an audit entry. Raises
    UserNotFound, and LastOwner when it would leave nobody an owner.

    Invariant "there is always an owner": the owners' rows are locked (FOR UPDATE, in id
    order) before they are counted, so two owners demoting each other at once cannot both
    pass the count; SQLite runs one writing transaction at a time."""
    moment = now or datetime.now(UTC)
    async with in_transaction():
        owners = await User.filter(staff_role=StaffRole.OWNER).order_by("id").select_for_update()
        user = await User.filter(id=user_id).select_for_update().first()
        if user is None:
            raise UserNotFound()
        before = user.staff_role
        others = [owner for owner in owners if owner.id != user.id]
        if before == StaffRole.OWNER and role != StaffRole.OWNER and not others:
            raise LastOwner()
        user.staff_role = role.value if role is not None else None
        user.admin_flag = role in (StaffRole.OWNER, StaffRole.ADMIN)
        await user.save(update_fields=["staff_role", "admin_flag"])
        if before != user.staff_role:
            await audit.record(
                actor=actor,
                action="staff.role",
                object_type="user",
                object_id=user.id,
                before={"role": before},
                after={"role": user.staff_role},
                now=moment,
            )
    return user


async def staff() -> list[User]:
    """Everyone with a role, owners first."""
    order = {role.value: n for n, role in enumerate(StaffRole)}
    people = await User.filter(staff_role__isnull=False)
    return sorted(people, key=lambda u: (order.get(u.staff_role or "", 9), u.id))


async def find_people(
    text: str,
    *,
    cursor: int | None = None,
    limit: int = FIND_LIMIT,
    also_ids: Collection[int] = (),
) -> tuple[list[User], int | None]:
    """People whose email starts with, or whose name contains, `text`; a number is also
    looked up as an account number; and the accounts `also_ids` names (what the packages above
    found by their own keys: a delivery phone, a member card; crm.people). Newest accounts
    first, `limit` a page, with the cursor of the next page (an account id) or None."""
    clean = " ".join(str(text).split())[:MAX_FIND]
    if not clean:
        return [], None
    where = Q(email__istartswith=clean) | Q(display_name__icontains=clean)
    if clean.isascii() and clean.isdigit() and len(clean) <= 9:
        where |= Q(id=int(clean))
    if also_ids:
        where |= Q(id__in=sorted(set(also_ids), reverse=True)[:MAX_ALSO])  # the newest
    query = User.filter(where)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    found = await query.order_by("-id").limit(limit + 1)
    return found[:limit], found[limit - 1].id if len(found) > limit else None
