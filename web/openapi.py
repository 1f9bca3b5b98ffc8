"""The OpenAPI 3.1 document, generated from the endpoints' declarations (`operation`) and their
msgspec models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.routing import BaseRoute
from starlette.schemas import BaseSchemaGenerator

from web.schemas import ID_SCHEMA, Endpoint


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
    encoding: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The capability a staff_only guard asks for (web.auth): the document names it, so the
    # contract says which staff roles may call, from the guard itself.
    staff_capability: str | None = None
    # Other successful answers: status -> (what it means, its model), e.g. 202 for a post held
    # for review beside the 201 of one published.
    also: Mapping[int, tuple[str, type[msgspec.Struct]]] = field(default_factory=dict)


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
    encoding: Mapping[str, Mapping[str, Any]] | None = None,
    also: Mapping[int, tuple[str, type[msgspec.Struct]]] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Declare an API endpoint: its answer (`status` and `answer` model; None for no content),
    its JSON `body` or multipart `form` (a JSON schema, with the `encoding` of its parts: part
    -> OpenAPI Encoding Object, e.g. the file types it reads), its `query`, and the errors its
    rules can give (status -> comma-separated codes). `auth` is "bearer", "admin", "optional"
    or None. The errors every endpoint of its kind can give (401, 403, 404 for a path id,
    400/413/422 for a body, 503) are added to the document by the generator."""

    def attach(endpoint: Endpoint) -> Endpoint:
        capability = endpoint.__dict__.get("staff_capability")
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
            auth="admin" if capability else auth,  # a guarded endpoint answers 401 and 403
            tag=tag,
            headers=headers or {},
            path=path or {},
            encoding=encoding or {},
            staff_capability=capability,
            also=also or {},
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
            for status, (meaning, model) in spec.also.items():
                responses[str(status)] = {
                    "description": meaning,
                    "content": {"application/json": {"schema": self._schema(model)}},
                }
            for status, codes in sorted(self._errors(spec, path).items()):
                responses[str(status)] = _error_response(status, codes)
            item: dict[str, Any] = {
                "summary": spec.summary,
                "operationId": f"{endpoint.http_method}_{endpoint.func.__name__}",
                "responses": responses,
            }
            if spec.tag:
                item["tags"] = [spec.tag]
            if spec.staff_capability:
                item["x-staff-capability"] = spec.staff_capability
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
                # No body is read as {}: it may be left out when every field may, and no rule
                # across fields asks for one (PaymentChoice's rules each ask for some field).
                needed = bool(getattr(spec.body, "schema_rules", None)) or any(
                    part.required for part in msgspec.structs.fields(spec.body)
                )
                item["requestBody"] = {
                    "required": needed,
                    "content": {"application/json": {"schema": self._schema(spec.body)}},
                }
            elif spec.form is not None:
                multipart: dict[str, Any] = {"schema": dict(spec.form)}
                if spec.encoding:
                    multipart["encoding"] = {part: dict(e) for part, e in spec.encoding.items()}
                item["requestBody"] = {
                    "required": True,
                    "content": {"multipart/form-data": multipart},
                }
            paths.setdefault(path, {})[endpoint.http_method] = item
        models = sorted(self.models, key=lambda model: (model.__name__, model.__module__))
        refs, components = msgspec.json.schema_components(
            models, ref_template="#/components/schemas/{name}"
        )
        _fill_refs(paths, dict(zip(models, refs, strict=True)))
        for model, ref in zip(models, refs, strict=True):
            rules = getattr(model, "schema_rules", None)
            if rules:  # a Body's rules across fields (web.schemas.Body)
                components[ref["$ref"].rpartition("/")[2]].update(rules)
        return {
            "openapi": "3.1.0",
            "info": {"title": "Shuyuan API", "version": "1"},
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": dict(sorted({**components, **ERROR_COMPONENTS}.items())),
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


# The one shape of every error answer (web.errors), once in the document; each answer refers to
# it and narrows its code to the codes that answer can carry.
ERROR_COMPONENTS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "description": 'Every error answer: {"error": {"code", "message", ...}}.',
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
    },
    "ErrorDetail": {
        "title": "ErrorDetail",
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "What went wrong, in snake_case."},
            "message": {"type": "string", "description": "The same, in the reader's language."},
            "field": {"type": "string", "description": "The field a 422 is about."},
            "errors": {
                "type": "array",
                "description": "Every bad field, when a 422 has more than one.",
                "items": {"$ref": "#/components/schemas/FieldError"},
            },
        },
    },
    "FieldError": {
        "title": "FieldError",
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    },
}


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    """An error answer: the Error component, its code one of `codes`."""
    return {
        "description": ", ".join(codes),
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {
                            "type": "object",
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "properties": {"code": {"type": "string", "enum": codes}},
                                }
                            },
                        },
                    ]
                }
            }
        },
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def openapi_document(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route that carries an `operation` declaration."""
    return _Generator().get_schema(routes)
