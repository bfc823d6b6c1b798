"""haproxy.cfg text from an LBView, through the Jinja2 template files in ``templates/``.

The environment is strict (an undefined name is an error, not an empty string) and does no
HTML escaping; the only ways a user string reaches the output are the ``q`` and ``lf`` filters.
As a last line of defence :func:`render_config` refuses output that contains anything but
printable ASCII and newlines.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import jinja2

from statera.providers.haproxy import escape, view
from statera.providers.kit import templates

TEMPLATES = Path(__file__).with_name("templates")
PING_SCRIPT = TEMPLATES / "ping-wrapper.sh"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return templates.environment(
        TEMPLATES, {"q": escape.quote, "lf": escape.logformat},
        backend_var=view.BACKEND_VAR, sport_var=view.SPORT_VAR,
        stick_size=view.STICK_TABLE_SIZE)


def render_config(lb_view: view.LBView) -> str:
    """The haproxy.cfg text of ``lb_view``."""
    text = environment().get_template("haproxy.cfg.j2").render(v=lb_view)
    if not templates.printable(text):
        raise view.ConfigError("rendered configuration contains non-printable characters")
    return text


def server_args(server: view.ServerView) -> str:
    """The options of one server line, exactly as the config renders them (for ``add server``)."""
    module = environment().get_template("server.j2").module
    return str(module.server_args(server)).strip()  # type: ignore[attr-defined]


def view_to_json(lb_view: view.LBView) -> dict[str, object]:
    """The view as plain JSON data (files omitted: they are on disk already)."""
    data = dataclasses.asdict(lb_view)
    data.pop("files", None)
    return data
