"""Reading what a request sends: a JSON body, a query or a form as a declared model, bounded and
checked before it costs anything; a bad one is 400 invalid_json or 422 naming the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.requests import Request

from errors import InvalidJSON, UnsupportedMediaType, ValidationError
from web.schemas import MAX_JSON_DEPTH, S

_MISSING = re.compile(r"^Object missing required field `([^`]+)`$")


def _problem(exc: msgspec.ValidationError) -> tuple[str, str]:
    """(field, message) from msgspec's "Expected `int`, got `str` - at `$.items[0].quantity`"."""
    text = str(exc)
    message, _, where = text.rpartition(" - at `")
    if not message:
        message, where = text, "$"
    name = where.rstrip("`").removeprefix("$").removeprefix(".")
    missing = _MISSING.match(message)
    if missing:  # "Object missing required field `password`": the field is the one missing
        name = f"{name}.{missing.group(1)}" if name else missing.group(1)
        message = "is required"
    return name or "body", _plain(message)


# msgspec's words for a problem -> ours (the same sentences the services use, translated once
# in locales/). Patterns are told apart by what they are for.
_PATTERN_MESSAGES = (
    ("@", "not a valid email address"),
    ("_", "is not a cursor this server gave out"),
    ("2147483", "must be an id"),
    ("\\s", "must not be blank or hold control characters"),
    ("1[3-9]", "must be a mainland mobile number, e.g. 13812345678"),
    ("", "must not contain control characters"),
)
_PLAIN = (
    (re.compile(r"^Expected `str` of length >= (\d+)$"), "must be at least {0} characters"),
    (re.compile(r"^Expected `str` of length <= (\d+)$"), "must be at most {0} characters"),
    (re.compile(r"^Expected `array` of length >= (\d+)$"), "must have at least {0} entries"),
    (re.compile(r"^Expected `array` of length <= (\d+)$"), "must have at most {0} entries"),
    (re.compile(r"^Expected `int` >= (-?\d+)$"), "must be at least {0}"),
    (re.compile(r"^Expected `int` <= (-?\d+)$"), "must be at most {0}"),
    (re.compile(r"^Expected `int( \| null)?`, got `.*`$"), "must be a whole number"),
    (re.compile(r"^Expected `bool`, got `.*`$"), "must be true or false"),
    (re.compile(r"^Expected `str`, got `.*`$"), "must be text"),
    (re.compile(r"^Expected `array`, got `.*`$"), "must be a list"),
    (re.compile(r"^Expected `object`, got `.*`$"), "must be an object"),
    (re.compile(r"^Invalid enum value .*$"), "is not one of the allowed values"),
    (
        re.compile(r"^Expected `datetime` with a timezone component$"),
        "must include a UTC offset, e.g. +08:00 or Z",
    ),
    (
        re.compile(r"^(Invalid RFC3339 encoded datetime|Expected `datetime`, got `.*`)$"),
        "must be a date and time like 2026-12-01T08:00:00+08:00",
    ),
)


def _plain(message: str) -> str:
    message = message.strip()
    if "matching regex" in message:
        for marker, plain in _PATTERN_MESSAGES:
            if marker in message:
                return plain
    for pattern, plain in _PLAIN:
        found = pattern.match(message)
        if found:
            return plain.format(*found.groups())
    return message.replace("`", "")


def _invalid(exc: msgspec.ValidationError) -> ValidationError | InvalidJSON:
    if str(exc).startswith("Expected `object`"):
        return InvalidJSON("The request body must be a JSON object.")
    field_name, message = _problem(exc)
    return ValidationError(field_name, message)


def _too_deep(body: bytes) -> bool:
    """Whether JSON nests deeper than MAX_JSON_DEPTH (read only when it has that many brackets)."""
    if body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return False


class Decoders:
    """msgspec's decoder for each request model, compiled once: held by the app
    (app.state.decoders, built by the factory), not by this module."""

    def __init__(self) -> None:
        self._by_model: dict[type, msgspec.json.Decoder[Any]] = {}

    def of(self, model: type[S]) -> msgspec.json.Decoder[S]:
        decoder = self._by_model.get(model)
        if decoder is None:
            decoder = self._by_model[model] = msgspec.json.Decoder(model)
        return decoder


def decoders_of(request: Request) -> Decoders:
    return request.app.state.decoders  # type: ignore[no-any-return]


def decode_json(body: bytes, model: type[S], decoders: Decoders) -> S:
    """`body` as a `model`: 400 invalid_json when it is not a JSON object (or nests deeper than
    MAX_JSON_DEPTH, or holds a lone surrogate), 422 naming the first bad field."""
    if not body.strip():
        body = b"{}"  # no body: an empty object
    if _too_deep(body):
        raise InvalidJSON(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
    decoder = decoders.of(model)
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        if "got `float`" not in str(exc):
            raise _invalid(exc) from None
    except msgspec.DecodeError:
        raise InvalidJSON("The request body is not valid JSON.") from None
    # JSON Schema counts 3.0 as an integer: read whole floats as integers, then check again.
    try:
        return msgspec.convert(_whole_floats(msgspec.json.decode(body)), model, strict=True)
    except msgspec.ValidationError as exc:
        raise _invalid(exc) from None


def _whole_floats(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_floats(item) for item in value]
    return value


def is_json_media_type(content_type: str) -> bool:
    """application/json, or a +json type (application/merge-patch+json), parameters aside."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def json_body(request: Request) -> bytes:
    """The request's body, bounded by web.limits while it streams in; 415 when it is not
    labelled JSON (errors.UnsupportedMediaType: what another site's page can send without
    asking)."""
    body = await request.body()
    if body.strip() and not is_json_media_type(request.headers.get("content-type", "")):
        raise UnsupportedMediaType()
    return body


async def read_json(request: Request, model: type[S]) -> S:
    """The request's JSON body (json_body) as `model` (see decode_json)."""
    return decode_json(await json_body(request), model, decoders_of(request))


def read_query(request: Request, model: type[S]) -> S:
    """The request's query parameters as `model`; 422 naming the bad one."""
    try:
        return msgspec.convert(dict(request.query_params), model, strict=False)
    except msgspec.ValidationError as exc:
        raise _invalid(exc) from None


def _has_lone_surrogate(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_fields(data: Mapping[str, Any], model: type[S]) -> S:
    """Form fields (text) as `model`, every field checked so that all problems are reported
    at once (ValidationError.errors); text is converted to the declared types."""
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for spec in msgspec.structs.fields(model):
        if spec.encode_name not in data:
            if spec.required:
                problems.append((spec.encode_name, "is required"))
            continue
        if _has_lone_surrogate(data[spec.encode_name]):
            problems.append((spec.encode_name, "must not contain control characters"))
            continue
        try:
            values[spec.encode_name] = msgspec.convert(
                data[spec.encode_name], spec.type, strict=False
            )
        except msgspec.ValidationError as exc:
            raw = data[spec.encode_name]
            # A form's field left blank is "required", as a person reads it.
            blank = isinstance(raw, str) and not raw.strip()
            problems.append((spec.encode_name, "is required" if blank else _problem(exc)[1]))
    if not problems:
        try:
            return msgspec.convert(values, model, strict=False)
        except msgspec.ValidationError as exc:
            problems.append(_problem(exc))
    field_name, message = problems[0]
    raise ValidationError(field_name, message, others=problems)
