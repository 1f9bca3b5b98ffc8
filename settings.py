"""Shuyuan's settings: one frozen object built once from the environment and validated."""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "production")

# Every variable Shuyuan reads. A variable with one of our prefixes that is not listed here is a
# typo (STRIPE_SECRETKEY, SHUYUAN_ENVIRONMENT) and stops start-up rather than being ignored.
KNOWN_VARIABLES = frozenset(
    {
        "SHUYUAN_ENV",
        "SHUYUAN_REFERRAL_DAYS",
        "SHUYUAN_REFUND_DAYS",
        "SHUYUAN_CONFIRM_AFTER_DAYS",
        "SHUYUAN_FREE_SHIPPING_OVER_FEN",
        "SHUYUAN_VAR_DIR",
        "DATABASE_URL",
        "DATABASE_DIRECT_URL",
        "SECRET_KEY",
        "STRIPE_API_BASE",
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "REDIS_URL",
        "SHUYUAN_SESSION_IDLE_DAYS",
        "SHUYUAN_SESSION_MAX_DAYS",
        "SHUYUAN_AVATAR_REVIEW_DAYS",
        "SHUYUAN_LEAVING_DAYS",
        "SHUYUAN_ORDER_RETENTION_YEARS",
        "SHUYUAN_EXPORT_LINK_HOURS",
        "SHUYUAN_METRICS_FROM",
        "SHUYUAN_TRUSTED_PROXIES",
        "SHUYUAN_JOBS",
        "SMTP_URL",
        "MAIL_FROM",
        "SHUYUAN_PUBLIC_URL",
        "SHUYUAN_ALLOWED_HOSTS",
        "SHUYUAN_PAYMENT_METHODS",
        "SHUYUAN_ICP_FILING",
        "SHUYUAN_PUBLIC_SECURITY_FILING",
        "SHUYUAN_BUSINESS_LICENCE_URL",
        "SHUYUAN_PODCAST_OWNER_NAME",
        "SHUYUAN_PODCAST_OWNER_EMAIL",
        "SHUYUAN_REQUIRE_VERIFIED_MOBILE",
        "WECHAT_OAUTH_BASE",
        "WECHAT_API_BASE",
        "WECHAT_MP_APPID",
        "WECHAT_MP_SECRET",
        "WECHAT_WEB_APPID",
        "WECHAT_WEB_SECRET",
        "SHUYUAN_SMS_PROVIDER",
        "SHUYUAN_SMS_DAILY_BUDGET",
        "SMS_ENDPOINT",
        "SMS_ACCESS_KEY_ID",
        "SMS_ACCESS_KEY_SECRET",
        "SMS_SIGN_NAME",
        "SMS_TEMPLATE",
        "SMS_APP_ID",
        "SHUYUAN_PROVIDERS",
        "WECHATPAY_API_BASE",
        "WECHATPAY_MCHID",
        "WECHATPAY_APPID",
        "WECHATPAY_MERCHANT_SERIAL",
        "WECHATPAY_PRIVATE_KEY",
        "WECHATPAY_APIV3_KEY",
        "WECHATPAY_PUBLIC_KEY_ID",
        "WECHATPAY_PUBLIC_KEY",
        "ALIPAY_GATEWAY",
        "ALIPAY_APP_ID",
        "ALIPAY_APP_PRIVATE_KEY",
        "ALIPAY_PUBLIC_KEY",
        # Uploads (storage.py): local disk or an S3-compatible bucket; nginx serves audio.
        "SHUYUAN_STORAGE",
        "SHUYUAN_ACCEL_REDIRECT",
        "S3_ENDPOINT_URL",
        "S3_BUCKET",
        "S3_REGION",
        "S3_ACCESS_KEY_ID",
        "S3_SECRET_ACCESS_KEY",
        "S3_ADDRESSING_STYLE",
    }
)
CHECKED_PREFIXES = ("SHUYUAN_", "STRIPE_", "WECHAT_", "SMS_", "WECHATPAY_", "ALIPAY_", "S3_")
# Settings that are gone, and what took their place (start-up says so rather than ignoring one).
REPLACED_VARIABLES = {
    "SHUYUAN_WECHAT_PAY": "SHUYUAN_PROVIDERS (wechat_pay:wechatpay for WeChat Pay directly)",
}

DEV_STRIPE_API_BASE = "http://127.0.0.1:8420"
DEV_PUBLIC_URL = "http://127.0.0.1:8000"
PROD_STRIPE_API_BASE = "https://api.stripe.com"
MIN_SECRET_KEY_LENGTH = 32
# The podcast feed's owner when neither its setting nor MAIL_FROM names one.
PODCAST_OWNER_NAME = "书院 Shuyuan"
# An address as a podcast directory takes it: one @, no spaces, nothing to escape in its XML.
_PODCAST_OWNER_EMAIL = re.compile(r"^[^@\s<>&\"']+@[^@\s<>&\"']+\.[^@\s<>&\"']+$")
# payments.provider.Method, in the order checkout offers them: most members pay with WeChat.
PAYMENT_METHODS = ("wechat_pay", "alipay", "card")
# Which providers may take each method (SHUYUAN_PROVIDERS): Stripe takes all three; WeChat Pay
# and Alipay may instead go to their own APIs (payments.wechatpay_provider, alipay_provider).
PROVIDERS_OF_METHOD = {
    "card": ("stripe",),
    "wechat_pay": ("stripe", "wechatpay"),
    "alipay": ("stripe", "alipay"),
}
STRIPE_ALONE = tuple((method, "stripe") for method in PAYMENT_METHODS)
# Served outside production whatever SHUYUAN_ALLOWED_HOSTS says nothing of: `make run`, tests.
LOCAL_HOSTS = ("localhost", "127.0.0.1")

# The development stand-ins of WeChat's sign-in and of the SMS gateways (devserver/wechat.py,
# devserver/sms.py), which `shuyuan serve --with-stand-ins` starts with these apps and keys.
DEV_WECHAT_BASE = "http://127.0.0.1:8031"
DEV_SMS_ENDPOINT = "127.0.0.1:8032"
PROD_WECHAT_OAUTH_BASE = "https://open.weixin.qq.com"
PROD_WECHAT_API_BASE = "https://api.weixin.qq.com"
SMS_PROVIDERS = ("aliyun", "tencent")
PROD_SMS_ENDPOINTS = {"aliyun": "dysmsapi.aliyuncs.com", "tencent": "sms.tencentcloudapi.com"}


