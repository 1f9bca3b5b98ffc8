"""A stand-in for two mainland SMS gateways, for development and tests: each message it accepts
is written as a JSON file to a folder (as the mail catcher keeps mail), after checking what
the real gateway checks. Real HTTP, real signatures, the gateways' own answers and codes.

    python -m devserver.sms --port 8032 --folder var/sms \
        --access-key LTAI-dev:dev-secret --sign 书院 \
        --template 'SMS_000001=您的验证码为${code}，5分钟内有效。' \
        --template '1000001=您的验证码为{1}，{2}分钟内有效。'

What it imitates:
- Alibaba Cloud SMS (dysmsapi, API version 2017-05-25): `SendSms` at `/`, signed with
  signature version 3 (ACS3-HMAC-SHA256: the canonical request over the method, path, sorted
  query, the signed headers and the body's SHA-256; x-acs-action, x-acs-version, x-acs-date
  within 15 minutes, x-acs-signature-nonce used once), as the current SDK
  (alibabacloud-dysmsapi20170525) sends it, or as an RPC call signed with version 1.0
  (HMAC-SHA1 over the sorted, percent-encoded parameters, key "secret&", with AccessKeyId,
  Timestamp, SignatureNonce, Action and Version as parameters), as older clients do;
  PhoneNumbers, SignName, TemplateCode, TemplateParam (JSON).
  Answers `{"Code": "OK", "Message": "OK", "BizId", "RequestId"}`, or its codes:
  SignatureDoesNotMatch, InvalidAccessKeyId.NotFound, SignatureNonceUsed,
  InvalidTimeStamp.Expired, MissingParameter, isv.MOBILE_NUMBER_ILLEGAL,
  isv.SMS_SIGNATURE_ILLEGAL, isv.SMS_TEMPLATE_ILLEGAL, isv.TEMPLATE_MISSING_PARAMETERS,
  isv.BUSINESS_LIMIT_CONTROL (per number: 1 a minute, 5 an hour, 10 a day).
- Tencent Cloud SMS (API 3.0, version 2021-01-11): `POST /` with a JSON body and the
  X-TC-Action: SendSms, X-TC-Version, X-TC-Timestamp headers, signed with TC3-HMAC-SHA256
  (canonical request over content-type and host); PhoneNumberSet (+86...), SmsSdkAppId,
  SignName, TemplateId, TemplateParamSet. Answers `{"Response": {"SendStatusSet": [...],
  "RequestId"}}` with Code "Ok" per number, or `{"Response": {"Error": {"Code", "Message"}}}`:
  AuthFailure.SignatureFailure, AuthFailure.SecretIdNotFound, AuthFailure.SignatureExpire,
  and per number InvalidParameterValue.IncorrectPhoneNumber,
  FailedOperation.SignatureIncorrectOrUnapproved, FailedOperation.TemplateIncorrectOrUnapproved,
  LimitExceeded.PhoneNumberThirtySecondLimit / OneHourLimit / DailyLimit (1 in 30 s, 5 an
  hour, 10 a day).
- `--flow-control off` lifts the per-number limits (tests that move the app's own clock).

Not imitated: delivery receipts and their callbacks, international numbers (only +86 mobiles
are accepted), the gateways' other actions, the Alibaba Cloud signature version 3, HTTPS,
content review of the template, fees.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
# The gateways' default limits per number (Alibaba Cloud's and Tencent Cloud's consoles).
ALIYUN_LIMITS = ((60, 1, "1 a minute"), (3600, 5, "5 an hour"), (86400, 10, "10 a day"))
TENCENT_LIMITS = (
    (30, 1, "LimitExceeded.PhoneNumberThirtySecondLimit"),
    (3600, 5, "LimitExceeded.PhoneNumberOneHourLimit"),
    (86400, 10, "LimitExceeded.PhoneNumberDailyLimit"),
)


@dataclass
class Gateway:
    folder: Path
    keys: dict[str, str]  # access key id (or SecretId) -> secret
    signs: frozenset[str]
    templates: dict[str, str]  # template code or id -> text with ${name} or {n}
    flow_control: bool = True
    nonces: set[str] = field(default_factory=set)
    sent: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def over_limit(self, phone: str, limits: tuple[tuple[int, int, str], ...]) -> str | None:
        if not self.flow_control:
            return None
        now = time.time()
        times = [t for t in self.sent[phone] if t > now - 86400]
        self.sent[phone] = times
        for seconds, most, name in limits:
            if sum(1 for t in times if t > now - seconds) >= most:
                return name
        return None

    def keep(self, provider: str, phone: str, sign: str, template: str, text: str) -> str:
        """Write the message down (what the phone would show), and count it against the number."""
        self.sent[phone].append(time.time())
        message_id = f"{int(time.time() * 1000)}-{secrets.token_hex(4)}"
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {
            "id": message_id,
            "provider": provider,
            "phone": phone,
            "sign": sign,
            "template": template,
            "text": f"【{sign}】{text}",
            "at": datetime.now(UTC).isoformat(),
        }
        path = self.folder / f"{message_id}.json"
        path.with_suffix(".tmp").write_text(json.dumps(record, ensure_ascii=False), "utf-8")
        path.with_suffix(".tmp").rename(path)  # a reader never sees half a file
        return message_id


# --- Alibaba Cloud: RPC, signature version 1.0 ------------------------------------------------


def percent_encode(text: str) -> str:
    """Alibaba Cloud's POP encoding: RFC 3986 unreserved characters kept, the rest %XX."""
    return quote(text, safe="-_.~")


