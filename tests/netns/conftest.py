"""Namespace tests need root and ``ip netns``; they skip with the reason otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.netns.topology import Topology, usable


@pytest.fixture(scope="module")
def netns_reason() -> str | None:
    return usable()


@pytest.fixture
def topology(netns_reason: str | None) -> Iterator[Topology]:
    if netns_reason:
        pytest.skip(netns_reason)
    topo = Topology(hosts=2)
    try:
        yield topo
    finally:
        topo.close()
