"""``[certificates] cert_manager = noop`` in a real ``statera serve``: what Octavia's noop test
mode needs. octavia-tempest-plugin with ``test_with_noop`` sends random UUIDs as every TLS
reference and expects TLS listeners and pools to be created and to go ACTIVE."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LOOPBACK_SUBNET, Server, running_server, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def noop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = Path(tmp_path_factory.mktemp("noop-certs")) / "data"
    with running_server(data, {"STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
                               "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "2",
                               "STATERA_CERTIFICATES__CERT_MANAGER": "noop"}) as srv:
        yield srv


def _created(api: httpx.Client, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = api.post(path, json={key: body})
    assert resp.status_code == 201, resp.text
    return dict(resp.json()[key])


def _status(api: httpx.Client, path: str, key: str) -> str:
    return str(api.get(path).json()[key]["provisioning_status"])


def test_any_uuid_reference_gives_an_active_tls_listener_and_pool(noop_server: Server) -> None:
    refs = {name: str(uuid.uuid4()) for name in ("default", "sni1", "sni2", "ca", "crl",
                                                  "pool", "pool_ca", "pool_crl")}
    with httpx.Client(base_url=noop_server.url, timeout=30) as api:
        lb = _created(api, "/v2/lbaas/loadbalancers", "loadbalancer",
                      {"name": "noop-tls", "vip_subnet_id": LOOPBACK_SUBNET})
        wait_for(lambda: _status(api, f"/v2/lbaas/loadbalancers/{lb['id']}",
                                 "loadbalancer") == "ACTIVE", timeout=30, what="LB ACTIVE")
        listener = _created(api, "/v2/lbaas/listeners", "listener", {
            "loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS", "protocol_port": 443,
            "default_tls_container_ref": refs["default"],
            "sni_container_refs": [refs["sni1"], refs["sni2"]],
            "client_authentication": "MANDATORY",
            "client_ca_tls_container_ref": refs["ca"],
            "client_crl_container_ref": refs["crl"]})
        assert listener["default_tls_container_ref"] == refs["default"]
        assert sorted(listener["sni_container_refs"]) == sorted([refs["sni1"], refs["sni2"]])
        assert listener["client_crl_container_ref"] == refs["crl"]
        wait_for(lambda: _status(api, f"/v2/lbaas/listeners/{listener['id']}",
                                 "listener") == "ACTIVE", timeout=30, what="listener ACTIVE")
        pool = _created(api, "/v2/lbaas/pools", "pool", {
            "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "tls_enabled": True, "tls_container_ref": refs["pool"],
            "ca_tls_container_ref": refs["pool_ca"], "crl_container_ref": refs["pool_crl"]})
        wait_for(lambda: _status(api, f"/v2/lbaas/pools/{pool['id']}", "pool") == "ACTIVE",
                 timeout=30, what="pool ACTIVE")
        # An update to new references is accepted the same way.
        resp = api.put(f"/v2/lbaas/listeners/{listener['id']}",
                       json={"listener": {"default_tls_container_ref": str(uuid.uuid4())}})
        assert resp.status_code == 200, resp.text
        # There is nothing to upload to: the local store's API is not served.
        assert api.post("/v2/statera/certificates",
                        json={"certificate": {"certificate": "x"}}).status_code == 404
