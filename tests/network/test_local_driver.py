"""The local network driver against a real database: what gets allocated, what is refused,
and that concurrent allocations never share an address."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from statera.config import NetworkingSettings, NetworkSettings, Settings, SubnetSettings
from statera.db.engine import Database
from statera.db.models import VipPort
from statera.network import (
    InvalidSubresource,
    NetworkError,
    NoFreeAddress,
    PortInUse,
    VipInUse,
    VipValidationError,
    network_driver,
)
from statera.network.local import LocalNetworkDriver
from tests.dbs import BACKENDS, temp_database
from tests.network.conftest import (
    EMPTY_NET,
    LOOPBACK_NET,
    LOOPBACK_SUBNET,
    SMALL_A,
    SMALL_B,
    SMALL_NET,
    V6_SUBNET,
    networking_settings,
)


def lb() -> str:
    return str(uuid.uuid4())


def ports(db: Database) -> list[VipPort]:
    with db.session() as s:
        return list(s.scalars(select(VipPort).order_by(VipPort.ip_address)))


def test_default_driver_allocates_from_loopback_subnet(db: Database) -> None:
    driver = network_driver(Settings())
    first, second = lb(), lb()
    with db.session() as s:
        vip1 = driver.allocate_vip(s, lb_id=first, project_id="p1", subnet_id=LOOPBACK_SUBNET)
        vip2 = driver.allocate_vip(s, lb_id=second, project_id="p1", subnet_id=LOOPBACK_SUBNET)
    assert (vip1.ip_address, vip2.ip_address) == ("127.0.100.2", "127.0.100.3")
    assert vip1.network_id == LOOPBACK_NET and vip1.subnet_id == LOOPBACK_SUBNET
    assert vip1.octavia_owned is True
    rows = {row.id: row for row in ports(db)}
    assert rows[vip1.port_id].device_id == first
    assert rows[vip1.port_id].name == f"octavia-lb-{first}"
    assert rows[vip1.port_id].project_id == "p1"


def test_network_only_picks_first_subnet_with_free_addresses(
    db: Database, driver: LocalNetworkDriver
) -> None:
    with db.session() as s:
        got = [driver.allocate_vip(s, lb_id=lb(), project_id="p", network_id=SMALL_NET)
               for _ in range(6)]
    # 127.0.101.0/29: network .0, gateway .1 and broadcast .7 are never handed out.
    assert [v.ip_address for v in got[:5]] == [f"127.0.101.{i}" for i in range(2, 7)]
    assert all(v.subnet_id == SMALL_A for v in got[:5])
    # Then the second subnet, starting at its allocation_start.
    assert (got[5].subnet_id, got[5].ip_address) == (SMALL_B, "127.0.102.100")


def test_network_and_subnet_together_must_agree(db: Database, driver: LocalNetworkDriver) -> None:
    with db.session() as s:
        vip = driver.allocate_vip(s, lb_id=lb(), project_id="p", network_id=SMALL_NET,
                                  subnet_id=SMALL_B)
        assert vip.subnet_id == SMALL_B
        with pytest.raises(InvalidSubresource) as err:
            driver.allocate_vip(s, lb_id=lb(), project_id="p", network_id=SMALL_NET,
                                subnet_id=LOOPBACK_SUBNET)
    assert (err.value.kind, err.value.id) == ("Subnet", LOOPBACK_SUBNET)


def test_subnet_implies_its_network(db: Database, driver: LocalNetworkDriver) -> None:
    with db.session() as s:
        vip = driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=SMALL_B)
    assert vip.network_id == SMALL_NET


def test_explicit_address_is_honoured_and_then_in_use(
    db: Database, driver: LocalNetworkDriver
) -> None:
    with db.session() as s:
        vip = driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET,
                                  ip_address="127.0.100.77")
    assert vip.ip_address == "127.0.100.77"
    with db.session() as s, pytest.raises(VipInUse) as err:
        driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET,
                            ip_address="127.0.100.77")
    assert err.value.status_code == 409
    assert err.value.address == "127.0.100.77"
    assert err.value.faultstring.startswith("The VIP IP address is already in use: ")
    assert "127.0.100.77" in str(err.value)
    # Automatic allocation skips it as well as the explicit one.
    with db.session() as s:
        assert driver.allocate_vip(s, lb_id=lb(), project_id="p",
                                   subnet_id=LOOPBACK_SUBNET).ip_address == "127.0.100.2"


def test_explicit_address_with_network_only_finds_its_subnet(
    db: Database, driver: LocalNetworkDriver
) -> None:
    with db.session() as s:
        vip = driver.allocate_vip(s, lb_id=lb(), project_id="p", network_id=SMALL_NET,
                                  ip_address="127.0.102.9")
    # Below allocation_start is allowed for an explicit address, as Neutron allows fixed IPs.
    assert (vip.subnet_id, vip.ip_address) == (SMALL_B, "127.0.102.9")


@pytest.mark.parametrize("address, reason", [
    ("10.9.9.9", "is not in subnet"),
    ("127.0.100.0", "reserved"),       # network address
    ("127.0.100.1", "reserved"),       # gateway
    ("127.0.100.255", "reserved"),     # broadcast
    ("not-an-ip", "is not a valid IP address"),
])
def test_unusable_explicit_address_is_a_validation_error(
    db: Database, driver: LocalNetworkDriver, address: str, reason: str
) -> None:
    with db.session() as s, pytest.raises(VipValidationError) as err:
        driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET,
                            ip_address=address)
    assert err.value.status_code == 400
    assert reason in str(err.value)
    assert str(err.value).startswith("Validation failure: ")


def test_ipv6_subnet(db: Database, driver: LocalNetworkDriver) -> None:
    with db.session() as s:
        first = driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=V6_SUBNET)
        explicit = driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=V6_SUBNET,
                                       ip_address="FD00:5EA7:E4A:0:0:0:0:10")
        with pytest.raises(VipInUse):
            driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=V6_SUBNET,
                                ip_address="fd00:5ea7:e4a::10")
    assert first.ip_address == "fd00:5ea7:e4a::2"
    assert explicit.ip_address == "fd00:5ea7:e4a::10"  # normalised, so duplicates are caught


@pytest.mark.parametrize("kwargs, kind", [
    ({"subnet_id": "no-such-subnet"}, "Subnet"),
    ({"network_id": "no-such-network"}, "Network"),
    ({"port_id": "no-such-port"}, "Port"),
])
def test_unknown_references_are_invalid_subresources(
    db: Database, driver: LocalNetworkDriver, kwargs: dict[str, Any], kind: str
) -> None:
    with db.session() as s, pytest.raises(InvalidSubresource) as err:
        driver.allocate_vip(s, lb_id=lb(), project_id="p", **kwargs)
    ref = next(iter(kwargs.values()))
    assert (err.value.kind, err.value.id, err.value.status_code) == (kind, ref, 400)
    assert str(err.value) == f"{kind} {ref} not found."


def test_one_reference_is_required(db: Database, driver: LocalNetworkDriver) -> None:
    with db.session() as s, pytest.raises(VipValidationError) as err:
        driver.allocate_vip(s, lb_id=lb(), project_id="p")
    assert "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id." in str(err.value)


def test_full_subnet_and_empty_network(db: Database, driver: LocalNetworkDriver) -> None:
    with db.session() as s:
        for _ in range(5):
            driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=SMALL_A)
    with db.session() as s, pytest.raises(NoFreeAddress) as err:
        driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=SMALL_A)
    assert err.value.status_code == 409
    assert str(err.value) == f"No more IP addresses available on subnet {SMALL_A}."
    with db.session() as s, pytest.raises(NoFreeAddress):
        driver.allocate_vip(s, lb_id=lb(), project_id="p", network_id=EMPTY_NET)


def test_release_frees_the_address(db: Database, driver: LocalNetworkDriver) -> None:
    owner, other = lb(), lb()
    with db.session() as s:
        driver.allocate_vip(s, lb_id=owner, project_id="p", subnet_id=LOOPBACK_SUBNET)
        driver.allocate_vip(s, lb_id=other, project_id="p", subnet_id=LOOPBACK_SUBNET)
    with db.session() as s:
        driver.release_vip(s, owner)
    assert [p.device_id for p in ports(db)] == [other]
    with db.session() as s:
        again = driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET)
    assert again.ip_address == "127.0.100.2"


def test_release_frees_every_vip_of_the_load_balancer(
    db: Database, driver: LocalNetworkDriver
) -> None:
    """Additional VIPs are further allocations for the same load balancer; one release frees
    them all."""
    owner = lb()
    with db.session() as s:
        driver.allocate_vip(s, lb_id=owner, project_id="p", subnet_id=LOOPBACK_SUBNET)
        driver.allocate_vip(s, lb_id=owner, project_id="p", subnet_id=V6_SUBNET)
    assert len(ports(db)) == 2
    with db.session() as s:
        driver.release_vip(s, owner)
    assert ports(db) == []


def test_allocation_rolls_back_with_the_callers_transaction(
    db: Database, driver: LocalNetworkDriver
) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET,
                            ip_address="127.0.100.50")
        raise RuntimeError("the provider refused the load balancer")
    assert ports(db) == []
    with db.session() as s:
        vip = driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET,
                                  ip_address="127.0.100.50")
    assert vip.ip_address == "127.0.100.50"


def test_user_supplied_port_is_attached_detached_and_never_shared(
    db: Database, driver: LocalNetworkDriver
) -> None:
    with db.session() as s:
        s.add(VipPort(id="user-port", network_id=SMALL_NET, subnet_id=SMALL_B,
                      ip_address="127.0.102.5", project_id="p", name="mine"))
    first = lb()
    with db.session() as s:
        vip = driver.allocate_vip(s, lb_id=first, project_id="p", port_id="user-port")
    assert (vip.port_id, vip.ip_address, vip.subnet_id, vip.network_id) == (
        "user-port", "127.0.102.5", SMALL_B, SMALL_NET)
    assert vip.octavia_owned is False
    with db.session() as s, pytest.raises(PortInUse) as err:
        driver.allocate_vip(s, lb_id=lb(), project_id="p", port_id="user-port")
    assert isinstance(err.value, InvalidSubresource) and err.value.status_code == 400
    assert str(err.value) == (
        f"Validation failure: Port user-port is already used by device {first}.")
    with db.session() as s:
        driver.release_vip(s, first)
    (row,) = ports(db)
    assert (row.id, row.device_id) == ("user-port", None)  # kept, free again
    with db.session() as s, pytest.raises(VipValidationError):
        driver.allocate_vip(s, lb_id=lb(), project_id="p", port_id="user-port",
                            subnet_id=LOOPBACK_SUBNET)


def test_address_taken_between_read_and_insert_is_retried(
    db: Database, driver: LocalNetworkDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique constraint, not the read, is what prevents duplicates: a stale view of the
    used addresses only costs a retry inside a savepoint."""
    with db.session() as s:
        driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET)
    monkeypatch.setattr(driver, "_used_addresses", lambda session, subnet_id: set())
    with db.session() as s:
        vip = driver.allocate_vip(s, lb_id=lb(), project_id="p", subnet_id=LOOPBACK_SUBNET)
    assert vip.ip_address == "127.0.100.3"
    assert [p.ip_address for p in ports(db)] == ["127.0.100.2", "127.0.100.3"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_allocations_never_share_an_address(backend: str, tmp_path: Any) -> None:
    """Threads released together on one and two subnets: every address distinct, none lost,
    and no deadlock or lock timeout on any backend."""
    threads_count = 16
    with temp_database(backend, str(tmp_path)) as url:
        db = Database(url)
        driver = LocalNetworkDriver(networking_settings())
        barrier = threading.Barrier(threads_count)
        results: list[str] = []
        errors: list[BaseException] = []

        def allocate() -> None:
            try:
                barrier.wait()
                for subnet in (LOOPBACK_SUBNET, V6_SUBNET, LOOPBACK_SUBNET):
                    with db.session() as s:
                        vip = driver.allocate_vip(s, lb_id=lb(), project_id="p",
                                                  subnet_id=subnet)
                    results.append(vip.ip_address)
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=allocate) for _ in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        try:
            assert not errors, errors
            assert len(results) == threads_count * 3
            assert len(set(results)) == len(results)
            with db.session() as s:
                assert len(driver.list_ports(s)) == len(results)
        finally:
            db.dispose()


