"""Structured logs: one JSON object per line, each naming the request it was written in.

The standard library's logging with a JSON formatter (no second logging system to learn):
uvicorn's own loggers and ours go through it. Nothing secret is logged by design (request
lines name routes, not paths; bodies, cookies and headers are never logged); as a last guard
the formatter masks anything shaped like a bearer token or a card number.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from web.observe import REQUEST_ID

# Attributes every LogRecord has; anything else passed as `extra` is a field of the line.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's colourised copy of the message
}
_SECRETS = re.compile(
    r"sy_[A-Za-z0-9_-]{20,}"  # our bearer tokens
    r"|\b(?:\d[ -]?){13,19}\b"  # a card number, spaced or not
    r"|(?:sk|rk|whsec)_[A-Za-z0-9_]{8,}"  # provider keys and webhook secrets
)


# A URL's query parameters that carry a secret (WeChat's API takes its AppSecret, tokens and
# codes in the query, and httpx logs each request's URL).
_SECRET_PARAMETERS = re.compile(r"([?&](?:secret|access_token|refresh_token|code)=)[^&\s\"']+")


def masked(text: str) -> str:
    return _SECRET_PARAMETERS.sub(r"\1[masked]", _SECRETS.sub("[masked]", text))


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker
            "message": masked(record.getMessage()),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool) else masked(str(value))
        if record.exc_info:
            line["error"] = masked(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """logging.config.dictConfig for `shuyuan serve` (uvicorn's log_config): JSON to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "web.logs.JsonLines"}},
        "handlers": {"default": handler},
        "loggers": {
            "": {"handlers": ["default"], "level": level},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # httpx logs every outgoing request's URL at INFO: the provider calls are ours.
            "httpx": {"level": "WARNING"},
        },
    }
