"""ORM models: the desired state written by the API and the observed state written by the
driver agent. Column names follow Octavia's database where that helps (``enabled`` is shown as
``admin_state_up``); JSON columns hold small lists and maps that are never queried by value.

Generations: every write through the API bumps ``LoadBalancer.desired_generation`` and stamps
the touched objects' ``generation`` with it. The driver agent records which generation it last
served to a provider agent (``served_generation``, written by the status socket with each report
from the get socket's record in memory), so a provider's ACTIVE report only finalises changes
that the provider had actually seen. Provisioning status is therefore never a lock.

Provisioning status is derived, never stored (``provisioning_status``, a hybrid property: the
rule of :func:`statera.db.statuses.derive` in Python and the same rule as SQL, so lists filter
and sort on it). Each column it is derived from has one writer:

* ``pending_status`` and ``generation`` (and the load balancer's ``desired_generation``): the
  API, through ``statera.controller.changes`` (the change requested, and when);
* ``reported_status`` and ``reported_generation``, ``served_generation`` and
  ``applied_generation``: the driver agent (the status socket records what the get socket served,
  from the driver agent's memory, and what the provider reported and applied).

A load balancer's ACTIVE report therefore writes the load balancer's row only: its children's
pending changes of an applied generation read as ACTIVE from then on.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    aliased,
    mapped_column,
    relationship,
)

from statera.db.statuses import (
    COMPLETED_BY_ACTIVE,
    PENDING,
    OperatingStatus,
    ProvisioningStatus,
    derive,
)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Tag(Base):
    """Tags of any object, keyed by the object's id (ids are globally unique UUIDs)."""

    __tablename__ = "tag"
    # The primary key serves "the tags of this object"; the index serves the tag filters
    # ("the objects with these tags").
    __table_args__ = (Index("ix_tag_tag_resource_id", "tag", "resource_id"),)
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)


class _Common:
    """Columns every load-balancing object has."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str | None] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The API's: the change last requested (PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE).
    pending_status: Mapped[str] = mapped_column(
        String(16), default=ProvisioningStatus.PENDING_CREATE.value)
    #: The status socket's: the provider's last word, for the object's ``reported_generation``.
    reported_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reported_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    operating_status: Mapped[str] = mapped_column(
        String(16), default=OperatingStatus.OFFLINE.value)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    # Provisioning status, derived ---------------------------------------------------------
    def _generations(self) -> tuple[int, int, int | None]:
        """(this object's generation, its load balancer's applied and served generations)."""
        lb = self._owner()
        if lb is None:  # not attached yet: nothing of it was ever served
            return self.generation or 0, 0, None
        return self.generation or 0, lb.applied_generation or 0, lb.served_generation

    def _owner(self) -> LoadBalancer | None:
        raise NotImplementedError

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        """``column`` of the row's load balancer, as a correlated scalar subquery."""
        raise NotImplementedError

    @classmethod
    def _generation_sql(cls) -> Any:
        return cls.generation

    @hybrid_property
    def provisioning_status(self) -> str:
        """Octavia's provisioning status (see :func:`statera.db.statuses.derive`)."""
        generation, applied, served = self._generations()
        return derive(pending=self.pending_status or ProvisioningStatus.PENDING_CREATE.value,
                      generation=generation, reported=self.reported_status,
                      reported_generation=self.reported_generation or 0,
                      applied=applied, served=served)

    @provisioning_status.inplace.setter
    def _provisioning_status_setter(self, value: str) -> None:
        """The API requests a change (``statera.controller.changes``); what the provider
        reports goes to ``reported_status``, through the status socket only."""
        if value not in PENDING:
            raise ValueError(f"only a PENDING_* status is requested, not {value!r}; a "
                             "provider's report is the status socket's to record")
        self.pending_status = str(value)

    @provisioning_status.inplace.expression
    @classmethod
    def _provisioning_status_expression(cls) -> ColumnElement[str]:
        """The same rule as :func:`statera.db.statuses.derive`, as SQL."""
        applied = cls._owner_column(LoadBalancer.applied_generation)
        served = cls._owner_column(LoadBalancer.served_generation)
        generation = cls._generation_sql()
        covered = and_(cls.reported_status.is_not(None),
                       cls.reported_generation >= generation)
        effective = case((covered, cls.reported_status), else_=cls.pending_status)
        pending = [s.value for s in PENDING]
        completed = [s.value for s in COMPLETED_BY_ACTIVE]
        return type_coerce(case(
            (and_(covered, cls.reported_status.not_in(pending)), cls.reported_status),
            (and_(served.is_not(None), generation <= applied, effective.in_(completed)),
             literal(ProvisioningStatus.ACTIVE.value)),
            else_=effective,
        ), String(16))


