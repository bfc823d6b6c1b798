"""L7 policies and rules as NGINX ``map`` blocks, for HTTP and TERMINATED_HTTPS listeners.

Open-source NGINX has no ACLs, but ``map`` compares a variable against exact strings and PCRE
regexes, which is every Octavia comparison: each rule becomes a map from its source variable
(``$host``, ``$uri``, ``$http_<name>``, ``$cookie_<name>``, ``$ssl_client_*``) to 1/0 (swapped by
``invert``); each policy a map of its rules' concatenation to 1 when all are 1; and each
listener a map of its policies' concatenation, in position order, to the number of the first
policy that matches. The listener's location then acts on that number: ``return 403``
(REJECT), ``return <code> <url>`` (REDIRECT_TO_URL, REDIRECT_PREFIX + ``$request_uri``) or
``set $statera_up <pool>`` (REDIRECT_TO_POOL) before ``proxy_pass http://$statera_up``.

User values reach the file only as map keys through ``escape.quote_key`` (a leading backslash
keeps a value that starts with ``~`` or is a map keyword literal) or as redirect targets
through ``escape.quote``. What NGINX cannot express is refused by the driver with 501 (see
:func:`unsupported_rule`), and here with ConfigError as a last line of defence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.providers.kit.graph import ConfigError, active_policies, enabled, safe_id, val

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_COOKIE = re.compile(r"[A-Za-z0-9_]{1,128}")
_DN_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,63}")
REDIRECT_CODES = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class RuleView:
    var: str  # "$statera_r<listener>_<n>"
    source: str  # the NGINX variable compared
    key: str  # the map key (raw; the template quotes it with quote_key)
    invert: bool


@dataclass(frozen=True)
class PolicyView:
    var: str
    rules: tuple[RuleView, ...]
    action: str  # "reject" | "redirect" | "pool" | "none" (its pool cannot serve: 503)
    location: str | None = None  # REDIRECT_TO_URL target / REDIRECT_PREFIX prefix (raw)
    append_uri: bool = False  # REDIRECT_PREFIX: the prefix is followed by $request_uri
    code: int = 302
    upstream: str | None = None


def unsupported_rule(rule: Any) -> str | None:
    """Why NGINX cannot carry ``rule`` (for the driver's 501), or None."""
    rule_type = str(val(getattr(rule, "type", None), ""))
    key = val(getattr(rule, "key", None))
    value = str(val(getattr(rule, "value", None), ""))
    if any(not " " <= c <= "~" for c in value):
        return "L7 rule values with control characters or non-ASCII"
    if rule_type == "HEADER" and key is not None and not _TOKEN.fullmatch(str(key)):
        return f"the header name {key!r} (NGINX variables take letters, digits, - and _)"
    if rule_type == "COOKIE" and key is not None and not _COOKIE.fullmatch(str(key)):
        return f"the cookie name {key!r} (NGINX variables take letters, digits and _)"
    if rule_type == "SSL_DN_FIELD" and key is not None and not _DN_FIELD.fullmatch(str(key)):
        return f"the DN field {key!r}"
    if rule_type == "SSL_VERIFY_RESULT" and value not in ("", "0"):
        return "SSL_VERIFY_RESULT values other than 0 (NGINX reports SUCCESS or FAILED only)"
    return None


def _regex_literal(text: str) -> str:
    return re.escape(text)


def rule_view(rule: dm.L7Rule, var: str) -> RuleView:
    reason = unsupported_rule(rule)
    if reason:
        raise ConfigError(f"NGINX cannot carry {reason}")
    rule_type = str(val(rule.type, ""))
    compare = str(val(rule.compare_type, "EQUAL_TO"))
    value = str(val(rule.value, ""))
    key = str(val(rule.key, ""))
    invert = bool(val(rule.invert, False))
    patterns = {
        "EQUAL_TO": "~^" + _regex_literal(value) + "$",
        "STARTS_WITH": "~^" + _regex_literal(value),
        "ENDS_WITH": "~" + _regex_literal(value) + "$",
        "CONTAINS": "~" + _regex_literal(value),
        "REGEX": "~" + value,
    }
    if compare not in patterns:
        raise ConfigError(f"compare_type {compare!r} is not supported")
    pattern = patterns[compare]
    if rule_type == "HOST_NAME":
        return RuleView(var, "$host", "~*" + pattern[1:], invert)
    if rule_type == "PATH":
        return RuleView(var, "$uri", pattern, invert)
    if rule_type == "FILE_TYPE":
        if compare == "EQUAL_TO":
            pattern = "~\\." + _regex_literal(value) + "$"
        return RuleView(var, "$uri", pattern, invert)
    if rule_type == "HEADER":
        return RuleView(var, "$http_" + key.lower().replace("-", "_"), pattern, invert)
    if rule_type == "COOKIE":
        return RuleView(var, "$cookie_" + key, pattern, invert)
    if rule_type == "SSL_DN_FIELD":
        inner = {"EQUAL_TO": _regex_literal(value) + "(,|$)",
                 "STARTS_WITH": _regex_literal(value),
                 "ENDS_WITH": "[^,]*" + _regex_literal(value) + "(,|$)",
                 "CONTAINS": "[^,]*" + _regex_literal(value),
                 "REGEX": value}[compare]
        return RuleView(var, "$ssl_client_s_dn",
                        f"~(^|,){_regex_literal(key)}={inner}", invert)
    if rule_type == "SSL_CONN_HAS_CERT":
        # Has a certificate: anything but NONE (and an empty value on plain HTTP).
        return RuleView(var, "$ssl_client_verify", "~^(?!NONE$).+", invert)
    if rule_type == "SSL_VERIFY_RESULT":
        return RuleView(var, "$ssl_client_verify", "~^SUCCESS$", invert)
    raise ConfigError(f"L7 rule type {rule_type!r} is not supported")


def policy_views(listener: dm.Listener, index: int, pools: dict[str, dm.Pool],
                 upstream_of: Any) -> tuple[PolicyView, ...]:
    """The enabled policies (with at least one enabled rule) of ``listener``, in position
    order; ``upstream_of(pool)`` gives a pool's upstream name, or None if it cannot serve."""
    out: list[PolicyView] = []
    for policy, rules in active_policies(listener):
        n = len(out) + 1
        views = tuple(rule_view(rule, f"$statera_r{index}_{n}_{i}")
                      for i, rule in enumerate(rules, 1))
        var = f"$statera_p{index}_{n}"
        action = str(val(policy.action, ""))
        code = val(policy.redirect_http_code) or 302
        if code not in REDIRECT_CODES:
            raise ConfigError(f"redirect_http_code {code!r} is not supported")
        if action == "REJECT":
            out.append(PolicyView(var, views, "reject"))
        elif action == "REDIRECT_TO_URL":
            out.append(PolicyView(var, views, "redirect", str(val(policy.redirect_url, "")),
                                  code=code))
        elif action == "REDIRECT_PREFIX":
            out.append(PolicyView(var, views, "redirect",
                                  str(val(policy.redirect_prefix, "")).rstrip("/"),
                                  append_uri=True, code=code))
        elif action == "REDIRECT_TO_POOL":
            pool = pools.get(str(val(policy.redirect_pool_id, "")))
            upstream = upstream_of(pool) if pool is not None and enabled(pool) else None
            if pool is not None and upstream is None and enabled(pool):
                out.append(PolicyView(var, views, "none"))
            elif upstream is not None:
                safe_id(upstream, "pool")
                out.append(PolicyView(var, views, "pool", upstream=upstream))
            else:
                continue  # a disabled target pool: the policy is skipped, as in Octavia
        else:
            raise ConfigError(f"L7 policy action {action!r} is not supported")
    return tuple(out)


def first_match_keys(count: int) -> list[tuple[str, str]]:
    """Map keys from the policies' concatenated 0/1 flags to the first matching policy."""
    return [("~^" + "0" * (n - 1) + "1", str(n)) for n in range(1, count + 1)]
