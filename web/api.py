"""The JSON API's contract: bodies, queries and answers declared with msgspec, one error shape,
and the OpenAPI 3.1 document generated from those declarations."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar, get_type_hints

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.schemas import BaseSchemaGenerator

from errors import InvalidJSON, ValidationError

Endpoint = Callable[[Request], Awaitable[Response]]
S = TypeVar("S", bound=msgspec.Struct)

# Text that a later page can always show: no C0 or C1 control characters, no U+FFFE/U+FFFF.
# Multi-line text may also hold tab, newline and carriage return. Written as patterns so the
# contract says so. Lone surrogates cannot reach them: the JSON decoder refuses a "\ud800"
# escape (400 invalid_json), and read_fields refuses them in forms.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\ufffe\uffff]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]*$"
# The same with at least one character that is not a space: for fields that must say something.
_LINE = r"[^\x00-\x1f\x7f-\x9f\ufffe\uffff]"
_TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]"
_SHOWN = r"[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff]"
VISIBLE_LINE_PATTERN = rf"^{_LINE}*{_SHOWN}{_LINE}*$"
VISIBLE_TEXT_PATTERN = rf"^{_TEXT}*{_SHOWN}{_TEXT}*$"
MOMENT_PATTERN = (
    r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]{1,6})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# Datetimes are accepted in the years 2000 to 2099 as written: from 2000-01-01T00:00Z up to,
# not including, 2100-01-01T00:00Z, give or take the offset the client wrote.
FIRST_YEAR, LAST_YEAR = 2000, 2099
MAX_JSON_DEPTH = 32
DB_INT_MAX = 2**31 - 1  # ids, counts and amounts are PostgreSQL integers
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": DB_INT_MAX}  # a path id (web.paths)


def line(max_length: int, *, min_length: int = 0, description: str | None = None) -> Any:
    """One line of text of at most `max_length` characters: Annotated[str, line(120)]. With a
    `min_length`, it must also show something: spaces alone are not a title."""
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=VISIBLE_LINE_PATTERN if min_length else LINE_PATTERN,
        description=description,
    )


def text(max_length: int, *, min_length: int = 0, description: str | None = None) -> Any:
    """Multi-line text (tab, newline and carriage return allowed): Annotated[str, text(5000)].
    With a `min_length`, it must also show something."""
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=VISIBLE_TEXT_PATTERN if min_length else TEXT_PATTERN,
        description=description,
    )


def whole(low: int, high: int, *, description: str | None = None) -> Any:
    """A whole number from `low` to `high`: Annotated[int, whole(1, 100)]."""
    return msgspec.Meta(ge=low, le=high, description=description)


# An RFC 3339 time with an offset, within the years the product can mean (checked again by
# Body.__post_init__, as msgspec reads a few more spellings than the pattern allows).
Moment = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="RFC 3339 with an offset, in the years 2000 to 2099",
        extra_json_schema={"pattern": MOMENT_PATTERN},
    ),
]
Id = Annotated[int, msgspec.Meta(ge=1, le=DB_INT_MAX)]


def _datetime_fields(cls: type) -> tuple[str, ...]:
    hints = get_type_hints(cls, include_extras=True)
    return tuple(name for name, hint in hints.items() if "datetime" in repr(hint))


class Body(msgspec.Struct, kw_only=True):
    """A JSON request body: types as declared (no "5" for 5), undeclared fields ignored."""

    _moments: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._moments = _datetime_fields(cls)

    def __post_init__(self) -> None:
        for name in self._moments:
            moment = getattr(self, name)
            if moment is None:
                continue
            if not FIRST_YEAR <= moment.year <= LAST_YEAR:
                raise ValueError(f"must be in the years 2000 to 2099 - at `$.{name}`")
            setattr(self, name, moment.astimezone(UTC))


class Query(msgspec.Struct, kw_only=True):
    """Query parameters: text from the URL, converted to the declared types."""


class Answer(msgspec.Struct, kw_only=True):
    """A response's shape, for the contract (answers are written as plain dicts)."""


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
    (re.compile(r"^Expected `int`, got `.*`$"), "must be a whole number"),
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


async def read_json(request: Request, model: type[S]) -> S:
    """The request's JSON body as `model` (see decode_json). Its size is bounded by
    web.limits while it streams in."""
    return decode_json(await request.body(), model, decoders_of(request))


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
            problems.append((spec.encode_name, _problem(exc)[1]))
    if not problems:
        try:
            return msgspec.convert(values, model, strict=False)
        except msgspec.ValidationError as exc:
            problems.append(_problem(exc))
    field_name, message = problems[0]
    raise ValidationError(field_name, message, others=problems)


def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601 UTC with a Z, the one format the API writes."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=headers)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one shape of every error: {"error": {"code", "message", ...}}."""
    return {"error": {"code": code, "message": message, **extra}}