@dataclass(frozen=True)
class WechatApp:
    """A WeChat app Shuyuan signs people in with: its AppID and AppSecret."""

    app_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class SmsAccount:
    """The SMS gateway that sends sign-in codes (accounts.sms): which provider, where, with
    which key, approved signature and template (each gateway sends only an approved pair)."""

    provider: str  # "aliyun" or "tencent"
    endpoint: str  # host[:port]; http:// only for the development stand-in on 127.0.0.1
    access_key_id: str
    access_key_secret: str = field(repr=False)
    sign_name: str = "书院"
    template: str = "SMS_000001"  # Alibaba Cloud's TemplateCode or Tencent Cloud's TemplateId
    app_id: str = ""  # Tencent Cloud's SmsSdkAppId (unused by Alibaba Cloud)


@dataclass(frozen=True)
class S3Bucket:
    """An S3-compatible bucket the uploads go to (storage.S3Storage): AWS, MinIO, Alibaba Cloud
    OSS or Tencent COS through their S3 endpoints (the last two need "virtual" addressing)."""

    bucket: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    endpoint_url: str | None = None  # None: AWS's own endpoint for the region
    region: str = "us-east-1"
    addressing_style: str = "auto"  # "path", "virtual" or "auto" (botocore's choice)


@dataclass(frozen=True)
class WechatPayAccount:
    """A WeChat Pay merchant, reached through API v3 (payments.wechatpay_provider): its merchant
    number, the official account bound to it (JSAPI pays with that app's openid), its API
    certificate's serial and private key (apiclient_key.pem), its APIv3 key, and how WeChat
    Pay's signatures are checked: with WeChat Pay's public key (its id PUB_KEY_ID_... and the
    PEM file) or, when none is given, with the platform certificates fetched from the API."""

    mchid: str
    appid: str
    merchant_serial: str
    private_key: Path
    apiv3_key: str = field(repr=False)
    public_key_id: str | None = None
    public_key: Path | None = None


# The stand-in's merchant (devserver/wechatpay.py; its keys made in var/wechatpay/ by
# devserver.wechatpay_keys): development only.
DEV_WECHATPAY_API_BASE = "http://127.0.0.1:8033"
PROD_WECHATPAY_API_BASE = "https://api.mch.weixin.qq.com"
DEV_WECHATPAY_FOLDER = Path("var/wechatpay")


def dev_wechat_pay(folder: Path = DEV_WECHATPAY_FOLDER) -> WechatPayAccount:
    """The development merchant whose keys devserver.wechatpay_keys keeps in `folder`."""
    return WechatPayAccount(
        mchid="1230000109",
        appid="wx0fficia1000001",
        merchant_serial="5157F09EFDC096DE15EBE81A47057A72",
        private_key=folder / "apiclient_key.pem",
        apiv3_key="ShuyuanDevApiV3Key00000000000032",
        public_key_id="PUB_KEY_ID_01123000010920261206000000000001",
        public_key=folder / "pub_key.pem",
    )


@dataclass(frozen=True)
class AlipayAccount:
    """An Alipay open-platform application (payments.alipay_provider): its app id, the
    application private key it signs requests with (the public half uploaded to Alipay), and
    Alipay's public key that Alipay's answers, notifications and returns are checked with."""

    app_id: str
    app_private_key: Path
    alipay_public_key: Path


# The stand-in's application (devserver/alipay.py; its keys made in var/alipay/ by
# devserver.alipay_keys): development only.
DEV_ALIPAY_GATEWAY = "http://127.0.0.1:8034/gateway.do"
PROD_ALIPAY_GATEWAY = "https://openapi.alipay.com/gateway.do"
DEV_ALIPAY_FOLDER = Path("var/alipay")
DEV_ALIPAY_APP_ID = "9021000100000001"


def dev_alipay(folder: Path = DEV_ALIPAY_FOLDER) -> AlipayAccount:
    """The development application whose keys devserver.alipay_keys keeps in `folder`."""
    return AlipayAccount(
        app_id=DEV_ALIPAY_APP_ID,
        app_private_key=folder / "app_private_key.pem",
        alipay_public_key=folder / "alipay_public_key.pem",
    )


DEV_WECHAT_OFFICIAL = WechatApp("wx0fficia1000001", "official-dev-secret")
DEV_WECHAT_WEBSITE = WechatApp("wxwebsite00000001", "website-dev-secret")
DEV_SMS = SmsAccount("aliyun", DEV_SMS_ENDPOINT, "LTAI-dev", "dev-sms-secret")


