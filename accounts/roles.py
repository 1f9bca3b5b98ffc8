"""The back office's roles and what each may do: one table, read by every guard.

Owner: everything, roles included. Admin: everything but roles. Support: reads people, orders
and payments, writes notes on people and answers members' conversations (联系我们); no
refunds, no exports, no tags, segments or broadcasts, no changes to the catalogue or the
community. Moderator: the board (reports, hiding, bans), finding the people it concerns and
writing notes on them.
"""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    SUPPORT = "support"
    MODERATOR = "moderator"


class Capability(StrEnum):
    CONSOLE = "console"  # open the console at all
    PEOPLE = "people"  # find people and read their accounts
    FEED = "feed"  # write, edit and publish the daily feed
    MODERATE = "moderate"  # the board's reports, hiding and locking posts, bans
    MEMBERSHIP = "membership"  # enrollment windows, grants, revocations, the benefits page
    CATALOGUE = "catalogue"  # products, stock, drops, raffles
    ORDERS = "orders"  # read orders, people and their payments
    FULFIL = "fulfil"  # mark orders shipped
    REFUND = "refund"  # refund orders and enrollments, decide refund requests
    PAYMENTS = "payments"  # read payments
    JOBS = "jobs"  # the job queue
    AUDIT = "audit"  # read the audit log
    EXPORT = "export"  # CSV exports of members, orders, payments and the audit log
    STAFF = "staff"  # give and take roles
    STATS = "stats"  # the dashboard: revenue, members, funnels, a sale watched live
    NOTES = "notes"  # write notes on a person (for staff to read)
    # Read and answer members' conversations with customer service (联系我们), the queue.
    CONVERSATIONS = "conversations"
    # Tags on people, notes for admins only and who may read a note, segments, broadcasts.
    OUTREACH = "outreach"
    # Referral rewards: their rules, payouts approved or rejected, the ledger's export, the
    # referral numbers.
    REWARDS = "rewards"
    # The watched words' lists (block, censor, require approval, flag): admins; moderators
    # work the review queue with MODERATE.
    WATCHED_WORDS = "watched_words"
    # The legal documents (terms, privacy policy, cross-border notice): read every version and
    # publish the next (accounts.consents). Owners and admins.
    LEGAL = "legal"


_EVERYTHING = frozenset(Capability)
CAPABILITIES: dict[StaffRole, frozenset[Capability]] = {
    StaffRole.OWNER: _EVERYTHING,
    StaffRole.ADMIN: _EVERYTHING - {Capability.STAFF},
    StaffRole.SUPPORT: frozenset(
        {
            Capability.CONSOLE,
            Capability.PEOPLE,
            Capability.ORDERS,
            Capability.PAYMENTS,
            Capability.NOTES,
            Capability.CONVERSATIONS,
        }
    ),
    StaffRole.MODERATOR: frozenset(
        {Capability.CONSOLE, Capability.PEOPLE, Capability.MODERATE, Capability.NOTES}
    ),
}


def role_may(role: str | None, capability: str) -> bool:
    """Whether `role` (a StaffRole value, or None for everyone else) grants `capability`."""
    if role is None:
        return False
    try:
        return Capability(capability) in CAPABILITIES[StaffRole(role)]
    except ValueError:
        return False


def roles_that_may(capability: Capability) -> list[StaffRole]:
    return [role for role in StaffRole if capability in CAPABILITIES[role]]
