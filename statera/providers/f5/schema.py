"""Validation of declarations against F5's published AS3 schema (3.56.0, Apache-2.0).

The schema file beside this module is F5's ``schema/3.56.0/as3-schema.json`` byte for byte. It
uses F5's own vocabulary: the formats ``f5ip``, ``f5bigip`` and ``f5pointer`` are registered
here as AS3's parser defines them, and the keyword ``f5PostProcess`` (AS3's own post-parse
hooks: pointer resolution, backquote expansion, version checks) is ignored, as a stock
validator would. A declaration that fails this check never leaves Statera.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft7Validator, FormatChecker

from statera.providers.f5.redact import redact

SCHEMA_FILE = Path(__file__).with_name("as3-schema-3.56.0.json")
BIGIP_PATH = re.compile(r"^/[^\x00-\x20\x7f/][^\x00-\x20\x7f]*$")
POINTER = re.compile(r"^[^\x00-\x20\x7f]+$")
IP_WITH_RD = re.compile(r"^(?P<addr>[^%/]+)(%(?P<rd>\d{1,5}))?(/(?P<mask>\d{1,3}))?$")


class SchemaError(ValueError):
    """A declaration does not satisfy the AS3 schema; ``str()`` says where and why."""


def is_f5ip(value: object) -> bool:
    """An IPv4/IPv6 address with optional ``%route-domain`` and ``/mask`` (or 'any')."""
    if not isinstance(value, str):
        return True
    if value in ("", "any", "any6"):
        return True
    match = IP_WITH_RD.match(value)
    if not match:
        return False
    try:
        addr = ipaddress.ip_address(match["addr"])
    except ValueError:
        return False
    mask = match["mask"]
    return mask is None or int(mask) <= (32 if addr.version == 4 else 128)


def is_f5bigip(value: object) -> bool:
    """A BIG-IP configuration path such as ``/Common/http``."""
    return not isinstance(value, str) or bool(BIGIP_PATH.match(value))


def is_f5pointer(value: object) -> bool:
    """An AS3 pointer (a name or ``/Tenant/Application/item`` path) without blanks."""
    return not isinstance(value, str) or bool(POINTER.match(value))


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("f5ip")(is_f5ip)
    checker.checks("f5bigip")(is_f5bigip)
    checker.checks("f5pointer")(is_f5pointer)
    return checker


@cache
def validator() -> Draft7Validator:
    """One compiled validator per process (the schema is 1.2 MB: load it once)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    # ``f5PostProcess`` is not a draft-07 keyword: without a handler it is already ignored;
    # say so explicitly so a future jsonschema that rejects unknown keywords keeps working.
    cls = jsonschema.validators.extend(
        Draft7Validator, {"f5PostProcess": lambda *_args: iter(())})
    checked: Draft7Validator = cls(schema, format_checker=_format_checker())
    return checked


def validate(declaration: dict[str, Any]) -> None:
    """Raise SchemaError when ``declaration`` (an ``AS3`` request body) is not schema-valid."""
    errors = list(validator().iter_errors(declaration))
    if errors:
        error = _deepest(errors)
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        raise SchemaError(redact(f"{where}: {error.message}")[:500])


def _deepest(errors: list[jsonschema.ValidationError]) -> jsonschema.ValidationError:
    """The error furthest into the declaration (``oneOf`` branches hide the useful one)."""
    best = errors[0]
    for error in errors:
        candidate = _deepest(list(error.context)) if error.context else error
        if len(candidate.absolute_path) > len(best.absolute_path):
            best = candidate
    return best