def aliyun_signature(method: str, params: dict[str, str], secret: str) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _aliyun_error(code: str, message: str, status: int = 200) -> JSONResponse:
    return JSONResponse(
        {"Code": code, "Message": message, "RequestId": secrets.token_hex(16).upper()},
        status_code=status,
    )


ACS3 = re.compile(
    r"ACS3-HMAC-SHA256 Credential=(?P<id>[^,]+),SignedHeaders=(?P<headers>[a-z0-9;-]+),"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


def acs3_signature(
    *,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    signed: list[str],
    secret: str,
) -> str:
    """Alibaba Cloud's signature version 3 (ACS3-HMAC-SHA256) of a request, hex."""
    canonical_query = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(query.items())
    )
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        (
            method,
            path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        )
    )
    to_sign = f"ACS3-HMAC-SHA256\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def _aliyun_v3(gateway: Gateway, request: Request, body: bytes) -> dict[str, str] | JSONResponse:
    """The parameters of a call signed with version 3, or the gateway's refusal."""
    found = ACS3.fullmatch(request.headers.get("authorization", ""))
    if found is None:
        return _aliyun_error("IncompleteSignature", "The request signature is incomplete.", 400)
    secret = gateway.keys.get(found["id"])
    if secret is None:
        return _aliyun_error(
            "InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404
        )
    signed = found["headers"].split(";")
    headers = {k.lower(): v for k, v in request.headers.items()}
    if "host" not in signed or "x-acs-date" not in signed:
        return _aliyun_error("IncompleteSignature", "host and x-acs-* headers must be signed.", 400)
    if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
        return _aliyun_error("IncompleteSignature", "x-acs-content-sha256 does not match.", 400)
    expected = acs3_signature(
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers=headers,
        body=body,
        signed=signed,
        secret=secret,
    )
    if not hmac.compare_digest(expected, found["signature"]):
        return _aliyun_error(
            "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400
        )
    params = dict(request.query_params)
    params.update(
        AccessKeyId=found["id"],
        Timestamp=headers.get("x-acs-date", ""),
        SignatureNonce=headers.get("x-acs-signature-nonce", ""),
        Action=headers.get("x-acs-action", ""),
        Version=headers.get("x-acs-version", ""),
    )
    return params


