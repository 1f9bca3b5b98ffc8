"""Which part of Shuyuan may import which: the floors of the house, read by
tests/test_dependencies.py, which fails on any import (function-local ones too) against it.

Bottom floor: the top-level helpers and web/ (the HTTP toolkit), which import no package. Then
accounts <- payments <- membership <- community, store; jobs above every package; the route
table (routing.py, which alone with app and cli imports each package's routes) and the
composition root (composition.py) above them; app, cli and demo at the top, and nothing
imports app or cli. No package imports another's routes, api or admin modules: it calls the other's
services, or a module made public for it (payments.checkout). A new package adds its row here.
"""

from __future__ import annotations

HELPERS = frozenset(
    {
        "settings",
        "db",
        "errors",
        "batches",
        "ratelimit",
        "metrics",
        "translation",
        "pictures",
        "wiring",
        "links",
        "tallies",
        # Changes every worker hears (NOTIFY or Redis pub/sub): memories forgotten on every host.
        "changes",
        # Where uploads live: local disk or an S3-compatible bucket (storage.STORAGE).
        "storage",
        # Backups of the uploads: dated snapshots of the storage, kept 30 days at most.
        "backups",
        # IP属地: an address's province or country, from the offline data in ipregion/data/.
        "ipregion",
    }
)
_FLOOR = HELPERS | {"web"}

# The floors above the domain packages, each standing on the one below it.
_DOMAIN = _FLOOR | {
    "accounts",
    "moderation",
    "payments",
    "membership",
    "community",
    "store",
    "support",
}
_JOBS = _DOMAIN | {"front", "stats", "crm", "keywords", "referrals"}
# Personal data (a member's copy of it, and its erasure) reads every package below it.
_PRIVACY = _JOBS | {"privacy"}
_CONSOLE = _PRIVACY | {"jobs"}
_ROUTING = _CONSOLE | {"console"}

MAY_IMPORT: dict[str, frozenset[str]] = {
    **{helper: HELPERS for helper in HELPERS},
    "web": _FLOOR,
    "accounts": _FLOOR,
    # Content review: watched words, the review queue (what a held thing is stays its
    # package's: moderation.review.Reviewables, wired by the composition root).
    "moderation": _FLOOR | {"accounts"},
    "payments": _FLOOR | {"accounts"},
    "membership": _FLOOR | {"accounts", "payments"},
    "community": _FLOOR | {"accounts", "moderation", "payments", "membership"},
    "store": _FLOOR | {"accounts", "payments", "membership"},
    # Customer service (联系我们): a member's conversations with the staff.
    "support": _FLOOR | {"accounts", "moderation"},
    # The numbers: rollups, funnels and live sales read across the packages below it.
    "stats": _DOMAIN,
    # The front page: today across the feed, the store, membership and the board.
    "front": _DOMAIN,
    # Notes, tags, segments and broadcasts: audiences read across the packages below it.
    "crm": _DOMAIN,
    # The keyword box: the feed's daily keyword, admins' auto-replies (a product, the window, a
    # post, an item, a text) and the lookups that found nothing.
    "keywords": _DOMAIN,
    # Growth through friends: share links, attribution, one level of referral rewards (their
    # rules, the append-only ledger, payouts), posters.
    "referrals": _DOMAIN,
    # Personal data the member controls: the copy of everything held about them (a ZIP the
    # job writes) and the erasure after leaving (注销), across every package's tables.
    "privacy": _JOBS,
    "jobs": _PRIVACY,
    # The back office's frame (/admin): its overview across every package, the audit log,
    # the staff.
    "console": _CONSOLE,
    # The route table: every package's routes, api and admin modules, in one list.
    "routing": _ROUTING,
    # The composition root: each package's purposes, notice kinds and memories, wired.
    "composition": _ROUTING | {"routing"},
    # The demo community, its weeks of history rolled up into the numbers, and its notes,
    # segments and yesterday's broadcast.
    "demo": _DOMAIN | {"stats", "crm", "keywords"},
    "app": _FLOOR
    | {
        "accounts",
        "moderation",
        "payments",
        "membership",
        "community",
        "store",
        "support",
        "jobs",
        "composition",
    },
    # Development stand-ins (not shipped): run as processes, imported by nothing.
    "devserver": frozenset(),
    "cli": _FLOOR
    | {
        "accounts",
        "moderation",
        "payments",
        "membership",
        "community",
        "store",
        "support",
        "jobs",
        "demo",
        "composition",
    },
}

# Modules no other package may import: each domain package's transport (web/, the toolkit,
# is there to be imported).
PRIVATE_MODULES = frozenset({"routes", "api", "admin", "admin_api"})

# Arrows that still run against the table, each named with the modules that draw it, until
# the work that removes it lands (the test fails on any other, and on one listed here that
# is gone, so this list only shrinks). None left.
NOT_YET: dict[tuple[str, str], frozenset[str]] = {}
