"""Settings come from the environment; a bad or unknown one stops start-up with one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from db import tortoise_config
from settings import Settings, SettingsError

KEY = "k" * 40


def settings_from(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"SHUYUAN_VAR_DIR": str(tmp_path / "var"), **env})


def test_defaults_are_safe_for_development(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)
    assert settings.env == "development"
    assert settings.database_url == f"sqlite://{tmp_path / 'var' / 'shuyuan.sqlite3'}"
    assert settings.stripe_api_base == "http://127.0.0.1:8420"
    assert settings.redis_url is None
    assert not settings.is_production


def test_the_development_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = settings_from(tmp_path)
    second = settings_from(tmp_path)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == first.secret_key
    assert key_file.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_values_from_the_environment_are_used(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/shuyuan",
        SECRET_KEY=KEY,
        STRIPE_API_BASE="http://127.0.0.1:9999/",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert settings.is_postgres
    assert settings.secret_key == KEY
    assert settings.stripe_api_base == "http://127.0.0.1:9999"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert KEY not in repr(settings)  # secrets stay out of logs


def test_the_podcast_owner_is_mail_froms_unless_set(tmp_path: Path) -> None:
    derived = settings_from(tmp_path, MAIL_FROM="书院编辑部 <editors@shuyuan.cn>")
    assert derived.podcast_owner == ("书院编辑部", "editors@shuyuan.cn")
    bare = settings_from(tmp_path, MAIL_FROM="editors@shuyuan.cn")
    assert bare.podcast_owner == ("书院 Shuyuan", "editors@shuyuan.cn")
    named = settings_from(
        tmp_path,
        SHUYUAN_PODCAST_OWNER_NAME="书院播客",
        SHUYUAN_PODCAST_OWNER_EMAIL="podcast@shuyuan.cn",
    )
    assert named.podcast_owner == ("书院播客", "podcast@shuyuan.cn")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"STRIPE_SECRETKEY": "sk_test_x"}, "STRIPE_SECRETKEY"),
        ({"SHUYUAN_ENVIRONMENT": "production"}, "SHUYUAN_ENVIRONMENT"),
        ({"SHUYUAN_ENV": "staging"}, "SHUYUAN_ENV"),
        ({"DATABASE_URL": "mysql://root@localhost/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://127.0.0.1:5432"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@127.0.0.1:port/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite://"}, "DATABASE_URL"),
        ({"DATABASE_DIRECT_URL": "postgres://u@127.0.0.1:5432/db"}, "DATABASE_DIRECT_URL"),
        (
            {
                "DATABASE_URL": "postgres://u@127.0.0.1:6432/db",
                "DATABASE_DIRECT_URL": "postgres://127.0.0.1:5432",
            },
            "DATABASE_DIRECT_URL",
        ),
        ({"STRIPE_API_BASE": "localhost:8420"}, "STRIPE_API_BASE"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY"),
        ({"SHUYUAN_PODCAST_OWNER_EMAIL": "podcast at example.cn"}, "SHUYUAN_PODCAST_OWNER_EMAIL"),
        ({"SHUYUAN_PODCAST_OWNER_EMAIL": "<a@b.cn>"}, "SHUYUAN_PODCAST_OWNER_EMAIL"),
        ({"SHUYUAN_PODCAST_OWNER_NAME": "书院\n编辑部"}, "SHUYUAN_PODCAST_OWNER_NAME"),
        ({"SHUYUAN_REQUIRE_VERIFIED_MOBILE": "maybe"}, "SHUYUAN_REQUIRE_VERIFIED_MOBILE"),
        (  # nobody could link a number, so nobody could post
            {"SHUYUAN_REQUIRE_VERIFIED_MOBILE": "1", "SHUYUAN_SMS_PROVIDER": "none"},
            "SHUYUAN_REQUIRE_VERIFIED_MOBILE",
        ),
    ],
)
def test_unknown_or_malformed_settings_are_refused_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from(tmp_path, **env)
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_the_real_name_rule_is_off_unless_switched_on(tmp_path: Path) -> None:
    assert settings_from(tmp_path).require_verified_mobile is False
    for on in ("1", "true", "Yes", "ON"):
        assert settings_from(tmp_path, SHUYUAN_REQUIRE_VERIFIED_MOBILE=on).require_verified_mobile
    for off in ("0", "false", "no", "off", ""):
        switched = settings_from(tmp_path, SHUYUAN_REQUIRE_VERIFIED_MOBILE=off)
        assert switched.require_verified_mobile is False


def test_production_requires_a_secret_key_and_real_stripe_keys(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY is required in production"):
        settings_from(tmp_path, SHUYUAN_ENV="production")
    with pytest.raises(SettingsError, match="STRIPE_SECRET_KEY must be set"):
        settings_from(tmp_path, SHUYUAN_ENV="production", SECRET_KEY=KEY)
    settings = settings_from(
        tmp_path,
        SHUYUAN_ENV="production",
        SECRET_KEY=KEY,
        STRIPE_SECRET_KEY="sk_live_abc",
        STRIPE_WEBHOOK_SECRET="whsec_abc",
        SHUYUAN_PUBLIC_URL="https://shuyuan.example.cn",
    )
    assert settings.stripe_api_base == "https://api.stripe.com"
    assert not (tmp_path / "var" / "secret_key").exists()  # never generated in production


def test_wechat_pay_directly_in_production_needs_the_merchants_own_values(
    tmp_path: Path,
) -> None:
    base = {
        "SHUYUAN_ENV": "production",
        "SECRET_KEY": KEY,
        "STRIPE_SECRET_KEY": "sk_live_abc",
        "STRIPE_WEBHOOK_SECRET": "whsec_abc",
        "SHUYUAN_PUBLIC_URL": "https://shuyuan.example.cn",
    }
    assert settings_from(tmp_path, **base).wechat_pay is None  # no merchant: through Stripe
    with pytest.raises(SettingsError, match="WECHATPAY"):
        settings_from(tmp_path, **base, SHUYUAN_PROVIDERS="wechat_pay:wechatpay")
    merchant = {
        "SHUYUAN_PROVIDERS": "wechat_pay:wechatpay",
        "WECHATPAY_MCHID": "1900012345",
        "WECHATPAY_APPID": "wx1234567890abcdef",
        "WECHATPAY_MERCHANT_SERIAL": "ABCDEF0123456789",
        "WECHATPAY_PRIVATE_KEY": "/etc/shuyuan/apiclient_key.pem",
        "WECHATPAY_APIV3_KEY": "m" * 32,
        "WECHAT_MP_APPID": "wx1234567890abcdef",
        "WECHAT_MP_SECRET": "secret",
    }
    settings = settings_from(tmp_path, **base, **merchant)
    assert settings.wechat_pay is not None and settings.wechat_pay.mchid == "1900012345"
    assert settings.wechatpay_api_base == "https://api.mch.weixin.qq.com"
    for change, named in (
        ({"WECHATPAY_MCHID": "1230000109"}, "WECHATPAY_MCHID"),  # the stand-in's merchant
        ({"WECHATPAY_API_BASE": "http://127.0.0.1:8033"}, "WECHATPAY_API_BASE"),
        ({"WECHAT_MP_APPID": "wx0fficia1000001"}, "WECHATPAY_APPID"),
        ({"WECHATPAY_APIV3_KEY": "short"}, "WECHATPAY_APIV3_KEY"),
    ):
        with pytest.raises(SettingsError, match=named):
            settings_from(tmp_path, **base, **{**merchant, **change})


def test_the_cli_stops_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SHUYUAN_", "STRIPE_")) and key not in ("DATABASE_URL", "SECRET_KEY")
    }
    env.update(SHUYUAN_VAR_DIR=str(tmp_path / "var"), STRIPE_SECRETKEY="sk_test_typo")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "STRIPE_SECRETKEY" in lines[0]
    assert not (tmp_path / "var" / "shuyuan.sqlite3").exists()


def test_checkout_pages_load_stripe_js_from_stripe_only_in_production(tmp_path: Path) -> None:
    assert settings_from(tmp_path).stripe_js_url == "http://127.0.0.1:8420/js.stripe.com/v3/"
    production = settings_from(
        tmp_path,
        SHUYUAN_ENV="production",
        SECRET_KEY=KEY,
        STRIPE_SECRET_KEY="sk_live_abc",
        STRIPE_WEBHOOK_SECRET="whsec_abc",
        SHUYUAN_PUBLIC_URL="https://shuyuan.example.cn",
    )
    assert production.stripe_js_url == "https://js.stripe.com/v3/"


def test_each_method_goes_to_the_provider_named_and_stripe_alone_by_default(
    tmp_path: Path,
) -> None:
    assert settings_from(tmp_path).providers == (
        ("wechat_pay", "stripe"),
        ("alipay", "stripe"),
        ("card", "stripe"),
    )
    chosen = settings_from(tmp_path, SHUYUAN_PROVIDERS="alipay:alipay, wechat_pay:wechatpay")
    assert (chosen.provider_of("card"), chosen.provider_of("alipay")) == ("stripe", "alipay")
    assert chosen.provider_of("wechat_pay") == "wechatpay"
    for text, named in (
        ("card:alipay", "card goes to stripe"),
        ("alipay:wechatpay", "alipay goes to stripe or alipay"),
        ("bitcoin:stripe", "methods are"),
        ("alipay:alipay,alipay:stripe", "each method once"),
        ("alipay", "method:provider pairs"),
    ):
        with pytest.raises(SettingsError, match=named):
            settings_from(tmp_path, SHUYUAN_PROVIDERS=text)
    with pytest.raises(SettingsError, match="SHUYUAN_PROVIDERS"):
        settings_from(tmp_path, SHUYUAN_WECHAT_PAY="direct")  # gone: says what replaced it


def test_alipay_directly_in_production_needs_the_applications_own_values(
    tmp_path: Path,
) -> None:
    base = {
        "SHUYUAN_ENV": "production",
        "SECRET_KEY": KEY,
        "STRIPE_SECRET_KEY": "sk_live_abc",
        "STRIPE_WEBHOOK_SECRET": "whsec_abc",
        "SHUYUAN_PUBLIC_URL": "https://shuyuan.example.cn",
    }
    assert settings_from(tmp_path, **base).alipay is None  # none set: no Alipay account
    with pytest.raises(SettingsError, match="ALIPAY"):
        settings_from(tmp_path, **base, SHUYUAN_PROVIDERS="alipay:alipay")
    application = {
        "SHUYUAN_PROVIDERS": "alipay:alipay",
        "ALIPAY_APP_ID": "2021004100000001",
        "ALIPAY_APP_PRIVATE_KEY": "/etc/shuyuan/alipay_app_private_key.pem",
        "ALIPAY_PUBLIC_KEY": "/etc/shuyuan/alipay_public_key.pem",
    }
    settings = settings_from(tmp_path, **base, **application)
    assert settings.alipay is not None and settings.alipay.app_id == "2021004100000001"
    assert settings.alipay_gateway == "https://openapi.alipay.com/gateway.do"
    for change, named in (
        ({"ALIPAY_APP_ID": "9021000100000001"}, "ALIPAY_APP_ID"),  # the stand-in's
        ({"ALIPAY_APP_ID": "20210041"}, "ALIPAY_APP_ID"),
        ({"ALIPAY_GATEWAY": "http://127.0.0.1:8034/gateway.do"}, "ALIPAY_GATEWAY"),
        (
            {"ALIPAY_GATEWAY": "https://openapi-sandbox.dl.alipaydev.com/gateway.do"},
            "sandbox",
        ),
        ({"ALIPAY_PUBLIC_KEY": ""}, "go together"),
        ({"SHUYUAN_PUBLIC_URL": "https://shuyuan.example.cn/" + "a" * 240}, "too long"),
    ):
        with pytest.raises(SettingsError, match=named):
            settings_from(tmp_path, **{**base, **application, **change})


def test_every_documented_variable_is_one_the_app_accepts() -> None:
    """A variable docs/configuration.md lists must not stop start-up as an unknown setting
    (four did, until this test)."""
    from pathlib import Path

    from settings import KNOWN_VARIABLES

    table = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text(
        encoding="utf-8"
    )
    documented = set(re.findall(r"^\| `(SHUYUAN_[A-Z0-9_]+)`", table, re.MULTILINE))
    assert len(documented) > 20
    assert sorted(documented - KNOWN_VARIABLES) == []


def test_a_database_behind_pgbouncer_runs_the_app_without_prepared_statements(
    tmp_path: Path,
) -> None:
    """asyncpg's statement cache cannot cross PgBouncer's transaction pooling; LISTEN, the job
    queue and migrations use the direct address (tests/deploy runs the app through PgBouncer)."""
    pooled = settings_from(
        tmp_path,
        DATABASE_URL="postgres://app@127.0.0.1:6432/shuyuan",
        DATABASE_DIRECT_URL="postgres://app@127.0.0.1:5432/shuyuan",
    )
    assert pooled.pooled and pooled.direct_url.endswith(":5432/shuyuan")
    credentials = tortoise_config(pooled.database_url, pooled=True)["connections"]["default"]
    assert credentials["credentials"]["statement_cache_size"] == 0
    direct = settings_from(tmp_path, DATABASE_URL="postgres://app@127.0.0.1:5432/shuyuan")
    assert not direct.pooled and direct.direct_url == direct.database_url
    plain = tortoise_config(direct.database_url)["connections"]["default"]
    assert "statement_cache_size" not in plain["credentials"]


def test_the_balancers_whose_forwarded_headers_are_believed_are_a_setting(tmp_path: Path) -> None:
    assert settings_from(tmp_path).trusted_proxies == ("127.0.0.1/32",)
    elsewhere = settings_from(tmp_path, SHUYUAN_TRUSTED_PROXIES="10.0.1.0/24, 10.0.2.7")
    assert elsewhere.trusted_proxies == ("10.0.1.0/24", "10.0.2.7/32")
    with pytest.raises(SettingsError, match="SHUYUAN_TRUSTED_PROXIES"):
        settings_from(tmp_path, SHUYUAN_TRUSTED_PROXIES="nginx.internal")