async def aliyun(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    body = await request.body()
    if request.headers.get("authorization", "").startswith("ACS3-"):
        checked = _aliyun_v3(gateway, request, body)
        if isinstance(checked, JSONResponse):
            return checked
        return _aliyun_send(gateway, checked)
    return _aliyun_v1(gateway, request, body)


def _aliyun_v1(gateway: Gateway, request: Request, body: bytes) -> Response:
    params = dict(request.query_params)
    if request.method == "POST" and body:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "Action"):
        if not params.get(name):
            return _aliyun_error("MissingParameter", f"{name} is mandatory", 400)
    signature = params.pop("Signature")
    secret = gateway.keys.get(params["AccessKeyId"])
    if secret is None:
        return _aliyun_error(
            "InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404
        )
    expected = aliyun_signature(request.method, params, secret)
    if not hmac.compare_digest(signature, expected):
        return _aliyun_error(
            "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400
        )
    return _aliyun_send(gateway, params)


def _aliyun_send(gateway: Gateway, params: dict[str, str]) -> Response:
    """SendSms, its signature checked: the rest of what the gateway checks, then the message."""
    for name in ("SignatureNonce", "Timestamp", "Action"):
        if not params.get(name):
            return _aliyun_error("MissingParameter", f"{name} is mandatory", 400)
    try:
        at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return _aliyun_error("InvalidTimeStamp.Format", "Specified time stamp is invalid.", 400)
    if abs((datetime.now(UTC) - at).total_seconds()) > 900:
        return _aliyun_error("InvalidTimeStamp.Expired", "Specified time stamp is expired.", 400)
    if params["SignatureNonce"] in gateway.nonces:
        return _aliyun_error(
            "SignatureNonceUsed", "Specified signature nonce was used already.", 400
        )
    gateway.nonces.add(params["SignatureNonce"])
    if params["Action"] != "SendSms" or params.get("Version") != "2017-05-25":
        return _aliyun_error("InvalidAction.NotFound", "Specified api is not found.", 404)
    phone = params.get("PhoneNumbers", "").removeprefix("+86").removeprefix("86")
    if not MAINLAND_MOBILE.fullmatch(phone):
        return _aliyun_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    if params.get("SignName") not in gateway.signs:
        return _aliyun_error("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
    text = gateway.templates.get(params.get("TemplateCode", ""))
    if text is None or not text.count("${"):
        return _aliyun_error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
    try:
        values = json.loads(params.get("TemplateParam") or "{}")
    except ValueError:
        return _aliyun_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    names = re.findall(r"\$\{(\w+)\}", text)
    if not isinstance(values, dict) or any(not isinstance(values.get(n), str) for n in names):
        return _aliyun_error("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
    limit = gateway.over_limit(phone, ALIYUN_LIMITS)
    if limit:
        return _aliyun_error("isv.BUSINESS_LIMIT_CONTROL", f"触发号码天级流控 ({limit})")
    body = re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), text)
    biz_id = gateway.keep("aliyun", phone, params["SignName"], params["TemplateCode"], body)
    return JSONResponse(
        {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": secrets.token_hex(16)}
    )


# --- Tencent Cloud: API 3.0, TC3-HMAC-SHA256 --------------------------------------------------


def tc3_signature(
    *, secret_key: str, host: str, content_type: str, body: bytes, timestamp: int
) -> tuple[str, str]:
    """(credential date, hex signature) of a POST to `/` with these signed headers."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        (
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{day}/sms/tc3_request"
    to_sign = "\n".join(
        ("TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = f"TC3{secret_key}".encode()
    for part in (day, "sms", "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return day, hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _tencent_error(code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "Response": {
                "Error": {"Code": code, "Message": message},
                "RequestId": secrets.token_hex(16),
            }
        }
    )


AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<day>\d{4}-\d\d-\d\d)/sms/tc3_request, "
    r"SignedHeaders=content-type;host, Signature=(?P<signature>[0-9a-f]{64})"
)


async def tencent(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    body = await request.body()
    found = AUTHORIZATION.fullmatch(request.headers.get("authorization", ""))
    if found is None:
        return _tencent_error("AuthFailure.InvalidAuthorization", "Authorization is invalid.")
    secret = gateway.keys.get(found["id"])
    if secret is None:
        return _tencent_error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    try:
        timestamp = int(request.headers.get("x-tc-timestamp", ""))
    except ValueError:
        return _tencent_error("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is invalid.")
    if abs(time.time() - timestamp) > 300:
        return _tencent_error("AuthFailure.SignatureExpire", "Signature expired.")
    day, expected = tc3_signature(
        secret_key=secret,
        host=request.headers.get("host", ""),
        content_type=request.headers.get("content-type", ""),
        body=body,
        timestamp=timestamp,
    )
    if day != found["day"] or not hmac.compare_digest(expected, found["signature"]):
        return _tencent_error(
            "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
        )
    if (
        request.headers.get("x-tc-action") != "SendSms"
        or request.headers.get("x-tc-version") != "2021-01-11"
    ):
        return _tencent_error("InvalidAction", "The action or version is not valid.")
    try:
        data: dict[str, Any] = json.loads(body)
        numbers = [str(n) for n in data["PhoneNumberSet"]]
        values = [str(v) for v in data.get("TemplateParamSet", [])]
        sign, template_id = str(data["SignName"]), str(data["TemplateId"])
        str(data["SmsSdkAppId"])
    except (ValueError, KeyError, TypeError):
        return _tencent_error("InvalidParameter", "The request body is not valid.")
    text = gateway.templates.get(template_id)
    statuses = []
    for number in numbers[:200]:
        phone = number.removeprefix("+86")
        code, message, serial = "Ok", "send success", ""
        if not number.startswith("+86") or not MAINLAND_MOBILE.fullmatch(phone):
            code, message = "InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"
        elif sign not in gateway.signs:
            code, message = "FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误"
        elif text is None or len(re.findall(r"\{(\d+)\}", text)) != len(values):
            code, message = (
                "FailedOperation.TemplateIncorrectOrUnapproved",
                "模板未审批或内容不匹配",
            )
        elif limited := gateway.over_limit(phone, TENCENT_LIMITS):
            code, message = limited, "单个手机号发送短信超过频率限制"
        else:
            filled = re.sub(r"\{(\d+)\}", lambda m: values[int(m.group(1)) - 1], text)
            serial = gateway.keep("tencent", phone, sign, template_id, filled)
        statuses.append(
            {
                "SerialNo": serial,
                "PhoneNumber": number,
                "Fee": 1 if code == "Ok" else 0,
                "SessionContext": str(data.get("SessionContext", "")),
                "Code": code,
                "Message": message,
                "IsoCode": "CN",
            }
        )
    return JSONResponse(
        {"Response": {"SendStatusSet": statuses, "RequestId": secrets.token_hex(16)}}
    )


async def messages(request: Request) -> Response:
    """What was sent, newest last (for a person playing the phone in development)."""
    gateway: Gateway = request.app.state.gateway
    found = sorted(gateway.folder.glob("*.json")) if gateway.folder.exists() else []
    return JSONResponse([json.loads(p.read_text("utf-8")) for p in found[-50:]])


async def gateway_root(request: Request) -> Response:
    """Both gateways answer at `/`, as each does on its own host: Tencent's calls name their
    action in a header, Alibaba Cloud's in a parameter."""
    if request.method == "POST" and "x-tc-action" in request.headers:
        return await tencent(request)
    return await aliyun(request)


def create_app(gateway: Gateway) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", gateway_root, methods=["GET", "POST"]),
            Route("/_messages", messages),
        ]
    )
    app.state.gateway = gateway
    return app


def _pair(text: str, separator: str) -> tuple[str, str]:
    key, found, value = text.partition(separator)
    if not found or not key or not value:
        raise argparse.ArgumentTypeError(f"KEY{separator}VALUE")
    return key, value


def main() -> None:
    parser = argparse.ArgumentParser(prog="devserver.sms", description=__doc__)
    parser.add_argument("--port", type=int, default=8032)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument(
        "--access-key", action="append", required=True, type=lambda t: _pair(t, ":")
    )
    parser.add_argument("--sign", action="append", required=True)
    parser.add_argument("--template", action="append", required=True, type=lambda t: _pair(t, "="))
    parser.add_argument("--flow-control", choices=("on", "off"), default="on")
    args = parser.parse_args()
    gateway = Gateway(
        folder=args.folder,
        keys=dict(args.access_key),
        signs=frozenset(args.sign),
        templates=dict(args.template),
        flow_control=args.flow_control == "on",
    )
    uvicorn.run(create_app(gateway), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
