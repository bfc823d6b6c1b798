"""Fixtures for the network driver and the Neutron router: a migrated SQLite database in
``tmp_path`` and drivers over a small test topology next to the default loopback network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from statera.config import NetworkingSettings, NetworkSettings, Settings, SubnetSettings
from statera.db.engine import Database
from statera.network.local import LocalNetworkDriver
from tests.dbs import temp_database

LOOPBACK_NET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000001"
LOOPBACK_SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"
SMALL_NET = "11111111-0000-4000-8000-000000000001"
SMALL_A = "11111111-0000-4000-8000-00000000000a"  # /29: .2 to .6 allocatable
SMALL_B = "11111111-0000-4000-8000-00000000000b"
V6_NET = "66666666-0000-4000-8000-000000000001"
V6_SUBNET = "66666666-0000-4000-8000-000000000002"
EMPTY_NET = "eeeeeeee-0000-4000-8000-000000000001"


def networking_settings() -> NetworkingSettings:
    settings = Settings().networking.model_copy(deep=True)
    settings.networks += [
        NetworkSettings(id=SMALL_NET, name="small", subnets=[
            SubnetSettings(id=SMALL_A, name="small-a", cidr="127.0.101.0/29"),
            SubnetSettings(id=SMALL_B, name="small-b", cidr="127.0.102.0/24",
                           allocation_start="127.0.102.100"),
        ]),
        NetworkSettings(id=V6_NET, name="v6", subnets=[
            SubnetSettings(id=V6_SUBNET, name="v6-sub", cidr="fd00:5ea7:e4a::/64"),
        ]),
        NetworkSettings(id=EMPTY_NET, name="empty"),
    ]
    return settings


@pytest.fixture
def db(tmp_path: object) -> Iterator[Database]:
    with temp_database("sqlite", str(tmp_path)) as url:
        database = Database(url)
        yield database
        database.dispose()


@pytest.fixture
def driver() -> LocalNetworkDriver:
    return LocalNetworkDriver(networking_settings())
