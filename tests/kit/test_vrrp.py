"""The kit's VIP planning and keepalived configuration, without namespaces (the traffic tests
are tests/netns): what a MASTER and a BACKUP are told, what is refused, what goes on the wire."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from octavia_lib.api.drivers import data_models as dm
from pydantic import ValidationError

from statera.config import KeepalivedVrrpSettings, NetworkingSettings, Settings
from statera.network import interface
from statera.providers.haproxy import render, view
from statera.providers.kit.graph import ConfigError
from statera.providers.kit.vips import Placement, Vips
from statera.providers.kit.vrrp import Keepalived, VrrpError, vrrp_id

LB_ID = "6a1f3c1e-2b7d-4f3a-9c1e-5d2a7b9e0f11"
SUBNET = "9d1a2b3c-0000-4000-8000-000000000001"


def _networking(interface_name: str) -> NetworkingSettings:
    return NetworkingSettings(networks=[{"id": "net", "subnets": [
        {"id": SUBNET, "cidr": "10.9.0.0/24", "interface": interface_name}]}])


def _config(tmp_path: Path, role: str, advert_int: float = 1.0) -> str:
    keepalived = Keepalived(tmp_path / LB_ID)
    settings = KeepalivedVrrpSettings(vrrp_advert_int=advert_int)
    k = keepalived.view(settings, role=role, interface="lo", source="10.9.0.11",
                        peers=("10.9.0.12",), addresses=(("10.9.0.50", "lo"),))
    files = keepalived.render(k, tmp_path / LB_ID / "haproxy.pid", tmp_path / LB_ID / "h.cfg")
    return files[keepalived.cfg]


def test_master_and_backup_are_configured_as_octavia_does(tmp_path: Path) -> None:
    master, backup = _config(tmp_path, "MASTER"), _config(tmp_path, "BACKUP")
    assert "priority 100" in master and "priority 90" in backup
    for text in (master, backup):
        assert "nopreempt" in text and "\n    state " not in text  # starts BACKUP: nopreempt holds
        assert f"virtual_router_id {vrrp_id(LB_ID)}" in text
        assert "advert_int 1\n" in text and "auth_type PASS" in text
        assert "unicast_src_ip 10.9.0.11" in text and "        10.9.0.12\n" in text
        assert "10.9.0.50/32 dev lo" in text
        assert f'script "{tmp_path / LB_ID / "vrrp-check.sh"}"' in text
    assert master.replace("priority 100", "") == backup.replace("priority 90", "")


def test_sub_second_adverts_use_vrrp3_without_a_password(tmp_path: Path) -> None:
    text = _config(tmp_path, "MASTER", advert_int=0.5)
    assert "vrrp_version 3" in text and "advert_int 0.50" in text
    assert "authentication" not in text


@pytest.mark.parametrize("peers, dev", [(("10.9.0.12\n}",), "lo"), (("10.9.0.12",), "lo x")])
def test_values_that_could_break_the_configuration_are_refused(
        tmp_path: Path, peers: tuple[str, ...], dev: str) -> None:
    with pytest.raises(VrrpError):
        Keepalived(tmp_path / LB_ID).view(KeepalivedVrrpSettings(), role="MASTER",
                                          interface=dev, source="10.9.0.11", peers=peers,
                                          addresses=(("10.9.0.50", "lo"),))


def test_an_interface_name_is_checked_when_settings_load() -> None:
    with pytest.raises(ValidationError, match="is not an interface name"):
        _networking("br-vip; rm -rf /")
    with pytest.raises(ValidationError):
        Settings(keepalived_vrrp={"vrrp_advert_int": 0})


def _lb() -> dm.LoadBalancer:
    return dm.LoadBalancer(loadbalancer_id=LB_ID, vip_address="10.9.0.50",
                           vip_subnet_id=SUBNET, admin_state_up=True, listeners=[], pools=[])


def test_a_loopback_subnet_plumbs_nothing_and_cannot_fail_over() -> None:
    plan = Vips(_networking(""), KeepalivedVrrpSettings()).plan(LB_ID, _lb())
    assert (plan.interface, plan.on_interfaces, plan.freebind) == ("", (), False)
    master = Vips(_networking(""), KeepalivedVrrpSettings(),
                  lambda _i, _lb: Placement(role="MASTER", peers=("10.9.0.12",)))
    with pytest.raises(ConfigError, match="names no interface"):
        master.plan(LB_ID, _lb())


def test_a_vrrp_role_binds_with_transparent_and_reports_its_vrrp_fields() -> None:
    vips = Vips(_networking("vip0"), KeepalivedVrrpSettings(),
                lambda _i, _lb: Placement(role="BACKUP", peers=("10.9.0.11",),
                                          vrrp_ip="10.9.0.12", amphora_id="amp-2"))
    plan = vips.plan(LB_ID, _lb())
    assert plan.freebind and plan.on_interfaces == (("10.9.0.50", "vip0"),)
    assert vips.amphora_fields(Path("/nonexistent"), plan) == {
        "role": "BACKUP", "ha_ip": "10.9.0.50", "vrrp_ip": "10.9.0.12",
        "vrrp_interface": "vip0", "vrrp_id": vrrp_id(LB_ID), "vrrp_priority": 90}
    pool = dm.Pool(pool_id="p1", protocol="TCP", lb_algorithm="ROUND_ROBIN",
                   admin_state_up=True, members=[])
    lb = _lb()
    lb.pools = [pool]
    lb.listeners = [dm.Listener(listener_id="l1", protocol="TCP", protocol_port=80,
                                admin_state_up=True, connection_limit=-1, l7policies=[],
                                default_pool_id="p1")]
    text = render.render_config(view.build_view(lb, view.Options(state_dir="/s",
                                                                 freebind=True)))
    assert "    bind 10.9.0.50:80 transparent\n" in text


def test_a_gratuitous_arp_claims_the_address_for_our_mac() -> None:
    mac = bytes.fromhex("020000000001")
    frame = interface.garp_frame(mac, "10.9.0.50")
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == mac
    assert struct.unpack("!H", frame[12:14])[0] == 0x0806
    _htype, ptype, _hlen, _plen, op = struct.unpack("!HHBBH", frame[14:22])
    assert (ptype, op) == (0x0800, 1)
    assert frame[22:28] == mac and frame[28:32] == frame[38:42] == bytes([10, 9, 0, 50])
    na = interface.unsolicited_na(mac, "2001:db8::50")
    assert na[0] == 136 and struct.unpack("!I", na[4:8])[0] == interface.NA_OVERRIDE
    assert na[8:24] == bytes.fromhex("20010db8000000000000000000000050") and na[-6:] == mac
