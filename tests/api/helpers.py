"""Helpers the API tests share: the state a rejected write must leave untouched, Octavia's
fault body, a provider driver that records calls, a self-signed certificate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from statera.db import models as m
from tests.api.conftest import Api
from tests.statuses import force_status

MISSING = "3d6b6c38-5f0a-4c55-9c1e-0d6d3a6f0001"


def snapshot(api: Api) -> tuple[Any, ...]:
    """What a rejected write must leave untouched: row counts and every LB's generation."""
    with api.db.session() as s:
        counts = tuple(int(s.scalar(select(func.count()).select_from(model)) or 0)
                       for model in (m.Listener, m.Pool, m.Member, m.HealthMonitor, m.Tag))
        gens = tuple(s.execute(select(m.LoadBalancer.id, m.LoadBalancer.desired_generation,
                                      m.LoadBalancer.provisioning_status)
                               .order_by(m.LoadBalancer.id)).all())
    return counts, gens


def assert_fault(resp: Any, status: int, text: str = "") -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["faultcode"] == ("Client" if status < 500 else "Server"), body
    assert body["debuginfo"] is None
    assert text in body["faultstring"], body["faultstring"]


def set_status(api: Api, model: Any, obj_id: str, status: str) -> None:
    with api.db.session() as s:
        force_status(s.get_one(model, obj_id), status)


def self_signed(cn: str = "www.example.com") -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


class Recorder:
    """A provider driver that records calls, and can fail like a real one."""

    name = "noop"

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail = fail

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any) -> None:
            self.calls.append((method, args))
            if self.fail is not None:
                raise self.fail
        return call
