"""Row → Octavia response body, table-driven: each resource lists its plain fields (with the
API name where it differs from the column) plus a few computed ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from statera.db import models as m
from statera.db import names
from statera.db.statuses import ProvisioningStatus

Renamed = dict[str, str]  # API name -> column name


def _ts(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _base(row: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name or "",
        "description": row.description or "",
        "admin_state_up": row.enabled,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "provisioning_status": row.provisioning_status,
        "operating_status": row.operating_status,
        "created_at": _ts(row.created_at),
        "updated_at": _ts(row.updated_at),
        "tags": tags,
    }


def _plain(row: Any, names: list[str], renamed: Renamed | None = None) -> dict[str, Any]:
    out = {n: getattr(row, n) for n in names}
    for api, col in (renamed or {}).items():
        out[api] = getattr(row, col)
    return out


def loadbalancer(row: m.LoadBalancer, tags: list[str]) -> dict[str, Any]:
    body = _base(row, tags)
    body.update(_plain(row, [
        "vip_address", "vip_port_id", "vip_subnet_id", "vip_network_id", "vip_qos_policy_id",
        "vip_vnic_type", "flavor_id", "availability_zone"]))
    body["vip_sg_ids"] = row.vip_sg_ids or []
    body["additional_vips"] = row.additional_vips or []
    body["provider"] = row.provider or "octavia"
    body["listeners"] = [{"id": lst.id} for lst in row.listeners
                         if lst.provisioning_status != ProvisioningStatus.DELETED]
    body["pools"] = [{"id": p.id} for p in row.pools]
    return body


def listener(row: m.Listener, tags: list[str]) -> dict[str, Any]:
    body = _base(row, tags)
    body.update(_plain(row, [
        "protocol", "protocol_port", "connection_limit", "default_pool_id",
        "default_tls_container_ref", "client_authentication", "client_ca_tls_container_ref",
        "client_crl_container_ref", "timeout_client_data", "timeout_member_connect",
        "timeout_member_data", "timeout_tcp_inspect", "tls_ciphers", "tls_versions",
        "alpn_protocols", "hsts_max_age", "hsts_include_subdomains", "hsts_preload"]))
    body["sni_container_refs"] = row.sni_container_refs or []
    body["insert_headers"] = row.insert_headers or {}
    body["allowed_cidrs"] = row.allowed_cidrs or None
    body["loadbalancers"] = [{"id": row.load_balancer_id}]
    body["l7policies"] = [{"id": p.id} for p in row.l7policies]
    return body


def pool(row: m.Pool, tags: list[str]) -> dict[str, Any]:
    body = _base(row, tags)
    body.update(_plain(row, [
        "protocol", "lb_algorithm", "session_persistence", "tls_enabled", "tls_container_ref",
        "ca_tls_container_ref", "crl_container_ref", "tls_ciphers", "tls_versions",
        "alpn_protocols"]))
    body["loadbalancers"] = [{"id": row.load_balancer_id}]
    body["listeners"] = [{"id": lid} for lid in pool_listener_ids(row)]
    body["members"] = [{"id": mem.id} for mem in row.members]
    if row.health_monitor is not None:  # Octavia leaves the key out of a pool without one
        body["healthmonitor_id"] = row.health_monitor.id
    return body


def pool_listener_ids(row: m.Pool) -> list[str]:
    """Listeners using the pool: as default pool, or through an L7 policy redirect."""
    ids: list[str] = []
    for lst in row.load_balancer.listeners:
        uses = lst.default_pool_id == row.id or any(
            p.redirect_pool_id == row.id for p in lst.l7policies
        )
        if uses:
            ids.append(lst.id)
    return ids


def member(row: m.Member, tags: list[str]) -> dict[str, Any]:
    body = _base(row, tags)
    del body["description"]
    body.update(_plain(row, [
        "address", "protocol_port", "weight", "backup", "subnet_id", "monitor_address",
        "monitor_port", "vnic_type"]))
    return body


def healthmonitor(row: m.HealthMonitor, tags: list[str]) -> dict[str, Any]:
    body = _base(row, tags)
    del body["description"]
    body.update(_plain(row, [
        "type", "delay", "timeout", "http_method", "url_path", "expected_codes", "domain_name"],
        names.renamed("max_retries", "max_retries_down")))
    body["http_version"] = row.http_version
    body["pools"] = [{"id": row.pool_id}]
    return body


def l7policy(row: m.L7Policy, tags: list[str]) -> dict[str, Any]:
    body = _base(row, tags)
    body.update(_plain(row, [
        "listener_id", "action", "redirect_pool_id", "redirect_url", "redirect_prefix",
        "redirect_http_code", "position"]))
    body["rules"] = [{"id": r.id} for r in row.rules]
    return body


def l7rule(row: m.L7Rule, tags: list[str]) -> dict[str, Any]:
    body = _base(row, tags)
    del body["name"], body["description"]
    body.update(_plain(row, ["type", "compare_type", "key", "value", "invert"]))
    return body


RENDERERS: dict[type[Any], Callable[[Any, list[str]], dict[str, Any]]] = {
    m.LoadBalancer: loadbalancer,
    m.Listener: listener,
    m.Pool: pool,
    m.Member: member,
    m.HealthMonitor: healthmonitor,
    m.L7Policy: l7policy,
    m.L7Rule: l7rule,
}

# API filter/sort name -> column, for list queries.
API_COLUMNS: dict[str, str] = names.API_TO_COLUMN


def flavor(row: m.Flavor) -> dict[str, Any]:
    return _plain(row, ["id", "name", "description", "enabled", "flavor_profile_id"]) | {
        "name": row.name or "", "description": row.description or ""}


def flavorprofile(row: m.FlavorProfile) -> dict[str, Any]:
    return _plain(row, ["id", "name", "provider_name", "flavor_data"])


def availability_zone(row: m.AvailabilityZone) -> dict[str, Any]:
    return _plain(row, ["name", "description", "enabled", "availability_zone_profile_id"]) | {
        "description": row.description or ""}


def availability_zone_profile(row: m.AvailabilityZoneProfile) -> dict[str, Any]:
    return _plain(row, ["id", "name", "provider_name", "availability_zone_data"])


def amphora(row: m.Amphora) -> dict[str, Any]:
    body = _plain(row, [
        "id", "compute_id", "compute_flavor", "image_id", "cached_zone", "lb_network_ip",
        "vrrp_ip", "ha_ip", "vrrp_port_id", "ha_port_id", "vrrp_interface", "vrrp_id",
        "vrrp_priority", "cert_busy", "role", "status"], {"loadbalancer_id": "load_balancer_id"})
    body["cert_expiration"] = _ts(row.cert_expiration)
    body["created_at"] = _ts(row.created_at)
    body["updated_at"] = _ts(row.updated_at)
    return body
