"""Keep secrets out of log lines and error messages built from declarations or answers.

Validation messages (``jsonschema``'s and AS3's) may quote the offending value, which can be a
whole object with its ``privateKey``. Everything that reaches a log line from a declaration or
a device answer goes through ``redact`` first.
"""

from __future__ import annotations

import re

PEM_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
    re.DOTALL)
SECRET_FIELD = re.compile(
    r"""(?P<key>["']?(?:privateKey|passphrase|password|pkcs12)["']?\s*[:=]\s*)"""
    r"""(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)?""", re.DOTALL)


def redact(text: str) -> str:
    """``text`` with private keys, passphrases and passwords replaced by ``[redacted]``."""
    text = PEM_KEY.sub("[redacted private key]", text)
    return SECRET_FIELD.sub(lambda m: f"{m['key']}{m['q']}[redacted]{m['q']}", text)