class SettingsError(Exception):
    """A setting is unknown, missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = "sqlite://var/shuyuan.sqlite3"
    # Set when DATABASE_URL goes through PgBouncer in transaction mode: the direct address of
    # PostgreSQL for what a pooled connection cannot carry (LISTEN for the job queue and the
    # announcements of changes, the job queue's own connections, migrations). The app's own
    # queries then run without asyncpg's prepared-statement cache (PgBouncer 1.18 has none).
    database_direct_url: str | None = None
    secret_key: str = field(default="", repr=False)
    stripe_api_base: str = DEV_STRIPE_API_BASE
    stripe_secret_key: str = field(default="sk_test_shuyuan_dev", repr=False)
    stripe_publishable_key: str = "pk_test_shuyuan_dev"
    stripe_webhook_secret: str = field(default="whsec_shuyuan_dev", repr=False)
    redis_url: str | None = None
    var_dir: Path = Path("var")
    # A browser session ends after this many days unused, and after this many days at most.
    session_idle_days: int = 14
    session_max_days: int = 90
    # Growth through friends (referrals): a visit through a share link names its sharer as the
    # visitor's referrer for this many days (the last one wins); a referred purchase's reward
    # becomes withdrawable this many days after it was paid (the no-reason returns period).
    referral_days: int = 7
    refund_days: int = 7
    # A shipped order its buyer has not confirmed received (确认收货) is confirmed by itself
    # this many days after it was shipped.
    confirm_after_days: int = 10
    # A new avatar uploaded by an account younger than this many days waits for a moderator
    # (moderation's review queue) before anyone else sees it; 0: no account's does.
    avatar_review_days: int = 7
    # Leaving (注销): the cooling-off period in which signing in again undoes it; then the
    # erasure job empties every personal field (privacy.erasure).
    leaving_days: int = 15
    # A departed person's orders and payments are kept, detached from them, this long after
    # they were made (E-Commerce Law art. 31: three years), then deleted.
    order_retention_years: int = 3
    # A member's copy of their data (privacy.export) can be downloaded this long.
    export_link_hours: int = 72
    # 满 N 包邮: an order whose goods reach this many fen ships free (store.shipping); 0: no
    # such total (every order that ships pays its products' highest fee).
    free_shipping_over_fen: int = 0
    # Addresses (or networks) /metrics answers; anyone else gets 404. Prometheus on the host
    # by default; SHUYUAN_METRICS_FROM="10.0.0.0/8,127.0.0.1" for a scraper elsewhere.
    metrics_from: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # The balancers (nginx) whose X-Forwarded-For and X-Forwarded-Proto the app believes: the
    # same host by default; SHUYUAN_TRUSTED_PROXIES="10.0.1.0/24" when nginx runs elsewhere.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32",)
    # Where background jobs run: "embedded" (inside the web process; SQLite's only choice) or
    # "worker" (`shuyuan worker` on the job engine; PostgreSQL's default). None: by database.
    jobs_where: str | None = None
    # Outgoing mail: smtp://host:port (plain, a local relay), smtp+starttls://user:pass@host:587
    # or smtps://user:pass@host:465. None: mail waits in the outbox until one is set.
    smtp_url: str | None = None
    # Where people reach the site: links in mail point here (never at a request's Host header,
    # which a client chooses). Required in production.
    public_url: str = DEV_PUBLIC_URL
    # Host header values served (SHUYUAN_ALLOWED_HOSTS); any other gets 400. Empty: the host
    # of public_url, and outside production localhost too (allowed_host_names).
    allowed_hosts: tuple[str, ...] = ()
    mail_from: str = "书院 Shuyuan <noreply@shuyuan.local>"
    # How buyers may pay, in the order checkout offers them; an operator whose Stripe account
    # lacks WeChat Pay or Alipay leaves it out: SHUYUAN_PAYMENT_METHODS="card,alipay".
    payment_methods: tuple[str, ...] = PAYMENT_METHODS
    # What a mainland site shows in every page's footer, each with the link its rules ask for
    # (web.rendering.footer_filings): the ICP filing number ("京ICP备2026000001号-1"), the
    # public-security filing number ("京公网安备11010502000001号") and, for a business selling
    # online (电子商务法 art. 15), the address of its licence's public display. None: not shown.
    icp_filing: str | None = None
    public_security_filing: str | None = None
    business_licence_url: str | None = None
    # Who the podcast feed names as its owner (itunes:owner: podcast directories write to this
    # address to confirm a feed is yours). None: the name and the address of mail_from
    # (podcast_owner).
    podcast_owner_name: str | None = None
    podcast_owner_email: str | None = None
    # WeChat sign-in (accounts.wechat): where its OAuth pages and its API are (the stand-in in
    # development), the official account (web authorisation inside WeChat, and its openid for
    # paying there) and the Open Platform website app (QR login on a computer). None: that way
    # of signing in is not offered.
    wechat_oauth_base: str = DEV_WECHAT_BASE
    wechat_api_base: str = DEV_WECHAT_BASE
    wechat_official: WechatApp | None = DEV_WECHAT_OFFICIAL
    wechat_website: WechatApp | None = DEV_WECHAT_WEBSITE
    # Phone sign-in's SMS gateway; None: phone sign-in is not offered. At most this many text
    # messages a day (Asia/Shanghai) are sent, whoever asks: the budget against SMS pumping.
    sms: SmsAccount | None = DEV_SMS
    sms_daily_budget: int = 1000
    # The real-name rule (网络安全法 art. 24, community.board.real_name): posting and replying
    # on the board wait for a verified mainland mobile number on the account. Off by default
    # (development); on in production on the mainland. Needs `sms` (numbers are linked by an
    # SMS code).
    require_verified_mobile: bool = False
    # Which provider takes each method's new payments (SHUYUAN_PROVIDERS), as (method,
    # provider) pairs: Stripe alone by default; wechatpay and alipay are their own APIs.
    providers: tuple[tuple[str, str], ...] = STRIPE_ALONE
    # WeChat Pay's merchant (API v3: a QR code on a computer, H5 in a phone's browser, JSAPI
    # inside WeChat) and Alipay's application, when configured: they take new payments when
    # `providers` says so, and answer for their earlier payments (reads, refunds) either way.
    wechat_pay: WechatPayAccount | None = None
    wechatpay_api_base: str = DEV_WECHATPAY_API_BASE
    alipay: AlipayAccount | None = None
    alipay_gateway: str = DEV_ALIPAY_GATEWAY
    # Where uploads live (storage.py): "local" (files under var_dir, the default) or "s3" (the
    # bucket `s3` names; every app host then sees every upload). `accel_redirect`: the internal
    # nginx location members-only audio is handed to after the access check
    # (X-Accel-Redirect: deploy/nginx/media.conf), e.g. "/_protected/"; empty: Python streams it.
    storage: str = "local"
    s3: S3Bucket | None = None
    accel_redirect: str = ""

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise SettingsError(
                f"SHUYUAN_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}"
            )
        _check_database_url(self.database_url)
        if self.database_direct_url is not None:
            _check_database_url(self.database_direct_url, "DATABASE_DIRECT_URL")
            if not (self.is_postgres and self.database_direct_url.startswith("postgres")):
                raise SettingsError(
                    "DATABASE_DIRECT_URL is for PostgreSQL behind PgBouncer: both it and "
                    "DATABASE_URL must be postgres:// addresses"
                )
        _check_http_url("STRIPE_API_BASE", self.stripe_api_base)
        if self.redis_url is not None:
            _check_redis_url(self.redis_url)
        if not 1 <= self.session_idle_days <= self.session_max_days <= 3650:
            raise SettingsError(
                "SHUYUAN_SESSION_IDLE_DAYS must be from 1 to SHUYUAN_SESSION_MAX_DAYS (<= 3650)"
            )
        if not 1 <= self.referral_days <= 90:
            raise SettingsError("SHUYUAN_REFERRAL_DAYS must be from 1 to 90")
        if not 0 <= self.refund_days <= 90:
            raise SettingsError("SHUYUAN_REFUND_DAYS must be from 0 to 90")
        if not 1 <= self.confirm_after_days <= 60:
            raise SettingsError("SHUYUAN_CONFIRM_AFTER_DAYS must be from 1 to 60")
        if not 0 <= self.avatar_review_days <= 365:
            raise SettingsError("SHUYUAN_AVATAR_REVIEW_DAYS must be from 0 to 365")
        if not 1 <= self.leaving_days <= 90:
            raise SettingsError("SHUYUAN_LEAVING_DAYS must be from 1 to 90")
        if not 3 <= self.order_retention_years <= 30:
            raise SettingsError("SHUYUAN_ORDER_RETENTION_YEARS must be from 3 to 30")
        if not 1 <= self.export_link_hours <= 720:
            raise SettingsError("SHUYUAN_EXPORT_LINK_HOURS must be from 1 to 720")
        if not 0 <= self.free_shipping_over_fen <= 10_000_000:
            raise SettingsError("SHUYUAN_FREE_SHIPPING_OVER_FEN must be from 0 to 10000000 fen")
        _check_http_url("SHUYUAN_PUBLIC_URL", self.public_url)
        _check_filings(self)
        public_host = (urlsplit(self.public_url).hostname or "").lower()
        if self.allowed_hosts and not any(
            public_host == name or (name.startswith("*.") and public_host.endswith(name[1:]))
            for name in self.allowed_hosts
        ):
            raise SettingsError(
                f"SHUYUAN_ALLOWED_HOSTS must include the host of SHUYUAN_PUBLIC_URL ({public_host})"
            )
        if self.smtp_url is not None:
            parts = urlsplit(self.smtp_url)
            if parts.scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
                raise SettingsError(
                    "SMTP_URL must look like smtp://host:25, smtp+starttls://user:pass@host:587 "
                    "or smtps://user:pass@host:465"
                )
        if "@" not in self.mail_from or len(self.mail_from) > 200:
            raise SettingsError("MAIL_FROM must be an address, e.g. 书院 <noreply@example.cn>")
        _check_podcast_owner(self)
        unknown = [m for m in self.payment_methods if m not in PAYMENT_METHODS]
        if (
            unknown
            or not self.payment_methods
            or len(set(self.payment_methods)) != len(self.payment_methods)
        ):
            raise SettingsError(
                "SHUYUAN_PAYMENT_METHODS must list some of "
                f"{', '.join(PAYMENT_METHODS)}, each once, comma-separated"
            )
        if self.jobs_where not in (None, "embedded", "worker"):
            raise SettingsError(f"SHUYUAN_JOBS must be embedded or worker, not {self.jobs_where!r}")
        if self.jobs_where == "worker" and not self.is_postgres:
            raise SettingsError(
                "SHUYUAN_JOBS=worker needs PostgreSQL (DATABASE_URL=postgres://...)"
            )
        _check_http_url("WECHAT_OAUTH_BASE", self.wechat_oauth_base)
        _check_http_url("WECHAT_API_BASE", self.wechat_api_base)
        if self.sms is not None and self.sms.provider not in SMS_PROVIDERS:
            raise SettingsError(
                f"SHUYUAN_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)} or none"
            )
        if not 0 <= self.sms_daily_budget <= 10_000_000:
            raise SettingsError("SHUYUAN_SMS_DAILY_BUDGET must be from 0 to 10000000")
        if self.require_verified_mobile and self.sms is None:
            # Nobody could link a number, so nobody could post.
            raise SettingsError(
                "SHUYUAN_REQUIRE_VERIFIED_MOBILE needs an SMS gateway (SHUYUAN_SMS_PROVIDER)"
            )
        _check_http_url("WECHATPAY_API_BASE", self.wechatpay_api_base)
        _check_http_url("ALIPAY_GATEWAY", self.alipay_gateway)
        _check_providers(self)
        _check_storage(self)
        if self.alipay is not None:
            _check_alipay(self, self.alipay)
        if self.wechat_pay is not None:
            _check_wechat_pay(self.wechat_pay)
            official = self.wechat_official
            if (
                self.provider_of("wechat_pay") == "wechatpay"
                and official is not None
                and official.app_id != self.wechat_pay.appid
            ):
                # JSAPI pays with the buyer's openid in the AppID bound to the merchant: the
                # one the official account's sign-in learns.
                raise SettingsError(
                    "WECHATPAY_APPID must be the official account's (WECHAT_MP_APPID)"
                )
        if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        if self.is_production:
            for name, value in (
                ("STRIPE_SECRET_KEY", self.stripe_secret_key),
                ("STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
            ):
                if not value or "shuyuan_dev" in value:
                    raise SettingsError(f"{name} must be set in production")
            if self.wechat_pay is not None:
                _check_wechat_pay_in_production(self)
            if self.alipay is not None:
                _check_alipay_in_production(self)
            if self.public_url == DEV_PUBLIC_URL:
                # Links in mail, return URLs and the hosts served all come from it.
                raise SettingsError("SHUYUAN_PUBLIC_URL is required in production (https://...)")

    @property
    def allowed_host_names(self) -> tuple[str, ...]:
        """The Host values served: SHUYUAN_ALLOWED_HOSTS, else the public URL's host (and
        localhost outside production). "*.example.cn" allows every subdomain."""
        if self.allowed_hosts:
            return self.allowed_hosts
        public = urlsplit(self.public_url).hostname or ""
        local = () if self.is_production else LOCAL_HOSTS
        return tuple(dict.fromkeys((public, *local)))

    def provider_of(self, method: str) -> str:
        """The provider that takes new payments by `method` (stripe, wechatpay, alipay)."""
        return dict(self.providers).get(method, "stripe")

    @property
    def podcast_owner(self) -> tuple[str, str]:
        """The podcast feed's owner, (name, email): SHUYUAN_PODCAST_OWNER_NAME and _EMAIL, else
        MAIL_FROM's name and address."""
        name, address = parseaddr(self.mail_from)
        return (
            self.podcast_owner_name or name.strip() or PODCAST_OWNER_NAME,
            self.podcast_owner_email or address,
        )

    @property
    def jobs(self) -> str:
        """Where background jobs run: SHUYUAN_JOBS, else by the database (jobs/__init__.py)."""
        if self.jobs_where is not None:
            return self.jobs_where
        return "worker" if self.is_postgres else "embedded"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def stripe_js_url(self) -> str:
        """Stripe.js for checkout pages: Stripe's own in production, localstripe's otherwise."""
        if self.is_production:
            return "https://js.stripe.com/v3/"
        return f"{self.stripe_api_base}/js.stripe.com/v3/"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def pooled(self) -> bool:
        """DATABASE_URL goes through a pooler in transaction mode (DATABASE_DIRECT_URL is set)."""
        return self.database_direct_url is not None

    @property
    def direct_url(self) -> str:
        """PostgreSQL itself: for LISTEN, the job queue and migrations."""
        return self.database_direct_url or self.database_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables; raise SettingsError on a bad one.

        In development a missing SECRET_KEY is generated once and kept in `var/secret_key`, so
        sessions survive restarts; in production it must be given.
        """
        unknown = sorted(
            name
            for name in environ
            if name.startswith(CHECKED_PREFIXES) and name not in KNOWN_VARIABLES
        )
        for name, instead in REPLACED_VARIABLES.items():
            if name in environ:
                raise SettingsError(f"{name} is gone: use {instead}")
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]} (known: {_known_list()})")

        env = environ.get("SHUYUAN_ENV", "development").strip() or "development"
        var_dir = Path(environ.get("SHUYUAN_VAR_DIR", "var"))
        production = env == "production"

        secret_key = environ.get("SECRET_KEY", "")
        if not secret_key:
            if production:
                raise SettingsError("SECRET_KEY is required in production")
            secret_key = _development_secret_key(var_dir)

        default_db = f"sqlite://{var_dir / 'shuyuan.sqlite3'}"
        redis_url = environ.get("REDIS_URL", "").strip() or None
        return cls(
            env=env,
            database_url=environ.get("DATABASE_URL", "").strip() or default_db,
            database_direct_url=environ.get("DATABASE_DIRECT_URL", "").strip() or None,
            secret_key=secret_key,
            stripe_api_base=(
                environ.get("STRIPE_API_BASE", "").strip()
                or (PROD_STRIPE_API_BASE if production else DEV_STRIPE_API_BASE)
            ).rstrip("/"),
            stripe_secret_key=environ.get(
                "STRIPE_SECRET_KEY", "" if production else cls.stripe_secret_key
            ),
            stripe_publishable_key=environ.get(
                "STRIPE_PUBLISHABLE_KEY", cls.stripe_publishable_key
            ),
            stripe_webhook_secret=environ.get(
                "STRIPE_WEBHOOK_SECRET", "" if production else cls.stripe_webhook_secret
            ),
            redis_url=redis_url,
            var_dir=var_dir,
            session_idle_days=_whole_days(environ, "SHUYUAN_SESSION_IDLE_DAYS", 14),
            session_max_days=_whole_days(environ, "SHUYUAN_SESSION_MAX_DAYS", 90),
            referral_days=_whole_days(environ, "SHUYUAN_REFERRAL_DAYS", 7),
            refund_days=_whole_days(environ, "SHUYUAN_REFUND_DAYS", 7),
            confirm_after_days=_whole_days(environ, "SHUYUAN_CONFIRM_AFTER_DAYS", 10),
            avatar_review_days=_whole_days(environ, "SHUYUAN_AVATAR_REVIEW_DAYS", 7),
            leaving_days=_whole_days(environ, "SHUYUAN_LEAVING_DAYS", 15),
            order_retention_years=_whole_number(environ, "SHUYUAN_ORDER_RETENTION_YEARS", 3),
            export_link_hours=_whole_number(environ, "SHUYUAN_EXPORT_LINK_HOURS", 72),
            free_shipping_over_fen=_whole_number(environ, "SHUYUAN_FREE_SHIPPING_OVER_FEN", 0),
            metrics_from=_networks(environ, "SHUYUAN_METRICS_FROM", ("127.0.0.1/32", "::1/128")),
            trusted_proxies=_networks(environ, "SHUYUAN_TRUSTED_PROXIES", ("127.0.0.1/32",)),
            jobs_where=environ.get("SHUYUAN_JOBS", "").strip() or None,
            smtp_url=environ.get("SMTP_URL", "").strip() or None,
            mail_from=environ.get("MAIL_FROM", "").strip() or Settings.mail_from,
            public_url=environ.get("SHUYUAN_PUBLIC_URL", "").strip() or Settings.public_url,
            allowed_hosts=_host_names(environ.get("SHUYUAN_ALLOWED_HOSTS", "")),
            icp_filing=environ.get("SHUYUAN_ICP_FILING", "").strip() or None,
            public_security_filing=(
                environ.get("SHUYUAN_PUBLIC_SECURITY_FILING", "").strip() or None
            ),
            business_licence_url=environ.get("SHUYUAN_BUSINESS_LICENCE_URL", "").strip() or None,
            podcast_owner_name=environ.get("SHUYUAN_PODCAST_OWNER_NAME", "").strip() or None,
            podcast_owner_email=environ.get("SHUYUAN_PODCAST_OWNER_EMAIL", "").strip() or None,
            wechat_oauth_base=(
                environ.get("WECHAT_OAUTH_BASE", "").strip()
                or (PROD_WECHAT_OAUTH_BASE if production else DEV_WECHAT_BASE)
            ).rstrip("/"),
            wechat_api_base=(
                environ.get("WECHAT_API_BASE", "").strip()
                or (PROD_WECHAT_API_BASE if production else DEV_WECHAT_BASE)
            ).rstrip("/"),
            wechat_official=_wechat_app(
                environ, "WECHAT_MP", None if production else DEV_WECHAT_OFFICIAL
            ),
            wechat_website=_wechat_app(
                environ, "WECHAT_WEB", None if production else DEV_WECHAT_WEBSITE
            ),
            sms=_sms_account(environ, production),
            sms_daily_budget=_whole_number(environ, "SHUYUAN_SMS_DAILY_BUDGET", 1000),
            require_verified_mobile=_switch(environ, "SHUYUAN_REQUIRE_VERIFIED_MOBILE", False),
            providers=_providers(environ.get("SHUYUAN_PROVIDERS", "")),
            wechat_pay=_wechat_pay(environ, production, var_dir / "wechatpay"),
            wechatpay_api_base=(
                environ.get("WECHATPAY_API_BASE", "").strip()
                or (PROD_WECHATPAY_API_BASE if production else DEV_WECHATPAY_API_BASE)
            ).rstrip("/"),
            alipay=_alipay(environ, production, var_dir / "alipay"),
            storage=environ.get("SHUYUAN_STORAGE", "").strip().lower() or "local",
            s3=_s3_bucket(environ),
            accel_redirect=environ.get("SHUYUAN_ACCEL_REDIRECT", "").strip(),
            alipay_gateway=(
                environ.get("ALIPAY_GATEWAY", "").strip()
                or (PROD_ALIPAY_GATEWAY if production else DEV_ALIPAY_GATEWAY)
            ),
            payment_methods=tuple(
                part.strip()
                for part in environ.get("SHUYUAN_PAYMENT_METHODS", ",".join(PAYMENT_METHODS)).split(
                    ","
                )
                if part.strip()
            ),
        )


def _networks(environ: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    text = environ.get(name, "").strip()
    if not text:
        return default
    networks = []
    for part in text.split(","):
        try:
            networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name} must list addresses or networks (127.0.0.1,10.0.0.0/8), not {part!r}"
            ) from None
    return tuple(networks)


# A host name or an IPv4 address, optionally "*." in front; no port (the Host header's port is
# not compared).
_HOST_NAME = re.compile(r"^(\*\.)?[A-Za-z0-9.\-]{1,253}$")


def _host_names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    for name in names:
        if not _HOST_NAME.match(name) or name == "*":
            raise SettingsError(
                "SHUYUAN_ALLOWED_HOSTS must list host names (shuyuan.cn,*.shuyuan.cn), "
                f"not {name!r}"
            )
    return names


def _whole_days(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 4:
        raise SettingsError(f"{name} must be a whole number of days, not {text!r}")
    return int(text)


def _whole_number(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 8:
        raise SettingsError(f"{name} must be a whole number, not {text!r}")
    return int(text)


_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """A setting that is on or off: 1, true, yes or on; 0, false, no or off (any case)."""
    text = environ.get(name, "").strip().lower()
    if not text:
        return default
    if text not in _ON + _OFF:
        raise SettingsError(f"{name} must be 1 or 0 (true or false), not {text[:20]!r}")
    return text in _ON


def _wechat_app(
    environ: Mapping[str, str], prefix: str, default: WechatApp | None
) -> WechatApp | None:
    """{prefix}_APPID and {prefix}_SECRET, both or neither ("none" as the AppID: not offered)."""
    app_id = environ.get(f"{prefix}_APPID", "").strip()
    secret = environ.get(f"{prefix}_SECRET", "").strip()
    if app_id.lower() == "none":
        return None
    if not app_id and not secret:
        return default
    if not re.fullmatch(r"wx[0-9A-Za-z]{14,30}", app_id) or not secret:
        raise SettingsError(
            f"{prefix}_APPID (wx and 16 letters or digits) and {prefix}_SECRET go together"
        )
    return WechatApp(app_id, secret)


_PROVIDER_PAIR = re.compile(r"^([a-z_]{1,20}):([a-z]{1,20})$")


def _providers(text: str) -> tuple[tuple[str, str], ...]:
    """SHUYUAN_PROVIDERS: method:provider pairs, comma-separated; a method not named is
    Stripe's. Which pairs may be is checked with the rest (_check_providers)."""
    chosen = dict(STRIPE_ALONE)
    named: set[str] = set()
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        match = _PROVIDER_PAIR.match(part)
        if match is None or match[1] in named:
            raise SettingsError(
                "SHUYUAN_PROVIDERS must list method:provider pairs, each method once "
                f"(card:stripe,wechat_pay:wechatpay,alipay:alipay), not {part[:40]!r}"
            )
        named.add(match[1])
        chosen[match[1]] = match[2]
    return tuple(chosen.items())


