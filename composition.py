"""The composition root: what one app (or one `shuyuan` command, or one test) is wired with.

Every package registers its own parts here and nowhere else: the purposes payments settles
for (store's orders, membership's seats), the notice kinds (accounts', community's, store's,
membership's), the mail letterhead, the font the podcast's artwork is drawn in (store's), the
route table and the links built from its names (routing.py, links.py), the worker's memories,
the parts of the account page, what a session read brings along (the store's order waiting
to be paid), what the review queue holds, and what checks the words a person writes about
themselves (moderation's, handed to accounts below it). Nothing registers at
import time: an app holds what `wire(settings)` built, and two apps built in one process with
different settings see only their own (web.wiring.Wired binds an app's wiring for its
requests).

Process-wide by design, and set up elsewhere: Tortoise's database connections (db.py, opened
by the app's lifespan or the command), the Prometheus registry (metrics.py: one /metrics per
process) and Starlette's path convertors (web.paths.register: `{id:id}` is the same for every
app, and Starlette keeps convertors in one table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Router

import changes
from accounts import account_parts, legal_documents, notices, sign_in_hooks
from accounts import leaving as accounts_leaving
from accounts import sessions as account_sessions
from accounts.models import User
from accounts.page_context import page_context as accounts_page_context
from accounts.profile_review import PROFILE_REVIEW, ProfileReview
from community import notices as community_notices
from community.board import permissions as board_permissions
from community.board import reviewables as board_reviewables
from community.feed import artwork
from crm import notices as crm_notices
from jobs.worker import WorkerMemory
from links import LINKS, Links
from membership import fulfilment as membership_fulfilment
from membership import notices as membership_notices
from moderation import notices as moderation_notices
from moderation import profile_reports, reports, review
from moderation import profiles as moderation_profiles
from moderation import words as watched_words
from payments.purposes import PURPOSES, Purposes
from privacy import notices as privacy_notices
from referrals import attribution, rewards
from routing import route_table
from settings import Settings
from storage import STORAGE, Storage
from storage import from_settings as storage_from_settings
from store import covers
from store import fulfilment as store_fulfilment
from store import notices as store_notices
from store import orders as store_orders
from support import account as support_parts
from support import notices as support_notices
from support import reportables as support_reportables
from support import reviewables as support_reviewables
from support import services as support_services
from wiring import Wiring


@dataclass
class AppWiring:
    """What one app is built with beside its settings."""

    letterhead: notices.Letterhead
    # The route table, and the paths and public URLs built from its names (links.py).
    routes: list[BaseRoute]
    links: Links
    # Where uploads live (storage.py): files under var_dir, or the S3 bucket settings name.
    storage: Storage
    purposes: Purposes = field(default_factory=Purposes)
    notice_kinds: notices.NoticeKinds = field(default_factory=notices.NoticeKinds)
    memory: WorkerMemory = field(default_factory=WorkerMemory)
    # Where changes are announced to every worker of every host (changes.py).
    bus: changes.Bus = field(default_factory=changes.NoBus)
    # What the account page shows from the packages above accounts (their conversations).
    account_parts: account_parts.AccountParts = field(default_factory=account_parts.AccountParts)
    # What happens when a browser signs in, from the packages above accounts (referrals).
    sign_in_hooks: sign_in_hooks.SignInHooks = field(default_factory=sign_in_hooks.SignInHooks)
    # What the review queue holds, from the packages that publish members' words.
    reviewables: review.Reviewables = field(default_factory=review.Reviewables)
    # What checks the words a person writes about themselves (and holds a young account's
    # avatar): moderation's, for accounts below it.
    profile_review: ProfileReview = field(default_factory=moderation_profiles.profile_review)
    # What members may report, from the packages that own those things.
    reportables: reports.Reportables = field(default_factory=reports.Reportables)
    # What the session read of the pages that use them brings along from the packages above
    # accounts (one round trip for the session and them): the store's order waiting to be paid.
    session_scalars: account_sessions.SessionScalars = field(
        default_factory=account_sessions.SessionScalars
    )

    def wiring(self) -> Wiring:
        """The wires the code below reads, bound to this app's values."""
        return Wiring(
            (
                (PURPOSES, self.purposes),
                (notices.NOTICE_KINDS, self.notice_kinds),
                (notices.LETTERHEAD, self.letterhead),
                (LINKS, self.links),
                (account_parts.ACCOUNT_PARTS, self.account_parts),
                (sign_in_hooks.SIGN_IN_HOOKS, self.sign_in_hooks),
                (review.REVIEWABLES, self.reviewables),
                (PROFILE_REVIEW, self.profile_review),
                (reports.REPORTABLES, self.reportables),
                (account_sessions.SESSION_SCALARS, self.session_scalars),
                (changes.BUS, self.bus),
                (changes.HERE, self.memory.heard),
                (watched_words.WATCHED, self.memory.watched),
                (legal_documents.LEGAL_VERSIONS, self.memory.legal),
                (board_permissions.BOARD_SETTINGS, self.memory.board),
                # The podcast's drawn artwork is set in the font the store ships.
                (artwork.TYPEFACE, covers.typeface),
                (STORAGE, self.storage),
            )
        )


def wire(settings: Settings) -> AppWiring:
    """Build what an app (or a command) for `settings` is wired with."""
    # Mails written by this app link to its public address, signed with its secret key.
    storage = storage_from_settings(settings)
    table = route_table(storage)
    wired = AppWiring(
        letterhead=notices.Letterhead(settings.secret_key),
        routes=table,
        links=Links(Router(routes=table), settings.public_url),
        bus=changes.make_bus(
            redis_url=settings.redis_url,
            postgres_url=settings.direct_url if settings.is_postgres else None,
        ),
        storage=storage,
    )
    store_fulfilment.register(wired.purposes)
    membership_fulfilment.register(wired.purposes)
    for kinds in (
        notices.KINDS,
        community_notices.KINDS,
        store_notices.KINDS,
        membership_notices.KINDS,
        crm_notices.KINDS,
        support_notices.KINDS,
        moderation_notices.KINDS,
        accounts_leaving.KINDS,
        privacy_notices.KINDS,
    ):
        wired.notice_kinds.register(kinds)
    wired.account_parts.append(support_parts.CONVERSATIONS)
    board_reviewables.register(wired.reviewables, wired.reportables)
    moderation_profiles.register(wired.reviewables)
    support_reviewables.register(wired.reviewables)
    profile_reports.register(wired.reportables)
    support_reportables.register(wired.reportables)
    # Growth through friends: referred purchases earn their referrer's reward, and a
    # browser's visit through a share link follows it into the account it signs in to.
    rewards.register(
        wired.purposes, refund_days=settings.refund_days, referral_days=settings.referral_days
    )
    wired.sign_in_hooks.append(attribution.signed_in)
    # The front page's "order waiting to be paid" asks the database only for those who have one.
    wired.session_scalars.add(store_orders.PENDING_ORDER, paths={wired.links.path("site.home")})
    return wired


async def page_context(user: User | None, locale: str) -> dict[str, Any]:
    """What every page shows beside its own context: accounts' (the unread badge, a notice's
    text, avatars), and the page the footer's "Contact us" link says it was on
    (`contact_from(path)`: support.services.page_from, none for a page whose path may hold a
    secret)."""
    return {
        **await accounts_page_context(user, locale),
        "contact_from": support_services.page_from,
    }
