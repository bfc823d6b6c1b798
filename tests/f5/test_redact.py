"""Secrets stay out of messages built from declarations and device answers."""

from __future__ import annotations

import pytest

from statera.providers.f5 import declaration as decl
from statera.providers.f5.redact import redact
from statera.providers.f5.schema import SchemaError, validate
from tests.certs.pki import build_pki
from tests.f5 import graphs as g


def test_pem_keys_and_secret_fields_are_redacted() -> None:
    key = build_pki().leaf_key_pem
    text = redact(f"a {key} b {{'privateKey': 'abc\\'d', \"passphrase\": \"x y\"}} "
                  f"password='hunter2' -----BEGIN PRIVATE KEY-----\nMIGH-truncated")
    for secret in (key.splitlines()[1], "abc", "x y", "hunter2", "MIGH"):
        assert secret not in text
    assert "[redacted" in text and text.startswith("a ") and " b " in text


def test_schema_errors_quoting_a_certificate_do_not_carry_its_key() -> None:
    pki = build_pki()
    p = g.pool()
    lst = g.listener("TERMINATED_HTTPS", 443, p, default_tls_container_data={
        "certificate": pki.leaf_pem, "private_key": pki.leaf_key_pem, "intermediates": []})
    lb = g.loadbalancer([lst], [p])
    body = decl.declaration("Project_x", {decl.Names.app(lb.loadbalancer_id):
                                          decl.application(lb)})
    app = body["declaration"]["Project_x"][decl.Names.app(lb.loadbalancer_id)]
    cert = next(v for v in app.values() if isinstance(v, dict) and v.get("class") == "Certificate")
    cert["privateKey"] = [pki.leaf_key_pem]  # wrong type: jsonschema quotes the value
    with pytest.raises(SchemaError) as failed:
        validate(body)
    assert pki.leaf_key_pem.splitlines()[1] not in str(failed.value)