class LoadBalancer(_Common, Base):
    __tablename__ = "load_balancer"
    vip_address: Mapped[str | None] = mapped_column(String(64))
    vip_port_id: Mapped[str | None] = mapped_column(String(36))
    vip_subnet_id: Mapped[str | None] = mapped_column(String(36))
    vip_network_id: Mapped[str | None] = mapped_column(String(36))
    vip_qos_policy_id: Mapped[str | None] = mapped_column(String(36))
    vip_sg_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    vip_vnic_type: Mapped[str] = mapped_column(String(16), default="normal")
    vip_octavia_owned: Mapped[bool] = mapped_column(Boolean, default=True)
    additional_vips: Mapped[list[Any]] = mapped_column(JSON, default=list)
    provider: Mapped[str | None] = mapped_column(String(64), index=True)
    flavor_id: Mapped[str | None] = mapped_column(ForeignKey("flavor.id"), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    desired_generation: Mapped[int] = mapped_column(Integer, default=1)
    served_generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    applied_generation: Mapped[int] = mapped_column(Integer, default=0)

    listeners: Mapped[list[Listener]] = relationship(
        back_populates="load_balancer", cascade="all, delete-orphan", order_by="Listener.created_at"
    )
    pools: Mapped[list[Pool]] = relationship(
        back_populates="load_balancer", cascade="all, delete-orphan", order_by="Pool.created_at"
    )

    def _generations(self) -> tuple[int, int, int | None]:
        """A load balancer's generation is its desired generation."""
        return self.desired_generation or 0, self.applied_generation or 0, self.served_generation

    def _owner(self) -> LoadBalancer | None:
        return self

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        return column

    @classmethod
    def _generation_sql(cls) -> Any:
        return cls.desired_generation


class Listener(_Common, Base):
    __tablename__ = "listener"
    load_balancer_id: Mapped[str] = mapped_column(ForeignKey("load_balancer.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    protocol_port: Mapped[int] = mapped_column(Integer)
    connection_limit: Mapped[int] = mapped_column(Integer, default=-1)
    default_pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pool.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )
    default_tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    sni_container_refs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    client_authentication: Mapped[str] = mapped_column(String(16), default="NONE")
    client_ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    client_crl_container_ref: Mapped[str | None] = mapped_column(String(255))
    insert_headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timeout_client_data: Mapped[int | None] = mapped_column(Integer)
    timeout_member_connect: Mapped[int | None] = mapped_column(Integer)
    timeout_member_data: Mapped[int | None] = mapped_column(Integer)
    timeout_tcp_inspect: Mapped[int | None] = mapped_column(Integer)
    allowed_cidrs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048))
    tls_versions: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    alpn_protocols: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    hsts_max_age: Mapped[int | None] = mapped_column(Integer)
    hsts_include_subdomains: Mapped[bool] = mapped_column(Boolean, default=False)
    hsts_preload: Mapped[bool] = mapped_column(Boolean, default=False)

    load_balancer: Mapped[LoadBalancer] = relationship(back_populates="listeners")

    def _owner(self) -> LoadBalancer | None:
        return self.load_balancer

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        return _owner_subquery(column, cls.load_balancer_id)
    default_pool: Mapped[Pool | None] = relationship(foreign_keys=[default_pool_id])
    l7policies: Mapped[list[L7Policy]] = relationship(
        back_populates="listener",
        cascade="all, delete-orphan",
        order_by="L7Policy.position",
        foreign_keys="L7Policy.listener_id",
    )


