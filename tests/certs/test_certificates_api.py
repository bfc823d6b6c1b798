"""Statera's certificate upload API over HTTP: shapes, errors, project scoping, and that no
key material ever leaves in a response or a log line."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from statera.api.certificates import certificates_router
from statera.certs.local import LocalCertManager
from statera.db import models as m
from statera.db.engine import Database
from tests.certs.pki import Pki, cert_pem, crl_pem, key_pem, p12

PATH = "/v2/statera/certificates"


def project_header(request: Request) -> str | None:
    return request.headers.get("X-Project-Id")


@pytest.fixture
def client(db: Database, manager: LocalCertManager) -> TestClient:
    app = FastAPI()
    app.include_router(certificates_router(lambda: manager, db.session, project_header))
    return TestClient(app, headers={"X-Project-Id": "alice"})


def upload(client: TestClient, pki: Pki, **fields: Any) -> dict[str, Any]:
    body = {"name": "web", "certificate": pki.leaf_pem, "private_key": pki.leaf_key_pem,
            "intermediates": pki.chain_pem, **fields}
    resp = client.post(PATH, json={"certificate": body})
    assert resp.status_code == 201, resp.text
    cert: dict[str, Any] = resp.json()["certificate"]
    return cert


def assert_fault(resp: Any, status: int, fragment: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}
    assert body["faultcode"] == "Client" and body["debuginfo"] is None
    assert fragment in body["faultstring"], body["faultstring"]


def test_upload_pem(client: TestClient, pki: Pki, manager: LocalCertManager) -> None:
    cert = upload(client, pki)
    assert set(cert) == {"id", "name", "ref", "primary_cn", "project_id", "created_at"}
    assert cert["ref"] == f"statera://certificates/{cert['id']}"
    assert (cert["name"], cert["primary_cn"], cert["project_id"]) == (
        "web", "www.example.com", "alice")
    assert "T" in cert["created_at"] and "+" not in cert["created_at"]
    # The ref is usable by the API core.
    assert manager.load(cert["ref"], project_id="alice").intermediates == [pki.chain_pem]


def test_upload_pkcs12(client: TestClient, pki: Pki) -> None:
    archive = base64.b64encode(p12(pki.leaf_key, pki.leaf, [pki.inter], "pw")).decode()
    resp = client.post(PATH, json={"certificate": {"name": "p12", "pkcs12": archive,
                                                   "passphrase": "pw"}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["certificate"]["primary_cn"] == "www.example.com"


def test_upload_ca_bundle_without_key(client: TestClient, pki: Pki) -> None:
    resp = client.post(PATH, json={"certificate": {"certificate": cert_pem(pki.ca)}})
    assert resp.status_code == 201
    assert resp.json()["certificate"]["primary_cn"] == "Statera Test Root CA"
    assert resp.json()["certificate"]["name"] == ""
    crl = crl_pem(pki.ca_key, pki.ca, [])
    resp = client.post(PATH, json={"certificate": {"name": "crl", "certificate": crl}})
    assert resp.status_code == 201 and resp.json()["certificate"]["primary_cn"] is None


def test_show_list_and_delete(client: TestClient, pki: Pki) -> None:
    first = upload(client, pki, name="one")
    second = upload(client, pki, name="two")
    assert client.get(f"{PATH}/{first['id']}").json() == {"certificate": first}
    listed = client.get(PATH).json()
    assert listed["certificates_links"] == []
    # Ordered by created_at then id, as Octavia lists; both may share one second.
    by_id = sorted([first, second], key=lambda c: c["id"])
    assert sorted(listed["certificates"], key=lambda c: c["id"]) == by_id
    assert client.delete(f"{PATH}/{first['id']}").status_code == 204
    assert_fault(client.get(f"{PATH}/{first['id']}"), 404, f"Certificate {first['id']} not found.")
    assert_fault(client.delete(f"{PATH}/{first['id']}"), 404, "not found")
    assert [c["id"] for c in client.get(PATH).json()["certificates"]] == [second["id"]]


def test_another_projects_certificate_is_a_404(client: TestClient, pki: Pki) -> None:
    cert = upload(client, pki)
    bob = {"X-Project-Id": "bob"}
    assert_fault(client.get(f"{PATH}/{cert['id']}", headers=bob), 404, "not found")
    assert_fault(client.delete(f"{PATH}/{cert['id']}", headers=bob), 404, "not found")
    assert client.get(PATH, headers=bob).json()["certificates"] == []
    assert client.get(f"{PATH}/{cert['id']}").status_code == 200  # still there for alice


def test_missing_project_is_a_400(db: Database, manager: LocalCertManager, pki: Pki) -> None:
    app = FastAPI()
    app.include_router(certificates_router(lambda: manager, db.session, project_header))
    anonymous = TestClient(app)
    assert_fault(anonymous.get(PATH), 400, "Missing project ID")
    resp = anonymous.post(PATH, json={"certificate": {"certificate": pki.leaf_pem}})
    assert_fault(resp, 400, "Missing project ID")


def test_certificate_in_use_cannot_be_deleted(client: TestClient, db: Database, pki: Pki) -> None:
    cert = upload(client, pki)
    barbican_style = f"https://barbican.example.com/v1/containers/{cert['id']}"
    with db.session() as s:
        lb = m.LoadBalancer(project_id="alice", provider="noop")
        s.add(lb)
        s.flush()
        listener = m.Listener(load_balancer_id=lb.id, protocol="TERMINATED_HTTPS",
                              protocol_port=443, sni_container_refs=[barbican_style])
        s.add(listener)
    assert_fault(client.delete(f"{PATH}/{cert['id']}"), 409, f"listener {listener.id}")
    with db.session() as s:
        s.delete(s.get(m.Listener, listener.id))
        s.add(m.Pool(load_balancer_id=lb.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                     ca_tls_container_ref=cert["ref"]))
    assert_fault(client.delete(f"{PATH}/{cert['id']}"), 409, "pool ")


@pytest.mark.parametrize("body, status, fragment", [
    ({"certificate": {"name": "x", "certificate": "garbage"}}, 400, "Invalid certificate: "),
    ({"certificate": {"name": "x"}}, 400, "certificate. Value: 'None'. Mandatory field missing."),
    ({"nope": {}}, 400, "Mandatory field missing"),
    ([], 400, "Mandatory field missing"),
    ({"certificate": {"certificate": "x", "colour": "blue"}}, 400,
     "Unknown attribute for argument certificate: colour"),
    ({"certificate": {"certificate": "x"}, "extra": 1}, 400,
     "Unknown attribute for argument body: extra"),
    ({"certificate": {"certificate": "x", "pkcs12": "y"}}, 400, "not both"),
    ({"certificate": {"pkcs12": "%%%"}}, 400, "base64"),
    ({"certificate": {"certificate": "x", "name": "n" * 256}}, 400, "maximum character"),
    ({"certificate": {"certificate": 42}}, 400, "Value: '<redacted>'"),
    ({"certificate": {"certificate": "x", "private_key": ["k"]}}, 400, "Value: '<redacted>'"),
])
def test_bad_input(client: TestClient, body: Any, status: int, fragment: str) -> None:
    assert_fault(client.post(PATH, json=body), status, fragment)


def test_mismatched_key_and_bad_json(client: TestClient, pki: Pki) -> None:
    resp = client.post(PATH, json={"certificate": {"certificate": pki.leaf_pem,
                                                   "private_key": key_pem(pki.other_key)}})
    assert_fault(resp, 400, "The private key does not match the certificate.")
    resp = client.post(PATH, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_fault(resp, 400, "not valid JSON")


def test_no_key_material_in_any_response_or_log(
    client: TestClient, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encrypted = key_pem(pki.leaf_key, passphrase="api-secret")
    archive = base64.b64encode(p12(pki.leaf_key, pki.leaf, [], "api-secret")).decode()
    responses = [
        client.post(PATH, json={"certificate": {"name": "a", "certificate": pki.leaf_pem,
                                                "private_key": encrypted,
                                                "passphrase": "api-secret"}}),
        client.post(PATH, json={"certificate": {"name": "b", "pkcs12": archive,
                                                "passphrase": "api-secret"}}),
        client.post(PATH, json={"certificate": {"certificate": pki.leaf_pem,
                                                "private_key": encrypted, "passphrase": "bad"}}),
        client.post(PATH, json={"certificate": {"certificate": pki.leaf_pem,
                                                "private_key": key_pem(pki.other_key)}}),
        client.post(PATH, json={"certificate": {"certificate": 1, "private_key": encrypted}}),
    ]
    ids = [r.json()["certificate"]["id"] for r in responses[:2]]
    responses += [client.get(PATH)] + [client.get(f"{PATH}/{i}") for i in ids]
    responses += [client.delete(f"{PATH}/{i}") for i in ids]
    assert [r.status_code for r in responses] == [201, 201, 400, 400, 400, 200, 200, 200, 204, 204]
    secrets = ["PRIVATE KEY", "api-secret", archive[20:60],
               *_body_lines(encrypted), *_body_lines(key_pem(pki.leaf_key)),
               *_body_lines(key_pem(pki.other_key))]
    for resp in responses:
        for secret in secrets:
            assert secret not in resp.text
    assert caplog.records
    for secret in secrets:
        assert secret not in caplog.text


def _body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]