# --- the OpenAPI document --------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    summary: str
    answer: type[msgspec.Struct] | None
    status: int
    body: type[msgspec.Struct] | None
    form: Mapping[str, Any] | None
    query: type[msgspec.Struct] | None
    errors: Mapping[int, tuple[str, ...]]
    auth: str | None
    tag: str
    headers: Mapping[str, str] = field(default_factory=dict)
    path: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def operation(
    summary: str,
    *,
    answer: type[msgspec.Struct] | None = None,
    status: int = 200,
    body: type[msgspec.Struct] | None = None,
    form: Mapping[str, Any] | None = None,
    query: type[msgspec.Struct] | None = None,
    errors: Mapping[int, str] | None = None,
    auth: str | None = "bearer",
    tag: str = "",
    headers: Mapping[str, str] | None = None,
    path: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Declare an API endpoint: its answer (`status` and `answer` model; None for no content),
    its JSON `body` or multipart `form` (a JSON schema), its `query`, and the errors its rules
    can give (status -> comma-separated codes). `auth` is "bearer", "admin", "optional" or None. The
    errors every endpoint of its kind can give (401, 403, 404 for a path id, 400/413/422 for a
    body, 503) are added to the document by the generator."""

    def attach(endpoint: Endpoint) -> Endpoint:
        endpoint.__dict__["openapi_operation"] = Operation(
            summary=summary,
            answer=answer,
            status=status,
            body=body,
            form=form,
            query=query,
            errors={
                status: tuple(code.strip() for code in codes.split(",") if code.strip())
                for status, codes in (errors or {}).items()
            },
            auth=auth,
            tag=tag,
            headers=headers or {},
            path=path or {},
        )
        return endpoint

    return attach


class _Generator(BaseSchemaGenerator):
    def __init__(self) -> None:
        self.models: set[type[msgspec.Struct]] = set()

    def _schema(self, model: type[msgspec.Struct]) -> dict[str, Any]:
        """A placeholder for `model`'s $ref; get_schema fills in the names msgspec chose."""
        self.models.add(model)
        return {_MODEL: model}

    def _errors(self, spec: Operation, path: str) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {status: list(codes) for status, codes in spec.errors.items()}

        def add(status: int, *codes: str) -> None:
            listed = found.setdefault(status, [])
            listed.extend(code for code in codes if code not in listed)

        if spec.auth in ("bearer", "admin"):
            add(401, "unauthorized", "session_ended")
        if spec.auth == "admin":
            add(403, "forbidden")
        if "{" in path:
            add(404, "not_found")
        if spec.body is not None:
            add(400, "invalid_json")
        if spec.form is not None:
            add(400, "bad_request")  # a malformed multipart body, or too many fields
        if spec.body is not None or spec.form is not None:
            add(413, "payload_too_large")
            add(422, "invalid_field")
        if spec.query is not None:
            add(422, "invalid_field")
        add(503, "service_unavailable")
        return found

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for endpoint in self.get_endpoints(routes):
            spec: Operation | None = getattr(endpoint.func, "openapi_operation", None)
            if spec is None:
                continue
            path = endpoint.path.replace(":id}", "}")
            responses: dict[str, Any] = {}
            success: dict[str, Any] = {"description": spec.summary}
            if spec.answer is not None:
                success["content"] = {"application/json": {"schema": self._schema(spec.answer)}}
            responses[str(spec.status)] = success
            for status, codes in sorted(self._errors(spec, path).items()):
                responses[str(status)] = _error_response(status, codes)
            item: dict[str, Any] = {
                "summary": spec.summary,
                "operationId": f"{endpoint.http_method}_{endpoint.func.__name__}",
                "responses": responses,
            }
            if spec.tag:
                item["tags"] = [spec.tag]
            if spec.auth in ("bearer", "admin"):
                item["security"] = [{"bearer": []}]
            elif spec.auth == "optional":
                item["security"] = [{}, {"bearer": []}]
            parameters = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": dict(spec.path.get(name) or ID_SCHEMA),
                }
                for name in _path_params(path)
            ]
            if spec.query is not None:
                parameters.extend(self._query_parameters(spec.query))
            if parameters:
                item["parameters"] = parameters
            if spec.body is not None:
                # No body is read as {}: it may be left out when every field may.
                needed = any(part.required for part in msgspec.structs.fields(spec.body))
                item["requestBody"] = {
                    "required": needed,
                    "content": {"application/json": {"schema": self._schema(spec.body)}},
                }
            elif spec.form is not None:
                item["requestBody"] = {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": dict(spec.form)}},
                }
            paths.setdefault(path, {})[endpoint.http_method] = item
        models = sorted(self.models, key=lambda model: (model.__name__, model.__module__))
        refs, components = msgspec.json.schema_components(
            models, ref_template="#/components/schemas/{name}"
        )
        _fill_refs(paths, dict(zip(models, refs, strict=True)))
        return {
            "openapi": "3.1.0",
            "info": {"title": "Shuyuan API", "version": "1"},
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": dict(sorted(components.items())),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }

    def _query_parameters(self, model: type[msgspec.Struct]) -> list[dict[str, Any]]:
        (schema,), components = msgspec.json.schema_components(
            [model], ref_template="#/components/schemas/{name}"
        )
        schema = components[model.__name__]
        required = set(schema.get("required", []))
        return [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
                **({"description": prop["description"]} if "description" in prop else {}),
            }
            for name, prop in schema.get("properties", {}).items()
        ]


_MODEL = "__model__"


def _fill_refs(node: Any, refs: Mapping[type, dict[str, Any]]) -> None:
    """Replace each {_MODEL: model} placeholder below `node` with the model's $ref."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and _MODEL in value:
                node[key] = refs[value[_MODEL]]
            else:
                _fill_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _fill_refs(value, refs)


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "enum": codes},
            "message": {"type": "string"},
            "field": {"type": "string"},
        },
    }
    return {
        "description": ", ".join(codes),
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": error},
                }
            }
        },
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def openapi_document(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route that carries an `operation` declaration."""
    return _Generator().get_schema(routes)
