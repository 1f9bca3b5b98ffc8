"""The route table: every page, endpoint and file path of the app, in the order Starlette
tries them, each with a name (links.py builds paths from the names)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from accounts import admin as accounts_admin
from accounts import api as accounts_api
from accounts import consent_api, consent_pages, wechat_pages
from accounts import phone_pages as accounts_phone_pages
from accounts import routes as accounts_routes
from community.board import api as board_api
from community.board import routes as board_routes
from community.feed import admin as feed_admin
from community.feed import api as feed_api
from community.feed import routes as feed_routes
from console import api as console_api
from console import routes as console_routes
from crm import admin as crm_admin
from crm import api as crm_api
from crm import routes as crm_routes
from front import routes as front_routes
from jobs import admin as jobs_admin
from keywords import admin as keywords_admin
from keywords import api as keywords_api
from keywords import routes as keywords_routes
from membership import admin as membership_admin
from membership import api as membership_api
from membership import routes as membership_routes
from moderation import admin as moderation_admin
from moderation import api as moderation_api
from moderation import routes as moderation_routes
from payments import api as payments_api
from payments import routes as payments_routes
from privacy import api as privacy_api
from privacy import leaving_api as privacy_leaving_api
from privacy import leaving_pages as privacy_leaving_pages
from privacy import routes as privacy_routes
from referrals import admin as referrals_admin
from referrals import api as referrals_api
from referrals import routes as referrals_routes
from stats import api as stats_api
from stats import routes as stats_routes
from storage import Storage
from store import admin as store_admin
from store import admin_api as store_admin_api
from store import api as store_api
from store import routes as store_routes
from support import admin as support_admin
from support import api as support_api
from support import routes as support_routes
from web import home, observe
from web import paths as web_paths
from web.stored import StoredFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


def route_table(storage: Storage) -> list[BaseRoute]:
    """The app's routes; uploaded pictures are served from `storage`'s media/ folder."""
    web_paths.register()  # `{id:id}`: Starlette's convertors are one table per process
    # Starlette tries routes in order: the busiest paths (a drop's orders) are found first.
    api_routes = [
        *store_api.routes(),
        *store_admin_api.routes(),
        *home.api_routes(),
        *accounts_api.routes(),
        *payments_api.routes(),
        *membership_api.routes(),
        *feed_api.routes(),
        *board_api.routes(),
        *jobs_admin.api_routes(),
        *console_api.routes(),
        *stats_api.routes(),
        *crm_api.routes(),
        *support_api.routes(),
        *keywords_api.routes(),
        *referrals_api.routes(),
        *moderation_api.routes(),
        *privacy_leaving_api.routes(),
        *privacy_api.routes(),
        *consent_api.routes(),
    ]
    return [
        # API routes are named "api:<package>.<action>".
        Mount("/api/v1", routes=api_routes, name="api"),
        # The morning's pages: the front page, the day's item and its audio (every range a
        # player asks for) are matched first, not after a hundred others (a tenth of the
        # audio's CPU was spent trying routes: bench/morning_push.py).
        *front_routes.routes(),
        *feed_routes.routes(),
        *home.routes(),
        *observe.routes(),
        *jobs_admin.routes(),
        *accounts_routes.routes(),
        *wechat_pages.routes(),
        *accounts_phone_pages.routes(),
        *payments_routes.routes(),
        *membership_routes.routes(),
        *membership_admin.routes(),
        *store_routes.routes(),
        *store_admin.routes(),
        *feed_admin.routes(),
        *keywords_routes.routes(),
        *referrals_routes.routes(),
        *referrals_admin.routes(),
        *board_routes.routes(),
        *moderation_routes.routes(),
        *crm_routes.routes(),
        *crm_admin.routes(),
        *support_routes.routes(),
        *support_admin.routes(),
        *keywords_admin.routes(),
        *moderation_admin.routes(),
        *privacy_leaving_pages.routes(),
        *privacy_routes.routes(),
        *consent_pages.routes(),
        *accounts_admin.routes(),
        # The console's own pages, then the old admin addresses' redirects (after every
        # package's routes: only what nothing else answers is redirected).
        *stats_routes.routes(),
        *console_routes.routes(),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        # Uploaded product pictures (resized by the store); a CDN can front this path. The
        # app makes the folder at start-up (a command that only builds links need not).
        Mount("/media", StoredFiles(storage), name="media"),
    ]