def test_bad_configuration_fails_at_start_up() -> None:
    def settings(**subnet: str) -> NetworkingSettings:
        return NetworkingSettings(networks=[NetworkSettings(id="n", subnets=[
            SubnetSettings(id="s", **subnet)])])

    with pytest.raises(ValueError, match="invalid cidr"):
        network_driver(settings(cidr="300.1.2.0/24"))
    with pytest.raises(ValueError, match="allocation_start"):
        network_driver(settings(cidr="10.0.0.0/24", allocation_start="10.0.1.5"))
    with pytest.raises(ValueError, match="too small"):
        network_driver(settings(cidr="10.0.0.0/31"))
    with pytest.raises(ValueError, match="unknown driver"):
        network_driver(NetworkingSettings(driver="neutron"))


def test_every_error_is_a_network_error_with_a_status() -> None:
    """Callers that catch only Octavia's two names still answer with the right status."""
    for error in (InvalidSubresource("Subnet", "x"), PortInUse("p", "d"),
                  VipValidationError("bad")):
        assert isinstance(error, InvalidSubresource) and error.status_code == 400
        assert error.faultstring == str(error)
    for conflict in (VipInUse("1.2.3.4"), NoFreeAddress("subnet x")):
        assert isinstance(conflict, VipInUse) and conflict.status_code == 409
    assert VipInUse("1.2.3.4").faultstring == (
        "The VIP IP address is already in use: IP address 1.2.3.4 is already allocated.")
    assert NoFreeAddress("subnet x").faultstring == "No more IP addresses available on subnet x."
    assert all(issubclass(e, NetworkError) for e in (InvalidSubresource, VipInUse))