class Pool(_Common, Base):
    __tablename__ = "pool"
    load_balancer_id: Mapped[str] = mapped_column(ForeignKey("load_balancer.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    lb_algorithm: Mapped[str] = mapped_column(String(32))
    session_persistence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tls_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255))
    crl_container_ref: Mapped[str | None] = mapped_column(String(255))
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048))
    tls_versions: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    alpn_protocols: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)

    load_balancer: Mapped[LoadBalancer] = relationship(back_populates="pools")

    def _owner(self) -> LoadBalancer | None:
        return self.load_balancer

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        return _owner_subquery(column, cls.load_balancer_id)
    members: Mapped[list[Member]] = relationship(
        back_populates="pool", cascade="all, delete-orphan", order_by="Member.created_at"
    )
    health_monitor: Mapped[HealthMonitor | None] = relationship(
        back_populates="pool", cascade="all, delete-orphan", uselist=False
    )


class Member(_Common, Base):
    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("pool_id", "address", "protocol_port"),)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pool.id"), index=True)
    address: Mapped[str] = mapped_column(String(64))
    protocol_port: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    backup: Mapped[bool] = mapped_column(Boolean, default=False)
    subnet_id: Mapped[str | None] = mapped_column(String(36))
    monitor_address: Mapped[str | None] = mapped_column(String(64))
    monitor_port: Mapped[int | None] = mapped_column(Integer)
    vnic_type: Mapped[str] = mapped_column(String(16), default="normal")

    pool: Mapped[Pool] = relationship(back_populates="members")

    def _owner(self) -> LoadBalancer | None:
        return self.pool.load_balancer if self.pool is not None else None

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        return _owner_through_pool(column, cls.pool_id)


class HealthMonitor(_Common, Base):
    __tablename__ = "health_monitor"
    pool_id: Mapped[str] = mapped_column(ForeignKey("pool.id"), unique=True)
    type: Mapped[str] = mapped_column(String(36))
    delay: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer)
    rise_threshold: Mapped[int] = mapped_column(Integer)
    fall_threshold: Mapped[int] = mapped_column(Integer, default=3)
    http_method: Mapped[str | None] = mapped_column(String(16))
    url_path: Mapped[str | None] = mapped_column(String(2048))
    expected_codes: Mapped[str | None] = mapped_column(String(64))
    http_version: Mapped[float | None] = mapped_column(Float)
    domain_name: Mapped[str | None] = mapped_column(String(255))

    pool: Mapped[Pool] = relationship(back_populates="health_monitor")

    def _owner(self) -> LoadBalancer | None:
        return self.pool.load_balancer if self.pool is not None else None

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        return _owner_through_pool(column, cls.pool_id)


class L7Policy(_Common, Base):
    __tablename__ = "l7policy"
    listener_id: Mapped[str] = mapped_column(ForeignKey("listener.id"), index=True)
    action: Mapped[str] = mapped_column(String(36))
    redirect_pool_id: Mapped[str | None] = mapped_column(ForeignKey("pool.id"), nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(String(255))
    redirect_prefix: Mapped[str | None] = mapped_column(String(255))
    redirect_http_code: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=1)

    listener: Mapped[Listener] = relationship(
        back_populates="l7policies", foreign_keys=[listener_id]
    )
    redirect_pool: Mapped[Pool | None] = relationship(foreign_keys=[redirect_pool_id])
    rules: Mapped[list[L7Rule]] = relationship(
        back_populates="l7policy", cascade="all, delete-orphan", order_by="L7Rule.created_at"
    )

    def _owner(self) -> LoadBalancer | None:
        return self.listener.load_balancer if self.listener is not None else None

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        listener = aliased(Listener)
        return (select(column).join(listener, listener.load_balancer_id == LoadBalancer.id)
                .where(listener.id == cls.listener_id)
                .correlate_except(LoadBalancer, listener).scalar_subquery())


