"""Logging of the app, ``oo worker`` and ``oo hub``: :func:`configure_logging` once per process, and the request id.

Contract: with ``OO_LOG_FORMAT=json`` every record is one JSON object on one line with ``time`` (ISO 8601, UTC),
``level``, ``logger``, ``message``, ``request_id`` while a request is served, ``exception`` (the traceback as one
string) when there is one, and the record's ``extra`` fields. ``text`` writes the same facts as a plain line, its
line breaks escaped, then the traceback on continuation lines that start with ``  | ``: a message can never forge a
line of its own. The formatters redact, so a record never carries a secret, tracebacks included: values of
secret-looking ``extra`` keys (token, cookie, password, email, ...), and email addresses, bearer tokens, passwords in
URLs and ``token=...``-style values inside any text are replaced by ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oo_app.settings import Settings, get_settings

REQUEST_ID_HEADER = "X-Request-ID"
REDACTED = "[redacted]"
# A caller's request id is kept only when it cannot forge a log line or smuggle data: short, plain characters.
_GOOD_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECRET_KEY = re.compile(r"token|secret|passw|cookie|session|authoriz|api_?key|credential|csrf|email", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[\w.~+/=-]+")
_URL_PASSWORD = re.compile(r"(//[^/\s:@]+:)[^/\s@]+@")
# ``access_token=...``, ``'password': '...'``, ``oo_csrf=...`` (but not a count of ``prompt_tokens: 42``).
_SECRET_VALUE = re.compile(
    r"(?i)\b([\w-]*(?:token(?!s)|secret|passw(?:or)?d|api_?key|csrf)[\w-]*[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;)}\]]+"
)
# Every character str.splitlines() (and so a terminal or a log shipper) may take for the end of a line.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
CONTINUATION = "  | "
# Libraries that attach a handler of their own to their loggers, with the level they log at once adopted (their
# records then reach our handler only): LiteLLM says a few INFO lines per call; engineio and socketio (Reflex's
# websocket) add a handler unless their logger already has a level.
LIBRARY_LOGGERS = {
    "LiteLLM": logging.WARNING,
    "LiteLLM Router": logging.WARNING,
    "LiteLLM Proxy": logging.WARNING,
    "engineio.server": logging.ERROR,
    "socketio.server": logging.ERROR,
}
_LIBRARY_MARKS = ("litellm_redacted",)  # attributes LiteLLM's own filters set on a record: not facts to log
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

_request_id: ContextVar[str | None] = ContextVar("oo_request_id", default=None)


def redact_text(text: str) -> str:
    """``text`` with email addresses, bearer tokens, passwords in URLs and secret-looking ``key=value`` replaced."""
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    text = _EMAIL.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    return _SECRET_VALUE.sub(rf"\1{REDACTED}", text)


def redact_value(key: str, value: Any) -> Any:
    """``value`` of a record's field ``key`` as it may be logged: a secret-looking key hides its value whole, text is
    :func:`redact_text`-ed, containers are redacted item by item."""
    if _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {name: redact_value(str(name), item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value("", item) for item in value]
    return value


def escape_line_breaks(text: str) -> str:
    """``text`` on one line: CR, LF and the other line separators written as escapes (``\\n``, ``\\r``, ...)."""
    return _LINE_BREAK.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


class RequestContext(logging.Filter):
    """Adds ``request_id`` to records logged while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None:
            record.request_id = request_id
        return True


class TextFormatter(logging.Formatter):
    """``time level logger [request id]: message`` on one line, then the traceback and stack on continuation lines
    (each starts with :data:`CONTINUATION`), everything redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request = f" [{escape_line_breaks(request_id)}]" if request_id else ""
        record.message = escape_line_breaks(redact_text(record.getMessage()))
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        # Not record.exc_text: another handler may have cached an unredacted traceback there.
        details = [self.formatException(record.exc_info)] if record.exc_info else []
        if not record.exc_info and record.exc_text:  # a record formatted elsewhere (another process) before
            details.append(record.exc_text)
        if record.stack_info:
            details.append(self.formatStack(record.stack_info))
        for detail in details:
            line += "".join(f"\n{CONTINUATION}{piece}" for piece in redact_text(detail).splitlines())
        return line


class JsonRecordFormatter(JsonFormatter):
    """python-json-logger's formatter, every field (message, exception, stack, extras) redacted before it is
    serialized (JSON escapes line breaks itself)."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: value if key in _OWN_FIELDS else redact_value(key, value) for key, value in log_data.items()}


_OWN_FIELDS = frozenset({"time", "level", "logger"})


def json_formatter() -> logging.Formatter:
    return JsonRecordFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        timestamp="time",
        reserved_attrs=[*sorted(_STANDARD_ATTRS - {"message"}), "request", *_LIBRARY_MARKS],
    )


def log_handler(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """The one handler of a process: the configured format, the request id, redaction."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(RequestContext())
    handler.oo_handler = True  # type: ignore[attr-defined]
    return handler


def configure_logging(settings: Settings | None = None, stream: IO[str] | None = None) -> None:
    """Make the root logger write through :func:`log_handler` at ``OO_LOG_LEVEL``; call once at process start.

    Replaces the root logger's handlers (like ``logging.basicConfig(force=True)``), so calling it again changes the
    format instead of doubling lines. Libraries already loaded that write through their own handler are adopted.
    """
    settings = settings or get_settings()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(log_handler(settings, stream))
    root.setLevel(settings.log_level)
    logging.captureWarnings(True)  # Python's warnings become records too, not bare lines amid the JSON
    adopt_library_loggers()


def adopt_library_loggers() -> None:
    """Once :func:`configure_logging` has run, route :data:`LIBRARY_LOGGERS` through the root handler alone, at their
    level (LiteLLM adds its own text handler when it is imported: call this again after importing it)."""
    if not any(getattr(handler, "oo_handler", False) for handler in logging.getLogger().handlers):
        return
    for name, level in LIBRARY_LOGGERS.items():
        library = logging.getLogger(name)
        for handler in list(library.handlers):
            library.removeHandler(handler)
        library.setLevel(level)
        library.propagate = True


class RequestIdMiddleware:
    """ASGI middleware: each HTTP request gets an id (the caller's ``X-Request-ID`` when well-formed, else a new one),
    visible to every log record of the request and returned in the response's ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        token = _request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


def incoming_request_id(scope: Scope) -> str | None:
    wanted = REQUEST_ID_HEADER.lower().encode()
    for name, value in scope.get("headers", []):
        if name == wanted:
            text = value.decode("latin-1")
            return text if _GOOD_REQUEST_ID.match(text) else None
    return None


def with_request_ids(app: Starlette) -> None:
    """Make :class:`RequestIdMiddleware` the outermost layer of ``app``: outside Starlette's own error middleware, so
    the log line of an unhandled error and its 500 response carry the request id too (``add_middleware`` would put
    it inside). Call before the app serves its first request."""
    build = app.build_middleware_stack

    def build_with_request_ids() -> ASGIApp:
        return RequestIdMiddleware(build())

    app.build_middleware_stack = build_with_request_ids  # type: ignore[method-assign]