def _check_providers(settings: Settings) -> None:
    for method, provider in settings.providers:
        if method not in PROVIDERS_OF_METHOD:
            raise SettingsError(
                f"SHUYUAN_PROVIDERS names {method!r}: methods are {', '.join(PAYMENT_METHODS)}"
            )
        if provider not in PROVIDERS_OF_METHOD[method]:
            raise SettingsError(
                f"SHUYUAN_PROVIDERS: {method} goes to "
                f"{' or '.join(PROVIDERS_OF_METHOD[method])}, not {provider!r}"
            )
    if settings.provider_of("wechat_pay") == "wechatpay" and settings.wechat_pay is None:
        raise SettingsError("SHUYUAN_PROVIDERS=wechat_pay:wechatpay needs the WECHATPAY_* settings")
    if settings.provider_of("alipay") == "alipay" and settings.alipay is None:
        raise SettingsError("SHUYUAN_PROVIDERS=alipay:alipay needs the ALIPAY_* settings")


def _alipay(environ: Mapping[str, str], production: bool, dev_folder: Path) -> AlipayAccount | None:
    """The ALIPAY_* application, all three or none; in development the stand-in's unless
    given (its keys in var/alipay/, made by the stand-in)."""
    values = [
        environ.get(name, "").strip()
        for name in ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY")
    ]
    if not any(values):
        return None if production else dev_alipay(dev_folder)
    if not all(values):
        raise SettingsError(
            "ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY and ALIPAY_PUBLIC_KEY go together"
        )
    return AlipayAccount(values[0], Path(values[1]), Path(values[2]))