class L7Rule(_Common, Base):
    __tablename__ = "l7rule"
    l7policy_id: Mapped[str] = mapped_column(ForeignKey("l7policy.id"), index=True)
    type: Mapped[str] = mapped_column(String(36))
    compare_type: Mapped[str] = mapped_column(String(36))
    value: Mapped[str] = mapped_column(String(255))
    key: Mapped[str | None] = mapped_column(String(255))
    invert: Mapped[bool] = mapped_column(Boolean, default=False)

    l7policy: Mapped[L7Policy] = relationship(back_populates="rules")

    def _owner(self) -> LoadBalancer | None:
        policy = self.l7policy
        if policy is None or policy.listener is None:
            return None
        return policy.listener.load_balancer

    @classmethod
    def _owner_column(cls, column: Any) -> Any:
        listener, policy = aliased(Listener), aliased(L7Policy)
        return (select(column).join(listener, listener.load_balancer_id == LoadBalancer.id)
                .join(policy, policy.listener_id == listener.id)
                .where(policy.id == cls.l7policy_id)
                .correlate_except(LoadBalancer, listener, policy).scalar_subquery())


#: Each child model's parent on the way to its load balancer: (foreign key, parent model).
_PARENT: dict[type[Any], tuple[str, type[Any]]] = {}


def load_owners(session: Session, rows: Sequence[Any]) -> list[Any]:
    """Load the parents up to the load balancer of ``rows``, one query per level, so that
    reading their provisioning status (rendering a listed page) costs no query per row.

    The session holds rows weakly: keep the returned parents referenced while reading."""
    loaded: list[Any] = []
    current = list(rows)
    while current:
        by_parent: dict[type[Any], set[str]] = {}
        for row in current:
            step = _PARENT.get(type(row))
            if step is not None and getattr(row, step[0]) is not None:
                by_parent.setdefault(step[1], set()).add(getattr(row, step[0]))
        current = []
        for parent, ids in by_parent.items():
            current.extend(session.scalars(select(parent).where(parent.id.in_(sorted(ids)))))
        loaded.extend(current)
    return loaded


def _owner_subquery(column: Any, lb_id: Any) -> Any:
    """``column`` of the load balancer ``lb_id`` names (a listener's or a pool's)."""
    return (select(column).where(LoadBalancer.id == lb_id)
            .correlate_except(LoadBalancer).scalar_subquery())


def _owner_through_pool(column: Any, pool_id: Any) -> Any:
    """``column`` of the load balancer that owns the pool ``pool_id`` names."""
    pool = aliased(Pool)
    return (select(column).join(pool, pool.load_balancer_id == LoadBalancer.id)
            .where(pool.id == pool_id).correlate_except(LoadBalancer, pool).scalar_subquery())


_PARENT.update({
    Listener: ("load_balancer_id", LoadBalancer),
    Pool: ("load_balancer_id", LoadBalancer),
    Member: ("pool_id", Pool),
    HealthMonitor: ("pool_id", Pool),
    L7Policy: ("listener_id", Listener),
    L7Rule: ("l7policy_id", L7Policy),
})


class FlavorProfile(Base):
    __tablename__ = "flavor_profile"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(255))
    flavor_data: Mapped[str] = mapped_column(String(4096))


class Flavor(Base):
    __tablename__ = "flavor"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    flavor_profile_id: Mapped[str] = mapped_column(ForeignKey("flavor_profile.id"))


