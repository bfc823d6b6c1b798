"""Splitting Octavia's one ``tls_ciphers`` string into OpenSSL's two lists (TLS 1.2 and older,
TLS 1.3), which every provider's renderer writes apart."""

from __future__ import annotations

import pytest

from statera.providers.kit.graph import ConfigError, split_ciphers


def test_tls13_suites_are_split_from_older_ciphers() -> None:
    assert split_ciphers(None, [], "x") == (None, None)
    assert split_ciphers("ECDHE+AESGCM:TLS_AES_256_GCM_SHA384", ["TLSv1.2"], "x") == (
        "ECDHE+AESGCM", "TLS_AES_256_GCM_SHA384")
    assert split_ciphers("ECDHE+AESGCM", ["TLSv1.3"], "x") == ("ECDHE+AESGCM", None)
    assert split_ciphers("TLS_AES_256_GCM_SHA384", ["TLSv1.3"], "x") == (
        None, "TLS_AES_256_GCM_SHA384")


def test_tls13_only_suites_with_older_versions_are_a_config_error() -> None:
    """A list of TLS 1.3 suites only cannot serve TLS 1.2 (the API refuses it too)."""
    for versions in (["TLSv1.2", "TLSv1.3"], []):
        with pytest.raises(ConfigError, match="only TLS 1.3 suites"):
            split_ciphers("TLS_AES_256_GCM_SHA384", versions, "x")