def _check_alipay(settings: Settings, account: AlipayAccount) -> None:
    if not re.fullmatch(r"[0-9]{16}", account.app_id):
        raise SettingsError("ALIPAY_APP_ID must be the application's id (16 digits)")
    # Alipay takes a notify_url of 256 characters at most: ours is the public URL's.
    if len(settings.public_url.rstrip("/") + "/payments/notify/alipay") > 256:
        raise SettingsError("SHUYUAN_PUBLIC_URL is too long for Alipay's notify_url (256)")


def _check_alipay_in_production(settings: Settings) -> None:
    """Never the stand-in's application or address in production; the gateway and the
    notification URL Alipay calls (on the public URL) over HTTPS."""
    account = settings.alipay
    assert account is not None
    if account.app_id == DEV_ALIPAY_APP_ID:
        raise SettingsError("ALIPAY_APP_ID must be the application's own")
    if not settings.alipay_gateway.startswith("https://"):
        raise SettingsError("ALIPAY_GATEWAY must be https:// in production")
    if "alipaydev.com" in (urlsplit(settings.alipay_gateway).hostname or ""):
        # The sandbox's money is not money: goods must not go out for it.
        raise SettingsError("ALIPAY_GATEWAY must be Alipay's own in production, not the sandbox")
    if not settings.public_url.startswith("https://"):
        raise SettingsError("SHUYUAN_PUBLIC_URL must be https:// for Alipay's notifications")