class AvailabilityZoneProfile(Base):
    __tablename__ = "availability_zone_profile"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(255))
    availability_zone_data: Mapped[str] = mapped_column(String(4096))


class AvailabilityZone(Base):
    __tablename__ = "availability_zone"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone_profile_id: Mapped[str] = mapped_column(
        ForeignKey("availability_zone_profile.id")
    )


class Quota(Base):
    """Per-project limits; null means 'use the configured default'. Usage is counted live."""

    __tablename__ = "quota"
    project_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    load_balancer: Mapped[int | None] = mapped_column(Integer)
    listener: Mapped[int | None] = mapped_column(Integer)
    pool: Mapped[int | None] = mapped_column(Integer)
    health_monitor: Mapped[int | None] = mapped_column(Integer)
    member: Mapped[int | None] = mapped_column(Integer)
    l7policy: Mapped[int | None] = mapped_column(Integer)
    l7rule: Mapped[int | None] = mapped_column(Integer)


class ListenerStatistics(Base):
    """Absolute counters per (listener, reporter); the driver agent replaces them."""

    __tablename__ = "listener_statistics"
    listener_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    amphora_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    active_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    total_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    request_errors: Mapped[int] = mapped_column(BigInteger, default=0)


class Amphora(Base):
    """A data-plane instance (for Statera's own providers: one process per load balancer).

    For providers that run local data planes these rows are the placement: one per instance,
    ``compute_id`` naming the agent host that runs it (``statera.controller.placement``)."""

    __tablename__ = "amphora"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    load_balancer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    compute_id: Mapped[str | None] = mapped_column(String(255), index=True)
    compute_flavor: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(255))
    cached_zone: Mapped[str | None] = mapped_column(String(255))
    lb_network_ip: Mapped[str | None] = mapped_column(String(64))
    vrrp_ip: Mapped[str | None] = mapped_column(String(64))
    ha_ip: Mapped[str | None] = mapped_column(String(64))
    vrrp_port_id: Mapped[str | None] = mapped_column(String(36))
    ha_port_id: Mapped[str | None] = mapped_column(String(36))
    vrrp_interface: Mapped[str | None] = mapped_column(String(16))
    vrrp_id: Mapped[int | None] = mapped_column(Integer)
    vrrp_priority: Mapped[int | None] = mapped_column(Integer)
    cert_expiration: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cert_busy: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(36), default="ALLOCATED")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class AgentHost(Base):
    """An agent host (``statera agent``, or ``statera serve`` running agents) and its lease.

    The host renews ``renewed_at`` (seconds since the epoch, its own clock: hosts' clocks are
    assumed synchronised, as Octavia's health manager assumes) every heartbeat; it is down once
    ``renewed_at + down_after`` has passed. ``providers`` are the providers whose load
    balancers it runs as local data planes (the ones that are placed). ``incarnation`` counts
    its registrations (restarts)."""

    __tablename__ = "agent_host"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    providers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    renewed_at: Mapped[float] = mapped_column(Double, default=0.0)
    down_after: Mapped[float] = mapped_column(Double, default=10.0)
    incarnation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class VipPort(Base):
    """A VIP address allocated by the local network driver (shown as a Neutron port)."""

    __tablename__ = "vip_port"
    __table_args__ = (UniqueConstraint("subnet_id", "ip_address"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    network_id: Mapped[str] = mapped_column(String(36))
    subnet_id: Mapped[str] = mapped_column(String(36))
    ip_address: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(36))
    project_id: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255))


class Certificate(Base):
    """A TLS bundle in the local certificate store. ``private_key`` is never returned."""

    __tablename__ = "certificate"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str | None] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    certificate: Mapped[str] = mapped_column(Text)
    private_key: Mapped[str | None] = mapped_column(Text)
    intermediates: Mapped[str | None] = mapped_column(Text)
    passphrase: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
