"""The Jinja2 environment every provider renders its data-plane configuration with.

Strict (an undefined name is an error, not an empty string), no HTML escaping, blocks trimmed;
the only ways a user string may reach the output are the filters the provider registers (its
quoting functions). :func:`printable` is the last line of defence after rendering.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

_PRINTABLE = re.compile(r"[\x20-\x7e\n]*")


def environment(directory: Path, filters: dict[str, Callable[..., str]],
                **globals_: Any) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters)
    env.globals.update(globals_)
    return env


def printable(text: str) -> bool:
    """Whether ``text`` is printable ASCII and newlines only."""
    return bool(_PRINTABLE.fullmatch(text))