def _wechat_pay(
    environ: Mapping[str, str], production: bool, dev_folder: Path
) -> WechatPayAccount | None:
    """The WECHATPAY_* merchant; in development the stand-in's unless given (its keys in
    var/wechatpay/, made by the stand-in). None in production without WECHATPAY_MCHID."""
    given = environ.get("WECHATPAY_MCHID", "").strip()
    if not given:
        return None if production else dev_wechat_pay(dev_folder)
    key_id = environ.get("WECHATPAY_PUBLIC_KEY_ID", "").strip() or None
    public_key = environ.get("WECHATPAY_PUBLIC_KEY", "").strip()
    return WechatPayAccount(
        mchid=given,
        appid=environ.get("WECHATPAY_APPID", "").strip(),
        merchant_serial=environ.get("WECHATPAY_MERCHANT_SERIAL", "").strip(),
        private_key=Path(environ.get("WECHATPAY_PRIVATE_KEY", "").strip()),
        apiv3_key=environ.get("WECHATPAY_APIV3_KEY", "").strip(),
        public_key_id=key_id,
        public_key=Path(public_key) if public_key else None,
    )


def _check_wechat_pay(account: WechatPayAccount) -> None:
    if not re.fullmatch(r"[0-9]{8,12}", account.mchid):
        raise SettingsError("WECHATPAY_MCHID must be the merchant number (digits)")
    if not re.fullmatch(r"wx[0-9A-Za-z]{14,30}", account.appid):
        raise SettingsError("WECHATPAY_APPID must be the AppID bound to the merchant (wx...)")
    if not re.fullmatch(r"[0-9A-Fa-f]{8,64}", account.merchant_serial):
        raise SettingsError("WECHATPAY_MERCHANT_SERIAL must be the API certificate's serial (hex)")
    if not str(account.private_key) or str(account.private_key) == ".":
        raise SettingsError("WECHATPAY_PRIVATE_KEY must name the file apiclient_key.pem")
    if len(account.apiv3_key.encode()) != 32:
        raise SettingsError("WECHATPAY_APIV3_KEY must be the 32-character APIv3 key")
    if (account.public_key_id is None) != (account.public_key is None):
        raise SettingsError("WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY go together")
    if account.public_key_id is not None and not re.fullmatch(
        r"PUB_KEY_ID_[0-9]{16,40}", account.public_key_id
    ):
        raise SettingsError("WECHATPAY_PUBLIC_KEY_ID must look like PUB_KEY_ID_0112...")


