"""Log lines that request data cannot forge: control characters escaped.

A URL path, a query string, a header or a field quoted in an error message can carry a line
feed, a carriage return or a terminal escape sequence (``%0A``, ``%1B`` in a URL). Written as
they are, they start a new, fake log line or rewrite an operator's terminal. Every log record
of ``statera serve`` goes through :class:`SafeFormatter`; code that logs request data also
escapes it itself with :func:`printable`, so the line is safe under any other formatter.
"""

from __future__ import annotations

import contextvars
import logging
import unicodedata

# Cc: C0/C1 controls (LF, CR, ESC, DEL, ...); Cf: format characters (bidi overrides that
# reorder what a terminal shows); Zl/Zp: the Unicode line/paragraph separators.
_UNSAFE = {"Cc", "Cf", "Zl", "Zp"}


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control or line-breaking character written as ``\\xNN``."""
    if text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE else c for c in text)


#: The id of the API request being served (``req-<uuid>``, also sent to the client as
#: ``x-openstack-request-id``), so that every log line it causes can be found by it.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "statera_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id (``-`` outside a request) as
    ``record.request_id``, at the moment it is logged: a handler on another thread or a
    later format call still shows the right one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


class SafeFormatter(logging.Formatter):
    """Escapes control characters in the message; a traceback keeps its line breaks but each
    of its lines is indented, so only a record's first line starts at column 0 and no text
    inside an exception message can pass for a record of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (stdlib name)
        record.message = printable(record.message)
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:  # noqa: N802 (stdlib name)
        text = super().formatException(ei)  # type: ignore[arg-type]
        return "\n".join("    " + printable(line) for line in text.split("\n"))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 (stdlib name)
        return "\n".join("    " + printable(line) for line in stack_info.split("\n"))
