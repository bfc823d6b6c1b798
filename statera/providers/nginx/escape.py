"""Quoting of every user-supplied string that reaches nginx.conf.

NGINX's tokenizer ends a directive at an unquoted ``;``, opens and closes blocks at ``{``/``}``,
starts a comment at ``#`` and splits words on whitespace; inside double quotes all of these are
literal, and only ``\\"`` and ``\\\\`` (plus ``\\t``/``\\r``/``\\n``) are escapes. A user string
therefore only ever enters the file through :func:`quote`: one double-quoted word with ``\\`` and
``"`` escaped. Two things cannot be expressed inside an NGINX string at all: ``$`` (directives
that take variables expand it, and there is no escape for it) and control characters other than
tab/CR/LF; :func:`quote` refuses them (the API already refuses such values for every field that
reaches a configuration, so this is the last line of defence, not the user-facing check).
Non-ASCII is refused too, so the rendered file stays printable ASCII (checked in ``render``),
and so are words longer than NGINX's 4 KB configuration buffer (it cannot read them back).
"""

from __future__ import annotations

from statera.providers.kit.graph import ConfigError

#: NGINX reads a configuration through a 4096-byte buffer; one word must fit in it.
MAX_WORD = 4000
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\r": "\\r", "\n": "\\n"}


def quote(value: object) -> str:
    """One double-quoted NGINX word that NGINX reads back as exactly ``str(value)``."""
    return _quote(str(value), allow_dollar=False)


def quote_key(value: object) -> str:
    """:func:`quote` for ``map`` keys, which NGINX never expands (so ``$``, a regex anchor, may
    occur). A key that is not a regex (``~``) gets a leading backslash, which ``map`` strips:
    the value can then never be taken for ``default``, ``hostnames`` or a regex."""
    text = str(value)
    return _quote(text if text.startswith("~") else "\\" + text, allow_dollar=True)


def _quote(text: str, allow_dollar: bool) -> str:
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif (ch == "$" and not allow_dollar) or not " " <= ch <= "~":
            raise ConfigError(f"{text!r} cannot be written into an NGINX configuration")
        else:
            out.append(ch)
    out.append('"')
    word = "".join(out)
    if len(word) > MAX_WORD:
        raise ConfigError(f"a {len(word)}-character word does not fit NGINX's parser")
    return word