def _check_wechat_pay_in_production(settings: Settings) -> None:
    """Never the stand-in's merchant, keys or address in production; WeChat Pay's API and the
    notification URL it calls (on the public URL) over HTTPS; the official account set, whose
    openid pays inside WeChat."""
    account = settings.wechat_pay
    assert account is not None
    dev = dev_wechat_pay()
    if account.mchid == dev.mchid or account.apiv3_key == dev.apiv3_key:
        raise SettingsError("WECHATPAY_MCHID and WECHATPAY_APIV3_KEY must be the merchant's own")
    if not settings.wechatpay_api_base.startswith("https://"):
        raise SettingsError("WECHATPAY_API_BASE must be https:// in production")
    if not settings.public_url.startswith("https://"):
        raise SettingsError("SHUYUAN_PUBLIC_URL must be https:// for WeChat Pay's notifications")
    if settings.provider_of("wechat_pay") == "wechatpay" and settings.wechat_official is None:
        raise SettingsError("WeChat Pay directly needs the official account (WECHAT_MP_APPID)")


def _sms_account(environ: Mapping[str, str], production: bool) -> SmsAccount | None:
    """SHUYUAN_SMS_PROVIDER (aliyun, tencent or none) and the gateway's SMS_* settings."""
    provider = environ.get("SHUYUAN_SMS_PROVIDER", "").strip().lower()
    if provider == "none" or (production and not provider):
        return None
    if not provider:
        return DEV_SMS
    if provider not in SMS_PROVIDERS:
        raise SettingsError(
            f"SHUYUAN_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)} or none"
        )
    values = {
        name: environ.get(f"SMS_{name.upper()}", "").strip()
        for name in ("access_key_id", "access_key_secret", "sign_name", "template", "app_id")
    }
    missing = [
        f"SMS_{name.upper()}"
        for name, value in values.items()
        if not value and (name != "app_id" or provider == "tencent")
    ]
    if missing:
        raise SettingsError(f"SHUYUAN_SMS_PROVIDER={provider} needs {', '.join(missing)}")
    endpoint = environ.get("SMS_ENDPOINT", "").strip() or (
        PROD_SMS_ENDPOINTS[provider] if production else DEV_SMS_ENDPOINT
    )
    return SmsAccount(provider=provider, endpoint=endpoint, **values)


