"""The SMS stand-in (devserver/sms.py) takes what the gateways' own SDKs send, over real HTTP:
Alibaba Cloud's current SDK (signature v3) and Tencent Cloud's (TC3-HMAC-SHA256), checks their
signatures, signs, templates and numbers as the gateways do, and keeps each message as a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_dysmsapi20170525 import models as aliyun_models
from alibabacloud_dysmsapi20170525.client import Client as AliyunClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tencent_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from tests.live import stand_in

ROOT = Path(__file__).resolve().parents[1]
ALIYUN_KEY = ("LTAI5tDevelopment", "aliyun-dev-secret")
TENCENT_KEY = ("AKIDDevelopment", "tencent-dev-secret")
ALIYUN_TEMPLATE = "SMS_000001"
TENCENT_TEMPLATE = "1000001"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("sms")
    arguments = [
        "--folder", str(folder),
        "--access-key", ":".join(ALIYUN_KEY),
        "--access-key", ":".join(TENCENT_KEY),
        "--sign", "书院",
        "--template", f"{ALIYUN_TEMPLATE}=您的验证码为${{code}}，5分钟内有效。",
        "--template", f"{TENCENT_TEMPLATE}=您的验证码为{{1}}，{{2}}分钟内有效。",
    ]  # fmt: skip
    with stand_in("sms", *arguments, probe="/_messages", log_folder=folder.parent) as url:
        yield url.removeprefix("http://"), folder


def _aliyun(endpoint: str, secret: str = ALIYUN_KEY[1]) -> AliyunClient:
    return AliyunClient(
        open_api_models.Config(
            access_key_id=ALIYUN_KEY[0],
            access_key_secret=secret,
            endpoint=endpoint,
            protocol="http",
        )
    )


def _aliyun_send(client: AliyunClient, phone: str, template: str = ALIYUN_TEMPLATE) -> str:
    answer = client.send_sms(
        aliyun_models.SendSmsRequest(
            phone_numbers=phone,
            sign_name="书院",
            template_code=template,
            template_param=json.dumps({"code": "246810"}),
        )
    )
    return str(answer.body.code)


def _kept(folder: Path, phone: str) -> list[dict[str, str]]:
    found = [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))]
    return [message for message in found if message["phone"] == phone]


def test_aliyuns_sdk_sends_a_code_that_lands_in_the_folder(gateway: tuple[str, Path]) -> None:
    endpoint, folder = gateway
    assert _aliyun_send(_aliyun(endpoint), "13800138000") == "OK"
    [message] = _kept(folder, "13800138000")
    assert message["provider"] == "aliyun"
    assert message["text"] == "【书院】您的验证码为246810，5分钟内有效。"


def test_aliyun_refuses_a_wrong_secret_a_bad_number_and_an_unknown_template(
    gateway: tuple[str, Path],
) -> None:
    endpoint, folder = gateway
    with pytest.raises(ClientException) as refused:
        _aliyun_send(_aliyun(endpoint, secret="wrong"), "13800138001")
    assert refused.value.code == "SignatureDoesNotMatch"
    assert _aliyun_send(_aliyun(endpoint), "1380013800") == "isv.MOBILE_NUMBER_ILLEGAL"
    assert _aliyun_send(_aliyun(endpoint), "13800138002", "SMS_404") == "isv.SMS_TEMPLATE_ILLEGAL"
    assert _kept(folder, "13800138001") == [] and _kept(folder, "13800138002") == []


def test_aliyun_limits_one_number_to_one_message_a_minute(gateway: tuple[str, Path]) -> None:
    endpoint, folder = gateway
    client = _aliyun(endpoint)
    assert _aliyun_send(client, "13800138003") == "OK"
    assert _aliyun_send(client, "13800138003") == "isv.BUSINESS_LIMIT_CONTROL"
    assert len(_kept(folder, "13800138003")) == 1


def _tencent(endpoint: str, secret: str = TENCENT_KEY[1]) -> SmsClient:
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http"))
    return SmsClient(credential.Credential(TENCENT_KEY[0], secret), "ap-guangzhou", profile)


def _tencent_request(*numbers: str) -> tencent_models.SendSmsRequest:
    request = tencent_models.SendSmsRequest()
    request.PhoneNumberSet = list(numbers)
    request.SmsSdkAppId = "1400000000"
    request.SignName = "书院"
    request.TemplateId = TENCENT_TEMPLATE
    request.TemplateParamSet = ["135790", "5"]
    return request


def test_tencents_sdk_sends_with_a_status_per_number(gateway: tuple[str, Path]) -> None:
    endpoint, folder = gateway
    answer = _tencent(endpoint).SendSms(_tencent_request("+8613900139000", "+8612345"))
    codes = [status.Code for status in answer.SendStatusSet]
    assert codes == ["Ok", "InvalidParameterValue.IncorrectPhoneNumber"]
    [message] = _kept(folder, "13900139000")
    assert message["provider"] == "tencent"
    assert message["text"] == "【书院】您的验证码为135790，5分钟内有效。"


def test_tencent_refuses_a_wrong_secret_and_a_second_message_within_thirty_seconds(
    gateway: tuple[str, Path],
) -> None:
    endpoint, folder = gateway
    with pytest.raises(TencentCloudSDKException) as refused:
        _tencent(endpoint, secret="wrong").SendSms(_tencent_request("+8613900139001"))
    assert refused.value.code == "AuthFailure.SignatureFailure"
    client = _tencent(endpoint)
    assert client.SendSms(_tencent_request("+8613900139002")).SendStatusSet[0].Code == "Ok"
    again = client.SendSms(_tencent_request("+8613900139002")).SendStatusSet[0].Code
    assert again == "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert _kept(folder, "13900139001") == [] and len(_kept(folder, "13900139002")) == 1
