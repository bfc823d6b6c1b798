"""Quoting of every user-supplied string that reaches haproxy.cfg.

HAProxy's configuration tokenizer ends a line at a raw newline, starts a comment at an
unquoted ``#``, expands ``$VAR`` inside double quotes and splits words on spaces. A user string
therefore only ever enters the file through :func:`quote`, which produces one double-quoted
word whose bytes HAProxy decodes back to exactly the original value: ``\\``, ``"`` and ``$``
are backslash-escaped, and every byte outside printable ASCII (control characters, DEL,
non-ASCII UTF-8) becomes ``\\xNN``. The rendered file is pure printable ASCII, so nothing a user
sends can add a line, a comment or a new keyword.

Sample-fetch arguments such as the header name in ``req.hdr(<name>)`` go through a second
parser (HAProxy's argument list) that has its own delimiters, so they are not quoted but
restricted: :func:`fetch_arg` accepts the HTTP token characters that are harmless to both
parsers and returns None for anything else. Such a name can never occur in a valid request, so
the caller renders a rule on it as never matching (which is what it would do anyway).
"""

from __future__ import annotations

import re

from statera.providers.kit.graph import is_safe_name

__all__ = ["fetch_arg", "is_safe_name", "logformat", "quote"]

_PLAIN = frozenset(
    chr(c) for c in range(0x20, 0x7F) if chr(c) not in '\\"$'
)
_FETCH_ARG = re.compile(r"[A-Za-z0-9!#&*+.^_|~-]{1,256}")


def quote(value: object) -> str:
    """One double-quoted HAProxy word that decodes to exactly ``str(value)``."""
    out = ['"']
    for ch in str(value):
        if ch in _PLAIN:
            out.append(ch)
        elif ch in '\\"$':
            out.append("\\" + ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
    out.append('"')
    return "".join(out)


def logformat(value: object) -> str:
    """:func:`quote` for log-format arguments (redirect locations): ``%`` is literal."""
    return quote(str(value).replace("%", "%%"))


def fetch_arg(value: object) -> str | None:
    """``value`` made safe inside ``fetch(<here>)``, or None if it cannot be expressed."""
    text = str(value)
    if not _FETCH_ARG.fullmatch(text):
        return None
    return text.replace("#", "\\#")
