"""What a Barbican reference costs: the API's check (the caller's token grants Statera's
service user read ACLs, then the material is read and validated as the service user) and the
driver agent's uncached fetch, for certificate containers and PKCS12 secrets.

Runs a real Keystone 30 and Barbican 23 on loopback (``.venv-openstack``; SQLite, one gunicorn
worker each, as in the tests) and calls :class:`statera.certs.barbican.BarbicanCertManager`
directly, so only the certificate path is measured, not the rest of an API request.

Usage: .venv/bin/python -m bench.barbican_certs [--n 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from bench.common import fmt_ms, percentiles
from statera.certs.barbican import BarbicanCertManager
from statera.certs.base import Caller, RefKind
from statera.config import CertificatesSettings, ServiceAuthSettings
from tests.openstack import barbican_service as bs
from tests.openstack import keystone as ks
from tests.openstack.test_barbican_certs import (
    barbican_client,
    bundle,
    store_container,
    store_pkcs12,
)


def timed(call: Callable[[str], object], refs: list[str]) -> list[float]:
    """Seconds per call, one call per reference."""
    samples = []
    for ref in refs:
        started = time.perf_counter()
        call(ref)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30, help="references of each form")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keystone = ks.start(Path(tmp) / "keystone")
        barbican = None
        try:
            barbican = bs.start(Path(tmp) / "barbican", keystone)
            user = keystone.user("bench-user", "bench-project", ["member"])
            time.sleep(1)  # tokens of the second a password was set in are revoked
            client = barbican_client(keystone, user)
            material = bundle("bench.example.test")
            forms = {"container": [store_container(client, material) for _ in range(args.n)],
                     "pkcs12": [store_pkcs12(client, material) for _ in range(args.n)]}
            manager = BarbicanCertManager(
                CertificatesSettings(cert_manager="barbican", cache_seconds=0,
                                     region_name=keystone.region),
                ServiceAuthSettings(auth_url=keystone.url, username=keystone.service.username,
                                    password=SecretStr(keystone.service.password)))
            caller = Caller(user.project_id, keystone.token(user))
            warm_up = store_pkcs12(client, material)
            manager.check(warm_up, RefKind.BUNDLE, caller)  # service token, discovery
            print(f"Barbican references, {args.n} of each form (ms per reference)")
            for form, refs in forms.items():
                check = timed(lambda ref: manager.check(ref, RefKind.BUNDLE, caller), refs)
                fetch = timed(lambda ref: manager.fetch(ref, RefKind.BUNDLE), refs)
                print(f"  {form:9} API check (grants ACLs): {fmt_ms(percentiles(check))}")
                print(f"  {form:9} agent fetch (uncached):  {fmt_ms(percentiles(fetch))}")
        finally:
            if barbican is not None:
                barbican.stop()
            keystone.stop()


if __name__ == "__main__":
    main()
