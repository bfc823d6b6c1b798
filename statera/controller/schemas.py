"""Request bodies, one pydantic model per resource and verb, named with Octavia's fields.

Limits and enums are Octavia's (octavia.md §1.4). Unknown attributes are rejected. Semantic
rules that span several fields (listener/pool protocol compatibility, L7 rule checks, ...) live
in ``statera.controller.rules``. The API parses a request with :func:`parse` and hands the
model to the controller unchanged.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from statera.controller.errors import Invalid, InvalidInput

TRUE_STRINGS = {"true", "1", "yes", "on", "y", "t"}
FALSE_STRINGS = {"false", "0", "no", "off", "n", "f"}


def parse_bool(value: Any) -> bool:
    """Octavia's (oslo's) boolean strings, for query parameters and string-typed options;
    ValueError for anything else."""
    text = str(value).strip().lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    raise ValueError(value)


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError("Value should be a valid UUID") from None


def _ip(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("Value should be a valid IP address") from None
    if getattr(address, "scope_id", None) is not None:
        # Python accepts any text after "%" as an IPv6 zone (newlines included) and keeps it
        # in str(); a zone means nothing on a VIP or member address, and it would be written
        # unquoted into a data-plane configuration.
        raise ValueError("Value should be a valid IP address without a zone (scope) id")
    # As given, as Octavia keeps it: clients compare what they sent with what they read
    # back ("2001:db8:0:0:0:0:0:1" stays that, not "2001:db8::1").
    return str(value)


def _no_crlf(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("Value must not contain CR or LF characters")
    return value


def _json_string(value: str) -> str:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError("Value should be a JSON object encoded as a string") from None
    if not isinstance(parsed, dict):
        raise ValueError("Value should be a JSON object encoded as a string")
    return value


# Bounds (Octavia's ``octavia/common/constants.py`` and ``api/v2/types``): ports 1..65535
# (MIN/MAX_PORT_NUMBER), weights 0..256 (MIN/MAX_WEIGHT), listener timeouts 0..2 073 600 000 ms
# (MIN/MAX_TIMEOUT = 24 days), health-monitor retries 1..10 (MIN/MAX_HM_RETRIES), policy
# position 1..2^31-1 (MAX_POLICY_POSITION), connection_limit >= -1 (MIN_CONNECTION_LIMIT).
# Where Octavia gives no upper bound (connection_limit, delay, timeout, hsts_max_age, ...) the
# column's does: every such column is a 32-bit INTEGER, and a larger value was a 500 (a driver
# or database overflow) instead of a 400.
INT32_MAX = 2**31 - 1
MAX_TIMEOUT = 2073600000
# Octavia sets no count limit on tags (only 255 characters each). 100 per object is far above
# any tagging scheme in use and bounds what one create writes and one GET renders; 1,000 tags
# on a create used to fail in the database (a 500).
MAX_TAGS = 100
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
NonNegInt32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
Uuid = Annotated[str, AfterValidator(_uuid)]
Ip = Annotated[str, AfterValidator(_ip)]
Name = Annotated[str, Field(max_length=255)]
Ref = Annotated[str, Field(max_length=255)]
ProjectId = Annotated[str, Field(max_length=36)]
Tags = Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=MAX_TAGS)]
Port = Annotated[int, Field(ge=1, le=65535)]
Weight = Annotated[int, Field(ge=0, le=256)]
Retries = Annotated[int, Field(ge=1, le=10)]
Timeout = Annotated[int, Field(ge=0, le=MAX_TIMEOUT)]
ConnectionLimit = Annotated[int, Field(ge=-1, le=INT32_MAX)]
SafeStr = Annotated[str, Field(max_length=255), AfterValidator(_no_crlf)]
JsonData = Annotated[str, Field(max_length=4096), AfterValidator(_json_string)]

ListenerProtocol = Literal["TCP", "HTTP", "HTTPS", "TERMINATED_HTTPS", "UDP", "SCTP",
                           "PROMETHEUS"]
PoolProtocol = Literal["TCP", "HTTP", "HTTPS", "PROXY", "PROXYV2", "UDP", "SCTP"]
Algorithm = Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"]
HMType = Literal["HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP"]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT",
                     "PATCH"]
L7Action = Literal["REJECT", "REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX"]
L7RuleType = Literal["HOST_NAME", "PATH", "FILE_TYPE", "HEADER", "COOKIE", "SSL_CONN_HAS_CERT",
                     "SSL_VERIFY_RESULT", "SSL_DN_FIELD"]
CompareType = Literal["REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO"]
ClientAuth = Literal["NONE", "OPTIONAL", "MANDATORY"]
TlsVersion = Literal["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
Alpn = Literal["h2", "http/1.1", "http/1.0"]
RedirectCode = Literal[301, 302, 303, 307, 308]
QuotaValue = Annotated[int, Field(ge=-1, le=2000000000)]


def _http_version(value: float) -> float:
    if value not in (1.0, 1.1):
        raise ValueError("Value should be one of: 1.0, 1.1")
    return value


HttpVersion = Annotated[float, AfterValidator(_http_version)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict[str, Any]:
        """Only the fields the client sent (for PUT semantics)."""
        return {k: getattr(self, k) for k in self.model_fields_set}


# Load balancers ---------------------------------------------------------------------------

class AdditionalVip(Body):
    subnet_id: Uuid
    ip_address: Ip | None = None
    port_id: Uuid | None = None


class SessionPersistence(Body):
    type: Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"] | None = None
    cookie_name: Annotated[str, Field(max_length=255)] | None = None
    persistence_timeout: Int32 | None = None
    persistence_granularity: Annotated[str, Field(max_length=64)] | None = None


class MemberPost(Body):
    address: Ip
    protocol_port: Port
    name: Name | None = None
    admin_state_up: bool = True
    weight: Weight | None = 1
    backup: bool | None = False
    subnet_id: Uuid | None = None
    monitor_address: Ip | None = None
    monitor_port: Port | None = None
    request_sriov: bool = False
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: Tags = Field(default_factory=list)


class MemberPut(Body):
    name: Name | None = None
    admin_state_up: bool | None = None
    weight: Weight | None = None
    backup: bool | None = None
    monitor_address: Ip | None = None
    monitor_port: Port | None = None
    tags: Tags | None = None


class HealthMonitorFields(Body):
    name: Name | None = None
    admin_state_up: bool | None = True
    delay: NonNegInt32 | None = None
    timeout: NonNegInt32 | None = None
    max_retries: Retries | None = None
    max_retries_down: Retries | None = None
    http_method: HttpMethod | None = None
    url_path: Annotated[str, Field(max_length=2048)] | None = None
    expected_codes: Annotated[str, Field(max_length=64)] | None = None
    http_version: HttpVersion | None = None
    domain_name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    tags: Tags | None = None


class HealthMonitorPost(HealthMonitorFields):
    pool_id: Uuid | None = None  # required at the top level, not inside a create graph
    type: HMType
    delay: NonNegInt32
    timeout: NonNegInt32
    max_retries: Retries
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None


class HealthMonitorPut(HealthMonitorFields):
    admin_state_up: bool | None = None


class PoolFields(Body):
    name: Name | None = None
    description: Name | None = None
    admin_state_up: bool | None = True
    lb_algorithm: Algorithm | None = None
    session_persistence: SessionPersistence | None = None
    tls_enabled: bool | None = None
    tls_container_ref: Ref | None = None
    ca_tls_container_ref: Ref | None = None
    crl_container_ref: Ref | None = None
    tls_ciphers: Annotated[str, Field(max_length=2048)] | None = None
    tls_versions: list[TlsVersion] | None = None
    alpn_protocols: list[Alpn] | None = None
    tags: Tags | None = None


class PoolPost(PoolFields):
    loadbalancer_id: Uuid | None = None
    listener_id: Uuid | None = None
    protocol: PoolProtocol
    lb_algorithm: Algorithm
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    # Only inside a load-balancer create graph:
    members: list[MemberPost] | None = None
    healthmonitor: HealthMonitorPost | None = None


class PoolPut(PoolFields):
    admin_state_up: bool | None = None


class L7RulePost(Body):
    type: L7RuleType
    compare_type: CompareType
    value: SafeStr
    key: SafeStr | None = None
    invert: bool | None = False
    admin_state_up: bool = True
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    tags: Tags = Field(default_factory=list)


class L7RulePut(Body):
    type: L7RuleType | None = None
    compare_type: CompareType | None = None
    value: SafeStr | None = None
    key: SafeStr | None = None
    invert: bool | None = None
    admin_state_up: bool | None = None
    tags: Tags | None = None


class PoolRef(Body):
    """A name-only pool in a create graph: a reference to a top-level pool of the request."""

    name: Name


class L7PolicyFields(Body):
    name: Name | None = None
    description: Name | None = None
    admin_state_up: bool | None = True
    action: L7Action | None = None
    redirect_pool_id: Uuid | None = None
    redirect_url: Annotated[str, Field(max_length=255)] | None = None
    redirect_prefix: Annotated[str, Field(max_length=255)] | None = None
    redirect_http_code: RedirectCode | None = None
    position: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None
    tags: Tags | None = None


class L7PolicyPost(L7PolicyFields):
    listener_id: Uuid | None = None
    action: L7Action
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    rules: list[L7RulePost] | None = None
    redirect_pool: PoolPost | PoolRef | None = None  # create graph only


class L7PolicyPut(L7PolicyFields):
    admin_state_up: bool | None = None


class ListenerFields(Body):
    name: Name | None = None
    description: Name | None = None
    admin_state_up: bool | None = True
    connection_limit: ConnectionLimit | None = None
    default_pool_id: Uuid | None = None
    default_tls_container_ref: Ref | None = None
    sni_container_refs: list[Ref] | None = None
    client_authentication: ClientAuth | None = None
    client_ca_tls_container_ref: Ref | None = None
    client_crl_container_ref: Ref | None = None
    insert_headers: dict[Annotated[str, Field(max_length=255)],
                         Annotated[str, Field(max_length=255)]] | None = None
    timeout_client_data: Timeout | None = None
    timeout_member_connect: Timeout | None = None
    timeout_member_data: Timeout | None = None
    timeout_tcp_inspect: Timeout | None = None
    allowed_cidrs: list[Annotated[str, Field(max_length=64)]] | None = None
    tls_ciphers: Annotated[str, Field(max_length=2048)] | None = None
    tls_versions: list[Annotated[str, Field(max_length=32)]] | None = None
    alpn_protocols: list[Alpn] | None = None
    hsts_max_age: NonNegInt32 | None = None
    hsts_include_subdomains: bool | None = None
    hsts_preload: bool | None = None
    tags: Tags | None = None


class ListenerPost(ListenerFields):
    loadbalancer_id: Uuid | None = None
    protocol: ListenerProtocol
    protocol_port: Port
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    default_pool: PoolPost | PoolRef | None = None  # create graph only
    l7policies: list[L7PolicyPost] | None = None  # create graph only


class ListenerPut(ListenerFields):
    admin_state_up: bool | None = None


class LoadBalancerPost(Body):
    name: Name | None = None
    description: Name | None = None
    admin_state_up: bool | None = True
    project_id: ProjectId | None = None
    tenant_id: ProjectId | None = None
    vip_address: Ip | None = None
    vip_port_id: Uuid | None = None
    vip_subnet_id: Uuid | None = None
    vip_network_id: Uuid | None = None
    vip_qos_policy_id: Uuid | None = None
    vip_sg_ids: list[Uuid] | None = None
    additional_vips: list[AdditionalVip] | None = None
    provider: Annotated[str, Field(max_length=64)] | None = None
    flavor_id: Uuid | None = None
    availability_zone: Annotated[str, Field(max_length=255)] | None = None
    tags: Tags = Field(default_factory=list)
    listeners: list[ListenerPost] | None = None
    pools: list[PoolPost] | None = None


class LoadBalancerPut(Body):
    name: Name | None = None
    description: Name | None = None
    admin_state_up: bool | None = None
    vip_qos_policy_id: Uuid | None = None
    vip_sg_ids: list[Uuid] | None = None
    tags: Tags | None = None


# Flavors, AZs, quotas -------------------------------------------------------------------

class FlavorPost(Body):
    id: Uuid | None = None
    name: Name
    description: Name | None = None
    enabled: bool = True
    flavor_profile_id: Uuid


class FlavorPut(Body):
    name: Name | None = None
    description: Name | None = None
    enabled: bool | None = None


class FlavorProfilePost(Body):
    id: Uuid | None = None
    name: Name
    provider_name: Name
    flavor_data: JsonData


class FlavorProfilePut(Body):
    name: Name | None = None
    provider_name: Name | None = None
    flavor_data: JsonData | None = None


class AZPost(Body):
    name: Name
    description: Name | None = None
    enabled: bool = True
    availability_zone_profile_id: Uuid


class AZPut(Body):
    description: Name | None = None
    enabled: bool | None = None


class AZProfilePost(Body):
    id: Uuid | None = None
    name: Name
    provider_name: Name
    availability_zone_data: JsonData


class AZProfilePut(Body):
    name: Name | None = None
    provider_name: Name | None = None
    availability_zone_data: JsonData | None = None


class QuotaPut(Body):
    loadbalancer: QuotaValue | None = None
    load_balancer: QuotaValue | None = None
    listener: QuotaValue | None = None
    member: QuotaValue | None = None
    pool: QuotaValue | None = None
    healthmonitor: QuotaValue | None = None
    health_monitor: QuotaValue | None = None
    l7policy: QuotaValue | None = None
    l7rule: QuotaValue | None = None


class MembersBatch(Body):
    members: list[MemberPost]


# Parsing ----------------------------------------------------------------------------------

B = TypeVar("B", bound=BaseModel)
_REASONS = {
    "missing": "Mandatory field missing.",
    "extra_forbidden": "Unknown attribute.",
}


def parse(model: type[B], payload: Any, key: str | None) -> B:
    """Validate ``payload[key]`` (or the payload itself) against ``model``; 400 otherwise."""
    if key is not None:
        if not isinstance(payload, dict) or set(payload) != {key}:
            raise Invalid(f"Invalid input: the request body must be a JSON object {{\"{key}\": "
                           "{...}} and nothing else.")
        payload = payload[key]
    if not isinstance(payload, dict):
        raise Invalid("Invalid input: expected a JSON object.")
    nul = _nul(payload, [])
    if nul is not None:
        raise InvalidInput(".".join(nul[0]) or (key or "body"), _short(nul[1]),
                           "Value must not contain the NUL control character.")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or (key or "body")
        reason = _REASONS.get(err["type"]) or _reason(err)
        value = err.get("input") if err["type"] != "missing" else None
        raise InvalidInput(field, _short(value), reason) from None


def _nul(value: Any, path: list[str]) -> tuple[list[str], str] | None:
    """The path and text of the first string (key or value) holding a NUL character: no
    field can mean one, and PostgreSQL cannot store one (it would be a 500 there)."""
    if isinstance(value, str):
        return (path, value) if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for name, item in items:
        here = [*path, str(name)]
        if isinstance(name, str) and "\x00" in name:
            return here, name
        found = _nul(item, here)
        if found is not None:
            return found
    return None


def _reason(err: Any) -> str:
    msg = str(err.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"Value should be one of: {expected}"
    return msg[0].upper() + msg[1:] + ("" if msg.endswith(".") else ".")


def _short(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."

