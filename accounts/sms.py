"""Sending a sign-in code by SMS: one interface, and the two mainland gateways behind it.

`SmsSender.send_code(phone, code)` sends "your code is ..." to a mainland mobile number through
the gateway the settings name (settings.sms.provider): Alibaba Cloud SMS (dysmsapi) or Tencent
Cloud SMS. Either sends only with a signature (签名, the 【书院】 before the text) and a
template approved in its console: the template must hold the code as its parameter
(Alibaba Cloud: `${code}`; Tencent Cloud: `{1}` the code and `{2}` the minutes it lasts).
Each gateway's SDK and its exceptions stay in this module: a gateway that refuses or does not
answer is SmsUnavailable (503) to everyone else. Codes, keys and numbers are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Protocol

from alibabacloud_dysmsapi20170525 import models as aliyun_models
from alibabacloud_dysmsapi20170525.client import Client as AliyunClient
from alibabacloud_tea_openapi import models as open_api_models
from darabonba.runtime import RuntimeOptions
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tencent_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from errors import ServiceUnavailable
from settings import SmsAccount

log = logging.getLogger(__name__)

CODE_MINUTES = 5  # what the message says; accounts.phones.CODE_FOR is the rule
TIMEOUT_SECONDS = 10


class SmsUnavailable(ServiceUnavailable):
    """The SMS gateway refused the message or did not answer: nothing was sent."""

    default_message = "Text messages cannot be sent right now; please try again in a few minutes."
    retry_after = 60


class SmsSender(Protocol):
    async def send_code(self, phone: str, code: str) -> None:
        """Send `code` to `phone` (+86 and 11 digits). Raises SmsUnavailable."""

    async def aclose(self) -> None:
        """Release what the sender holds."""


def _http_only_locally(endpoint: str) -> str:
    """The development stand-in listens on 127.0.0.1 without TLS; every real gateway is https."""
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 else endpoint
    return "http" if host in ("127.0.0.1", "localhost") else "https"


class AliyunSender:
    """Alibaba Cloud SMS (dysmsapi 2017-05-25) with its async SDK: SendSms with the approved
    SignName and TemplateCode, the code as the template's `${code}`."""

    def __init__(self, account: SmsAccount) -> None:
        self._account = account
        self._client = AliyunClient(
            open_api_models.Config(
                access_key_id=account.access_key_id,
                access_key_secret=account.access_key_secret,
                endpoint=account.endpoint,
                protocol=_http_only_locally(account.endpoint),
            )
        )

    async def send_code(self, phone: str, code: str) -> None:
        request = aliyun_models.SendSmsRequest(
            phone_numbers=phone.removeprefix("+86"),
            sign_name=self._account.sign_name,
            template_code=self._account.template,
            template_param=json.dumps({"code": code}),
        )
        runtime = RuntimeOptions(
            autoretry=False,  # a message sent twice is two codes and two fees
            connect_timeout=TIMEOUT_SECONDS * 1000,
            read_timeout=TIMEOUT_SECONDS * 1000,
        )
        try:
            answer = await self._client.send_sms_with_options_async(request, runtime)
        except Exception as exc:  # the SDK's, aiohttp's and the OS's: none may escape
            log.warning("SMS not sent: Alibaba Cloud unreachable (%s)", type(exc).__name__)
            raise SmsUnavailable() from None
        gateway_code = str(answer.body.code if answer.body else "")
        if gateway_code != "OK":
            log.warning("SMS not sent: Alibaba Cloud answered %s", gateway_code[:80])
            raise SmsUnavailable()

    async def aclose(self) -> None:
        """Nothing to close: the SDK opens a session per request."""


class TencentSender:
    """Tencent Cloud SMS (API 2021-01-11) with its SDK (blocking: in a thread): SendSms with the
    approved SignName, TemplateId and SmsSdkAppId; the template's {1} is the code, {2} the
    minutes."""

    def __init__(self, account: SmsAccount) -> None:
        self._account = account
        profile = ClientProfile(
            httpProfile=HttpProfile(
                endpoint=account.endpoint,
                protocol=_http_only_locally(account.endpoint),
                reqTimeout=TIMEOUT_SECONDS,
            )
        )
        self._client = SmsClient(
            credential.Credential(account.access_key_id, account.access_key_secret),
            "ap-guangzhou",
            profile,
        )

    def _send(self, phone: str, code: str) -> str:
        request = tencent_models.SendSmsRequest()
        request.PhoneNumberSet = [phone]
        request.SmsSdkAppId = self._account.app_id
        request.SignName = self._account.sign_name
        request.TemplateId = self._account.template
        request.TemplateParamSet = [code, str(CODE_MINUTES)]
        answer = self._client.SendSms(request)
        statuses = answer.SendStatusSet or []
        return str(statuses[0].Code) if statuses else ""

    async def send_code(self, phone: str, code: str) -> None:
        try:
            gateway_code = await asyncio.to_thread(self._send, phone, code)
        except Exception as exc:  # the SDK's, requests' and the OS's: none may escape
            log.warning("SMS not sent: Tencent Cloud unreachable (%s)", type(exc).__name__)
            raise SmsUnavailable() from None
        if gateway_code != "Ok":
            log.warning("SMS not sent: Tencent Cloud answered %s", gateway_code[:80])
            raise SmsUnavailable()

    async def aclose(self) -> None:
        """Nothing to close: the SDK opens a connection per request."""


class NoSender:
    """Phone sign-in is not offered (no gateway configured): every send is refused."""

    async def send_code(self, phone: str, code: str) -> None:
        raise SmsUnavailable("Signing in with a phone number is not offered here.")

    async def aclose(self) -> None:
        """Nothing to close."""


def make_sender(account: SmsAccount | None) -> SmsSender:
    """The sender for the configured gateway (settings.sms), built once per app."""
    if account is None:
        return NoSender()
    if account.provider == "tencent":
        return TencentSender(account)
    return AliyunSender(account)
