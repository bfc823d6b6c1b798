"""nginx.conf text from an LBView, through the Jinja2 template files in ``templates/``.

The environment is strict (an undefined name is an error) and does no HTML escaping; the only
ways a user string reaches the output are the ``q`` and ``qk`` filters (``escape``). As a last
line of defence :func:`render_config` refuses output with anything but printable ASCII.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from statera.providers.kit import templates
from statera.providers.nginx import escape, l7, view

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return templates.environment(
        TEMPLATES, {"q": escape.quote, "qk": escape.quote_key},
        first_match_keys=l7.first_match_keys)


def render_config(lb_view: view.LBView) -> str:
    """The nginx.conf text of ``lb_view``."""
    text = environment().get_template("nginx.conf.j2").render(v=lb_view)
    if not templates.printable(text):
        raise view.ConfigError("rendered configuration contains non-printable characters")
    return text
