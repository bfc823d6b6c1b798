"""Settings: built once at start-up from a TOML file and the environment, then passed in.

Every option lives in a section model below; its ``description`` is the documentation that
``statera config sample`` prints. Environment variables override the file:
``STATERA_<SECTION>__<OPTION>`` (for example ``STATERA_API__PORT=9877``).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the Octavia v2 API listens on.")
    port: int = Field(9876, description="TCP port of the API.")
    auth_strategy: Literal["noauth", "keystone", "testing"] = Field(
        "noauth",
        description="noauth: every caller is admin; project from body, X-Project-Id or "
        "default. keystone: Keystone tokens validated by keystonemiddleware's auth_token "
        "([keystone_authtoken]), decided by Octavia's policy ([oslo_policy]). testing: "
        "identity from X-Project-Id and X-Roles headers (tests only: anyone can claim "
        "any role).",
    )
    default_project_id: str = Field(
        "statera", description="Project used under noauth when a request names none."
    )
    api_base_uri: str = Field(
        "", description="Base URL used in pagination links; empty means the request's URL."
    )
    pagination_max_limit: int = Field(1000, description="Largest page size; -1 is unlimited.")
    enabled_provider_drivers: dict[str, str] = Field(
        default_factory=lambda: {
            "haproxy": "HAProxy load balancers run by Statera",
            "nginx": "NGINX load balancers run by Statera (TCP and UDP and HTTP)",
            "noop": "Accepts everything and touches no data plane",
        },
        description="Provider name -> description; drivers come from 'octavia.api.drivers'.",
    )
    default_provider_driver: str = Field(
        "haproxy", description="Provider used when a load balancer names none."
    )

    @field_validator("enabled_provider_drivers")
    @classmethod
    def _no_commas(cls, drivers: dict[str, str]) -> dict[str, str]:
        """Octavia's option, and tempest reading it, hold ``name:description`` pairs
        separated by commas: a description with a comma cannot be written there."""
        for name, description in drivers.items():
            if "," in description or "," in name:
                raise ValueError(f"provider {name!r}: a name or description may not hold a "
                                 "comma (Octavia's enabled_provider_drivers separates "
                                 "name:description pairs with commas)")
        return drivers

    enforce_quotas: bool = Field(
        True, description="Enforce quotas (Octavia skips them under noauth; Statera does not)."
    )
    run_agents: bool | Literal["auto"] = Field(
        "auto",
        description="Whether `statera serve` also runs the driver agent and provider agents "
        "(an agent host of its own). 'auto': only with the in-process bus (one process does "
        "everything, the laptop case); with RabbitMQ an API host runs no provider agents "
        "unless this is true: agent hosts run `statera agent`.",
    )
    max_body_size: int = Field(
        1048576,
        description="Largest request body in bytes; a larger one is refused with 413 before it "
        "is read (Octavia's largest legal body, a full load-balancer graph, is far smaller).",
    )


class BusSettings(BaseModel):
    driver: str = Field(
        "inprocess",
        description="'inprocess' (one process) or 'rabbitmq' (API and agents on many hosts).",
    )
    url: str = Field("amqp://guest:guest@127.0.0.1:5672/%2F", description="RabbitMQ URL.")


class DatabaseSettings(BaseModel):
    connection: str = Field(
        "", description="SQLAlchemy URL; empty means sqlite:///<data_dir>/statera.db."
    )
    api_statement_timeout: float = Field(
        30.0,
        description="Seconds one SQL statement of an API request may run on PostgreSQL "
        "(statement_timeout, lock waits included) or MariaDB (max_statement_time) before "
        "the database cancels it and the request fails with 503; 0 disables. Queries of "
        "the driver agent are not bounded by it.",
    )


class DriverAgentSettings(BaseModel):
    status_socket_path: str = Field("", description="Default <data_dir>/run/status.sock.")
    stats_socket_path: str = Field("", description="Default <data_dir>/run/stats.sock.")
    get_socket_path: str = Field("", description="Default <data_dir>/run/get.sock.")
    enabled_provider_agents: list[str] = Field(
        default_factory=lambda: ["haproxy", "nginx", "noop"],
        description="Agents from 'octavia.driver_agent.provider_agents' to start.",
    )
    provider_agent_shutdown_timeout: float = Field(
        10.0, description="Seconds an agent gets to stop before it is abandoned."
    )
    agent_restart_delay: float = Field(1.0, description="Seconds before a crashed agent restarts.")
    agent_processes: bool = Field(
        False,
        description="Run each provider agent in its own OS process (spawned; hints forwarded "
        "from this process's bus) instead of a thread of this one. Off by default: the "
        "driver agent's socket handlers stay in this process, and on a 2-CPU host the "
        "extra processes made API create+get slower, not faster.",
    )
    resync_interval: float = Field(
        30.0, description="Seconds between full resyncs of every load balancer by each agent."
    )


class AgentSettings(BaseModel):
    """This agent host, as the host records and placement know it."""

    host: str = Field("", description="Name of this agent host in the host records and in "
                      "the amphorae's compute_id; empty means the machine's host name. Unique "
                      "per agent process sharing a database.")
    availability_zone: str = Field(
        "", description="Availability zone this host serves; a load balancer created in a "
        "zone is placed only on hosts of that zone. Empty: none (any zone-less load balancer).")
    capacity: int = Field(
        0, description="Most load-balancer instances placed on this host; 0 is unlimited.")
    heartbeat_interval: float = Field(
        1.0, description="Seconds between renewals of this host's lease (and placement passes).")
    down_after: float = Field(
        10.0, description="Seconds without a renewed lease after which a host is down and "
        "its load balancers are placed on other hosts.")


class MetricsSettings(BaseModel):
    """Prometheus ``/metrics`` of each process, on a port of its own (never the API's)."""

    host: str = Field(
        "127.0.0.1", description="Address every process's Prometheus /metrics endpoint "
        "listens on.")
    port: int = Field(
        9107, description="Port of the /metrics endpoint of `statera serve` (the API, and "
        "the agents it runs); 0 disables it. When left at its default and taken, the "
        "process runs without metrics and says so; when set, a taken port stops it.")
    agent_port: int = Field(
        9108, description="Port of the /metrics endpoint of `statera agent`, so an API and an "
        "agent on one host do not clash; 0 disables it. Several agents on one host: give "
        "each its own with `statera agent --metrics-port`.")


#: A Linux interface name: at most 15 characters (IFNAMSIZ - 1), no '/', blank or ':'.
_INTERFACE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")


class SubnetSettings(BaseModel):
    id: str = Field(description="Subnet UUID.")
    name: str = ""
    cidr: str = Field(description="Subnet CIDR; VIPs are allocated from it.")
    allocation_start: str = Field("", description="First allocatable address (default .2).")
    interface: str = Field(
        "",
        description="Host interface or bridge that carries this subnet on every agent host "
        "(e.g. 'br-vip'). The host serving a load balancer adds its VIP there and announces "
        "it (gratuitous ARP, unsolicited neighbour advertisement) so other machines reach it; "
        "in ACTIVE_STANDBY keepalived moves it. Empty: VIPs stay on loopback (this host only).",
    )

    @field_validator("interface")
    @classmethod
    def _interface_name(cls, value: str) -> str:
        if value and not _INTERFACE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an interface name (1-15 of A-Z a-z 0-9 _ . -)")
        return value


class NetworkSettings(BaseModel):
    id: str
    name: str = ""
    subnets: list[SubnetSettings] = Field(default_factory=list)


def _default_networks() -> list[NetworkSettings]:
    return [
        NetworkSettings(
            id="7b1c6e3a-1d5e-4f5e-9a57-3c1f00000001",
            name="loopback",
            subnets=[
                SubnetSettings(
                    id="7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002",
                    name="loopback-v4",
                    cidr="127.0.100.0/24",
                )
            ],
        )
    ]


class NetworkingSettings(BaseModel):
    driver: str = Field("local", description="'local' (configured subnets) or 'noop'.")
    networks: list[NetworkSettings] = Field(
        default_factory=_default_networks,
        description="Networks and subnets where VIPs can live (local driver).",
    )
    reserved_ips: list[str] = Field(
        default_factory=lambda: ["169.254.169.254"],
        description="Member addresses that are refused.",
    )


class KeepalivedVrrpSettings(BaseModel):
    """ACTIVE_STANDBY load balancers: keepalived's VRRP (Octavia's ``[keepalived_vrrp]``
    options and garp defaults as Octavia's, checks every second so that a dead data plane moves
    the VIP within about two seconds). Advertisements every 0.5 s rather than Octavia's 1 s: a
    lost MASTER host is noticed only by silence (3 adverts plus skew), and with 1 s that is
    3.2-3.6 s, past the 3 s a user is promised; 0.5 s measured 2.0 s (BENCHMARKS.md). VRRP's
    plain-text password, which VRRPv3 lacks, never protected anything the unicast peer list
    does not."""

    binary: str = Field("keepalived", description="The keepalived program (Debian's 2.2).")
    vrrp_advert_int: float = Field(
        0.5, gt=0, le=255,
        description="Seconds between VRRP advertisements. A silent MASTER (host or link lost) "
        "is replaced after 3 of them plus up to one more; a fraction (e.g. 0.5) switches to "
        "VRRPv3, which has no password authentication.",
    )
    vrrp_check_interval: int = Field(
        1, ge=1, description="Seconds between checks that the data plane process is alive.")
    vrrp_fail_count: int = Field(
        2, ge=1, description="Failed checks in a row that give the VIP up (FAULT).")
    vrrp_success_count: int = Field(
        2, ge=1, description="Passed checks in a row before the instance may serve again.")
    vrrp_garp_refresh_interval: int = Field(
        5, ge=0, description="Seconds between gratuitous ARPs a MASTER repeats (0: never).")
    vrrp_garp_refresh_count: int = Field(
        2, ge=1, description="Gratuitous ARPs sent at each refresh.")


class QuotaSettings(BaseModel):
    default_load_balancer_quota: int = -1
    default_listener_quota: int = -1
    default_member_quota: int = -1
    default_pool_quota: int = -1
    default_health_monitor_quota: int = -1
    default_l7policy_quota: int = -1
    default_l7rule_quota: int = -1


class ListenerDefaultsSettings(BaseModel):
    """What a listener gets when a request leaves a timeout out (Octavia's
    ``[haproxy_amphora] timeout_*`` options): the API stores them on the listener, so every
    provider renders the same values."""

    timeout_client_data: int = Field(
        50000, description="Milliseconds of client inactivity before the connection closes.")
    timeout_member_connect: int = Field(
        5000, description="Milliseconds to wait for a member to accept a connection.")
    timeout_member_data: int = Field(
        50000, description="Milliseconds of member inactivity before the connection closes.")
    timeout_tcp_inspect: int = Field(
        0, description="Milliseconds to wait for TCP content inspection (0: none).")


class CertificatesSettings(BaseModel):
    """Where listener and pool certificate references point (Octavia's ``[certificates]``)."""

    cert_manager: Literal["local", "barbican", "noop"] = Field(
        "local",
        description="local: Statera's own store (POST /v2/statera/certificates); barbican: "
        "Barbican container and secret URLs, checked with the caller's Keystone token and "
        "read with [service_auth]; noop: any reference, served as a generated self-signed "
        "certificate (API-only deployments and Octavia's noop test mode).",
    )
    region_name: str = Field("", description="Region of Barbican in Keystone's catalog.")
    endpoint_type: str = Field(
        "public", description="Interface of Barbican's catalog endpoint (public, internal).")
    endpoint: str = Field(
        "", description="Barbican's URL (e.g. https://kms:9311); empty: from the catalog.")
    cache_seconds: float = Field(
        60.0, description="How long the driver agent reuses certificate material it read "
        "from Barbican before reading it again; 0 reads every time.")


class ServiceAuthSettings(BaseModel):
    """Statera's own Keystone identity (Octavia's ``[service_auth]``), with which the driver
    agent reads certificates from Barbican. Options are keystoneauth1's for ``auth_type``;
    any other keystoneauth1 option of that plugin may be added and is passed on."""

    model_config = ConfigDict(extra="allow")

    auth_url: str = Field("", description="Keystone's identity URL, e.g. http://ks:5000/v3.")
    auth_type: str = Field("password", description="keystoneauth1 plugin name.")
    username: str = Field("", description="Statera's service user.")
    password: SecretStr = Field(SecretStr(""), description="Its password (never logged).")
    project_name: str = Field("service", description="The service user's project.")
    user_domain_name: str = Field("Default", description="The service user's domain.")
    project_domain_name: str = Field("Default", description="The project's domain.")
    cafile: str = Field("", description="CA bundle to verify Keystone and Barbican with.")
    insecure: bool = Field(False, description="Skip TLS verification (tests only).")
    timeout: float = Field(30.0, description="Seconds per HTTP request to Keystone/Barbican.")


class OsloPolicySettings(BaseModel):
    policy_file: str = Field(
        "",
        description="YAML file overriding any of Octavia's policy rules "
        "(`statera policy sample` writes the defaults); re-read when it changes. Empty: the "
        "defaults only.",
    )


#: The options of keystonemiddleware's auth_token (and of its auth plugin), passed to it
#: unchanged: a section of any keys.
KEYSTONE_AUTHTOKEN_EXAMPLE = {
    "www_authenticate_uri": "http://keystone.example:5000/v3",
    "auth_url": "http://keystone.example:5000/v3", "auth_type": "password",
    "username": "statera", "password": "<secret>", "project_name": "service",
    "user_domain_name": "Default", "project_domain_name": "Default",
    "service_token_roles_required": True, "memcached_servers": "127.0.0.1:11211",
}


class Settings(BaseSettings):
    """All of Statera's options. ``data_dir`` anchors every default path."""

    model_config = SettingsConfigDict(env_prefix="STATERA_", env_nested_delimiter="__")

    data_dir: str = Field("./data", description="Where the database, sockets and configs live.")
    log_level: str = Field("INFO", description="Python logging level.")
    api: ApiSettings = Field(default_factory=ApiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    driver_agent: DriverAgentSettings = Field(default_factory=DriverAgentSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    networking: NetworkingSettings = Field(default_factory=NetworkingSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    keepalived_vrrp: KeepalivedVrrpSettings = Field(default_factory=KeepalivedVrrpSettings)
    listener_defaults: ListenerDefaultsSettings = Field(
        default_factory=ListenerDefaultsSettings)
    certificates: CertificatesSettings = Field(default_factory=CertificatesSettings)
    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    keystone_authtoken: dict[str, Any] = Field(
        default_factory=dict,
        description="keystonemiddleware auth_token options for auth_strategy = keystone, "
        "handed to it unchanged (any option it or its auth plugin knows; "
        "STATERA_KEYSTONE_AUTHTOKEN__<OPTION>).",
    )
    oslo_policy: OsloPolicySettings = Field(default_factory=OsloPolicySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed as init kwargs) so operators can override.
        return (env_settings, init_settings)

    # Derived paths -------------------------------------------------------------------------
    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.database.connection or f"sqlite:///{self.data_path / 'statera.db'}"

    @property
    def agent_host(self) -> str:
        """This agent host's name (``[agent] host``, else the machine's host name)."""
        import socket

        return self.agent.host or socket.gethostname()

    @property
    def serve_runs_agents(self) -> bool:
        """Whether ``statera serve`` runs the agents too (see ``[api] run_agents``)."""
        if self.api.run_agents == "auto":
            return self.bus.driver == "inprocess"
        return bool(self.api.run_agents)

    def socket_path(self, kind: str) -> str:
        """Path of the driver agent's ``status``/``stats``/``get`` socket."""
        configured: str = getattr(self.driver_agent, f"{kind}_socket_path")
        return configured or str(self.data_path / "run" / f"{kind}.sock")


#: Entry-point group where a provider registers the model of its own settings section: the
#: entry point's name is the section (``[<name>]``, ``STATERA_<NAME>__<OPTION>``), its object a
#: pydantic model whose fields all have defaults. A model may define ``enables_provider()``:
#: when it returns True the provider of the same name is added to the enabled drivers and
#: agents (unless the operator set those lists), so configuring a device is all it takes.
PROVIDER_SETTINGS_GROUP = "statera.provider_settings"
SectionT = TypeVar("SectionT", bound=BaseModel)


@cache
def provider_sections() -> dict[str, type[BaseModel]]:
    """Settings sections registered by providers (name -> model), in name order."""
    found = {ep.name: ep.load() for ep in entry_points(group=PROVIDER_SETTINGS_GROUP)}
    return {name: found[name] for name in sorted(found) if name not in Settings.model_fields}


@cache
def settings_class() -> type[Settings]:
    """``Settings`` extended with every provider's section (so files and env fill them)."""
    fields: dict[str, Any] = {
        name: (model, Field(default_factory=model, description=model.__doc__))
        for name, model in provider_sections().items()
    }
    if not fields:
        return Settings
    cls: type[Settings] = create_model(
        "LoadedSettings", __base__=Settings, __module__=__name__, **fields)
    return cls


def __getattr__(name: str) -> Any:
    # Spawned agent processes unpickle settings by class name: resolve it lazily.
    if name == "LoadedSettings":
        return settings_class()
    raise AttributeError(name)


def provider_section(settings: Settings, name: str, model: type[SectionT]) -> SectionT:
    """A provider's own section of ``settings`` (its defaults when the section is unknown)."""
    section = getattr(settings, name, None)
    return section if isinstance(section, model) else model()


def load_settings(config_file: str | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional TOML file, then the environment, then ``overrides``."""
    values: dict[str, Any] = {}
    if config_file:
        with open(config_file, "rb") as fh:
            values = tomllib.load(fh)
    settings = settings_class()(**values)
    for key, value in overrides.items():
        if value is not None:
            settings = _override(settings, key, value)
    return _enable_configured_providers(settings)


def _enable_configured_providers(settings: Settings) -> Settings:
    """Add each provider whose section says it is configured to the default provider lists."""
    api, agents = settings.api, settings.driver_agent
    for name in provider_sections():
        section = getattr(settings, name)
        enables = getattr(section, "enables_provider", None)
        if enables is None or not enables():
            continue
        if "enabled_provider_drivers" not in api.model_fields_set \
                and name not in api.enabled_provider_drivers:
            description = (type(section).__doc__ or name).strip().splitlines()[0]
            description = description.replace(",", ";")  # see ApiSettings._no_commas
            api = api.model_copy(update={"enabled_provider_drivers": {
                **api.enabled_provider_drivers, name: description}})
        if "enabled_provider_agents" not in agents.model_fields_set \
                and name not in agents.enabled_provider_agents:
            agents = agents.model_copy(update={"enabled_provider_agents": [
                *agents.enabled_provider_agents, name]})
    return settings.model_copy(update={"api": api, "driver_agent": agents})


def _override(settings: Settings, dotted: str, value: Any) -> Settings:
    section, _, option = dotted.partition(".")
    if not option:
        return settings.model_copy(update={section: value})
    sub = getattr(settings, section).model_copy(update={option: value})
    return settings.model_copy(update={section: sub})


def sample_config() -> str:
    """Render a commented TOML sample of every option with its default."""
    lines: list[str] = ["# Statera configuration (TOML). Every option may also be set from the",
                        "# environment as STATERA_<SECTION>__<OPTION>.", ""]
    cls = settings_class()
    defaults = cls()
    for name, field in cls.model_fields.items():
        value = getattr(defaults, name)
        if isinstance(value, BaseModel) or name == "keystone_authtoken":
            continue
        lines.append(f"# {field.description or ''}")
        lines.append(f"{name} = {_toml(value)}")
    for name in cls.model_fields:
        value = getattr(defaults, name)
        if not isinstance(value, BaseModel):
            continue
        lines.append("")
        lines.append(f"[{name}]")
        for opt, ofield in type(value).model_fields.items():
            if ofield.description:
                lines.append(f"# {ofield.description}")
            optval = getattr(value, opt)
            if isinstance(optval, list) and optval and isinstance(optval[0], BaseModel):
                lines.append(f"# {opt} = {_toml([v.model_dump() for v in optval])}")
            else:
                lines.append(f"# {opt} = {_toml(optval)}")
    lines += ["", "[keystone_authtoken]",
              f"# {cls.model_fields['keystone_authtoken'].description}"]
    lines += [f"# {key} = {_toml(value)}" for key, value in KEYSTONE_AUTHTOKEN_EXAMPLE.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return '""'  # a sample never shows a configured secret
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)
