"""nginx.conf text from an LBView, through the Jinja2 template files in ``templates/``.

The environment is strict (an undefined name is an error) and does no HTML escaping; the only
way a user string reaches the output is the ``q`` filter (``escape.quote``). As a last line of
defence :func:`render_config` refuses output with anything but printable ASCII and newlines.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jinja2

from statera.providers.nginx import escape, l7, view

TEMPLATES = Path(__file__).with_name("templates")
_PRINTABLE = re.compile(r"[\x20-\x7e\n]*")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["q"] = escape.quote
    env.filters["qk"] = escape.quote_key
    env.globals["first_match_keys"] = l7.first_match_keys
    return env


def render_config(lb_view: view.LBView) -> str:
    """The nginx.conf text of ``lb_view``."""
    text = environment().get_template("nginx.conf.j2").render(v=lb_view)
    if not _PRINTABLE.fullmatch(text):
        raise view.ConfigError("rendered configuration contains non-printable characters")
    return text