def _known_list() -> str:
    return ", ".join(sorted(KNOWN_VARIABLES))


def _development_secret_key(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if len(existing) >= MIN_SECRET_KEY_LENGTH:
        return existing
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _check_database_url(url: str, name: str = "DATABASE_URL") -> None:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if not (parts.netloc + parts.path):
            raise SettingsError(f"{name} sqlite:// needs a file path, e.g. sqlite://var/db.sqlite3")
        return
    if parts.scheme in ("postgres", "postgresql"):
        if not parts.hostname or not parts.path.strip("/"):
            raise SettingsError(f"{name} must look like postgres://user@host:5432/dbname")
        try:
            _ = parts.port
        except ValueError:
            raise SettingsError(f"{name} has a port that is not a number") from None
        return
    raise SettingsError(
        f"{name} must start with sqlite:// or postgres://, not {parts.scheme or url!r}"
    )


# 京ICP备2026000001号-1, 沪ICP证080001号: a province's one-character name, ICP备 (a filing) or
# ICP证 (a licence), the number, 号, and for a filing the site's serial number.
ICP_FILING = re.compile(r"[\u4e00-\u9fff]ICP[备证]\d{6,12}号(?:-\d{1,3})?")
# 京公网安备11010502000001号: the province, 公网安备, a 14-digit number (the filing system's
# query takes it), 号.
PUBLIC_SECURITY_FILING = re.compile(r"[\u4e00-\u9fff]公网安备(\d{14})号")


def _check_filings(settings: Settings) -> None:
    if settings.icp_filing is not None and not ICP_FILING.fullmatch(settings.icp_filing):
        raise SettingsError(
            f"SHUYUAN_ICP_FILING must read like 京ICP备2026000001号-1, not {settings.icp_filing!r}"
        )
    if settings.public_security_filing is not None and not PUBLIC_SECURITY_FILING.fullmatch(
        settings.public_security_filing
    ):
        raise SettingsError(
            "SHUYUAN_PUBLIC_SECURITY_FILING must read like 京公网安备11010502000001号, not "
            f"{settings.public_security_filing!r}"
        )
    if settings.business_licence_url is not None:
        _check_http_url("SHUYUAN_BUSINESS_LICENCE_URL", settings.business_licence_url)


def _check_podcast_owner(settings: Settings) -> None:
    name, email = settings.podcast_owner_name, settings.podcast_owner_email
    if name is not None and (len(name) > 100 or not name.isprintable()):
        raise SettingsError("SHUYUAN_PODCAST_OWNER_NAME must be one line of at most 100 characters")
    if email is not None and (len(email) > 200 or not _PODCAST_OWNER_EMAIL.fullmatch(email)):
        raise SettingsError(
            f"SHUYUAN_PODCAST_OWNER_EMAIL must be an address (podcast@example.cn), not {email!r}"
        )


STORAGES = ("local", "s3")
S3_ADDRESSING_STYLES = ("auto", "path", "virtual")
# An nginx internal location's prefix: a path from / to /, nothing nginx would rewrite.
_ACCEL_PREFIX = re.compile(r"^/[A-Za-z0-9_\-/]{0,62}/$")
# S3's own rule for a bucket's name (OSS and COS follow it; COS adds "-<appid>").
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def _s3_bucket(environ: Mapping[str, str]) -> S3Bucket | None:
    """The S3_* settings, when S3_BUCKET is set (SHUYUAN_STORAGE=s3 needs them)."""
    bucket = environ.get("S3_BUCKET", "").strip()
    if not bucket:
        return None
    missing = [
        name for name in ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY") if not environ.get(name)
    ]
    if missing:
        raise SettingsError(f"S3_BUCKET is set, so {' and '.join(missing)} must be too")
    return S3Bucket(
        bucket=bucket,
        access_key_id=environ["S3_ACCESS_KEY_ID"].strip(),
        secret_access_key=environ["S3_SECRET_ACCESS_KEY"].strip(),
        endpoint_url=environ.get("S3_ENDPOINT_URL", "").strip().rstrip("/") or None,
        region=environ.get("S3_REGION", "").strip() or S3Bucket.region,
        addressing_style=environ.get("S3_ADDRESSING_STYLE", "").strip().lower()
        or S3Bucket.addressing_style,
    )


def _check_storage(settings: Settings) -> None:
    if settings.storage not in STORAGES:
        raise SettingsError(
            f"SHUYUAN_STORAGE must be one of {', '.join(STORAGES)}, not {settings.storage!r}"
        )
    if settings.storage == "s3" and settings.s3 is None:
        raise SettingsError(
            "SHUYUAN_STORAGE=s3 needs S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"
        )
    if settings.accel_redirect and not _ACCEL_PREFIX.match(settings.accel_redirect):
        raise SettingsError(
            "SHUYUAN_ACCEL_REDIRECT must be an nginx location's path that starts and ends "
            f"with / (/_protected/), or empty, not {settings.accel_redirect!r}"
        )
    s3 = settings.s3
    if s3 is None:
        return
    if not _BUCKET_NAME.match(s3.bucket) or ".." in s3.bucket:
        raise SettingsError(f"S3_BUCKET must be a bucket's name (my-bucket), not {s3.bucket!r}")
    if s3.endpoint_url is not None:
        _check_http_url("S3_ENDPOINT_URL", s3.endpoint_url)
    if s3.addressing_style not in S3_ADDRESSING_STYLES:
        raise SettingsError(
            f"S3_ADDRESSING_STYLE must be one of {', '.join(S3_ADDRESSING_STYLES)}, "
            f"not {s3.addressing_style!r}"
        )
    if not re.fullmatch(r"[a-z0-9\-]{1,40}", s3.region):
        raise SettingsError(
            f"S3_REGION must be a region's name (oss-cn-hangzhou), not {s3.region!r}"
        )


def _check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} must be an http(s) URL, not {url!r}")


def _check_redis_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(
            f"REDIS_URL must start with redis://, rediss:// or unix://, not {url!r}"
        )
