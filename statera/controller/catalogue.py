"""The catalogue: flavors, availability zones and their profiles, four families of one shape.

These objects belong to no project and carry no tags; Octavia's policy lets readers list and
show them and only admins write. A family is a :class:`Family` (a declaration, no code): its
rows, its policy type and envelope key, how Octavia names it in messages (the texts differ per
family, so they are data here), which field is unique, which column names a profile, how a
profile's provider validates its metadata, what blocks a delete, and what PUT may send. One set
of operations (:func:`create`, :func:`update`, :func:`delete`) reads the declaration, so a rule
is written once for all four and a family cannot drift from the others.

The four declarations, and why each says what it says:

- Flavors point at a flavor profile (a nonexistent one is a 400, not Octavia's 500). Names are
  unique (409). PUT changes name, description and enabled. A flavor used by a load balancer
  that is not DELETED cannot be deleted (409); DELETED load-balancer rows, which Statera keeps
  as Octavia does, have their reference cleared instead of blocking the delete.
- Availability zones are keyed by **name** (there is no id) and point at an availability-zone
  profile. PUT changes description and enabled. An AZ named by a load balancer that is not
  DELETED cannot be deleted (409); load balancers name it by a plain string, nothing to clear.
- Profiles (flavor and availability-zone) name a provider and hold that provider's metadata as
  a JSON *string*. The provider must be enabled (400) and its driver's ``validate_flavor`` /
  ``validate_availability_zone`` runs on create and whenever the provider or the data changes
  (driver errors mapped by ``call_provider``: 501 for an unsupported option). A profile used by
  a flavor (an AZ) cannot be deleted or change provider or data (409).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as update_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from statera.config import Settings
from statera.controller import schemas
from statera.controller.access import Requester
from statera.controller.errors import Conflict, Invalid, InvalidInput, NotFound
from statera.controller.providers import call_provider, load_driver
from statera.controller.services import Services
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db.statuses import ProvisioningStatus

#: Octavia reserves the nil UUID: no object may be created with it, and it is never found.
NIL_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class ProfileRef:
    """The column through which a family's rows name their profile, and the profile's rows:
    the profile must exist when a row is created."""

    column: str
    model: type[Any]


@dataclass(frozen=True)
class Metadata:
    """A profile's provider metadata: the column holding it (a JSON string) and the provider
    driver's method that validates it."""

    column: str
    validate: str


@dataclass(frozen=True)
class InUse:
    """What uses an object: rows whose ``column`` names its key (and that match ``where``)
    refuse its delete, and a profile's change of provider or data. ``clear`` nulls the
    reference in the rows ``where`` leaves out (DELETED load balancers, kept as Octavia keeps
    them) so that they do not block the delete through their foreign key."""

    column: InstrumentedAttribute[Any]
    where: tuple[Any, ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class Family:
    """One catalogue family, as a declaration the operations read.

    ``label`` is its name in "not found" and "in use" messages ("Flavor"), ``a_label`` in
    "already exists" ones ("A flavor"). ``key`` is the primary-key field the URL names ("id" or
    "name"); ``unique`` the field a conflict names (when it is not the key, it is checked
    explicitly before insert). ``reserve_nil`` refuses the nil UUID as a new id.
    ``required_on_put`` may not be nulled; a null for a field in ``null_false`` means false,
    as for ``admin_state_up``."""

    model: type[Any]
    policy: str
    single: str
    label: str
    a_label: str
    post: type[schemas.Body]
    put: type[schemas.Body]
    key: str = "id"
    unique: str = "id"
    reserve_nil: bool = True
    profile: ProfileRef | None = None
    metadata: Metadata | None = None
    in_use: InUse | None = None
    required_on_put: tuple[str, ...] = ()
    null_false: tuple[str, ...] = ()


#: Load balancers that count as users (DELETED rows are kept, as Octavia keeps them).
_LIVE_LB = (m.LoadBalancer.provisioning_status != ProvisioningStatus.DELETED,)

FLAVOR_PROFILES = Family(
    model=m.FlavorProfile, policy="flavor-profile", single="flavorprofile",
    label="Flavor profile", a_label="A flavor profile",
    post=schemas.FlavorProfilePost, put=schemas.FlavorProfilePut,
    metadata=Metadata("flavor_data", "validate_flavor"),
    in_use=InUse(m.Flavor.flavor_profile_id),
    required_on_put=("name", "provider_name", "flavor_data"),
)
FLAVORS = Family(
    model=m.Flavor, policy="flavor", single="flavor", label="Flavor", a_label="A flavor",
    post=schemas.FlavorPost, put=schemas.FlavorPut, unique="name",
    profile=ProfileRef("flavor_profile_id", m.FlavorProfile),
    in_use=InUse(m.LoadBalancer.flavor_id, _LIVE_LB, clear=True),
    required_on_put=("name",), null_false=("enabled",),
)
AZ_PROFILES = Family(
    model=m.AvailabilityZoneProfile, policy="availability-zone-profile",
    single="availability_zone_profile", label="Availability zone profile",
    a_label="An availability zone profile",
    post=schemas.AZProfilePost, put=schemas.AZProfilePut,
    metadata=Metadata("availability_zone_data", "validate_availability_zone"),
    in_use=InUse(m.AvailabilityZone.availability_zone_profile_id),
    required_on_put=("name", "provider_name", "availability_zone_data"),
)
AZS = Family(
    model=m.AvailabilityZone, policy="availability-zone", single="availability_zone",
    label="Availability zone", a_label="An availability zone",
    post=schemas.AZPost, put=schemas.AZPut, key="name", unique="name", reserve_nil=False,
    profile=ProfileRef("availability_zone_profile_id", m.AvailabilityZoneProfile),
    in_use=InUse(m.LoadBalancer.availability_zone, _LIVE_LB),
    null_false=("enabled",),
)


def fetch(session: Session, family: Family, key: str) -> Any:
    """The row keyed ``key``: NotFound for a missing one and for Octavia's nil UUID."""
    row = None if key == NIL_UUID else session.get(family.model, key)
    if row is None:
        raise NotFound(family.label, key)
    return row


def create(svc: Services, who: Requester, family: Family, payload: Any,
           render: Render[T]) -> T:
    """Add a row from the request's ``payload`` (policy first, then the body, as Octavia)."""
    who.authorize(family.policy, "post")
    body = schemas.parse(family.post, payload, family.single)
    values = {field: getattr(body, field) for field in type(body).model_fields}
    if family.reserve_nil and values.get("id") == NIL_UUID:
        raise InvalidInput("id", NIL_UUID, "The nil UUID is reserved.")
    if family.metadata is not None:
        _validate(svc.settings, family.metadata, values["provider_name"],
                  values[family.metadata.column])
    with svc.db.session() as session:
        if family.profile is not None:
            _require_profile(session, family.profile, values[family.profile.column])
        if family.unique != family.key:
            _refuse_taken(session, family, family.unique, values[family.unique])
        if values.get(family.key) is not None:
            _refuse_taken(session, family, family.key, values[family.key])
        if family.key == "id":
            values["id"] = values["id"] or m.new_id()
        row = family.model(**values)
        session.add(row)
        _flush_unique(session, family, row)
        return render(session, row)


def update(svc: Services, who: Requester, family: Family, key: str, payload: Any,
           render: Render[T]) -> T:
    """Change the fields the request sends; a profile's new provider or data is validated
    again, and refused while the profile is in use."""
    who.authorize(family.policy, "put")
    given = schemas.parse(family.put, payload, family.single).given()
    for field in family.required_on_put:
        if field in given and given[field] is None:
            raise InvalidInput(field, None, "Mandatory field missing.")
    with svc.db.session() as session:
        row = fetch(session, family, key)
        unique = family.unique
        if unique != family.key and unique in given and given[unique] != getattr(row, unique):
            _refuse_taken(session, family, unique, given[unique])
        meta = family.metadata
        if meta is not None and any(f in given and given[f] != getattr(row, f)
                                    for f in ("provider_name", meta.column)):
            _refuse_in_use(session, family, row)
            _validate(svc.settings, meta, given.get("provider_name", row.provider_name),
                      given.get(meta.column, getattr(row, meta.column)))
        for field, value in given.items():
            setattr(row, field, bool(value) if field in family.null_false else value)
        _flush_unique(session, family, row)
        return render(session, row)


def delete(svc: Services, who: Requester, family: Family, key: str) -> None:
    """Remove the row, unless something uses it."""
    who.authorize(family.policy, "delete")
    with svc.db.session() as session:
        row = fetch(session, family, key)
        _refuse_in_use(session, family, row)
        use = family.in_use
        if use is not None and use.clear:
            own = getattr(row, family.key)
            session.execute(update_rows(use.column.class_).where(use.column == own)
                            .values({use.column: None}))
        session.delete(row)


def _require_profile(session: Session, ref: ProfileRef, profile_id: str) -> None:
    """A row may only name a profile that exists (400, where Octavia answers 500)."""
    if session.get(ref.model, profile_id) is None:
        raise Invalid(f"{profile_id} is not a valid option for {ref.column}")


def _refuse_taken(session: Session, family: Family, field: str, value: Any) -> None:
    """Conflict if a row already has ``value`` in its unique ``field``."""
    column = getattr(family.model, field)
    if session.scalar(select(column).where(column == value)) is not None:
        raise Conflict(f"{family.a_label} of {value} already exists.")


def _flush_unique(session: Session, family: Family, row: Any) -> None:
    """Flush; a unique-key race lost to a concurrent request becomes a Conflict."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{family.a_label} of {getattr(row, family.unique)} "
                       "already exists.") from None


def _refuse_in_use(session: Session, family: Family, row: Any) -> None:
    """Conflict if anything (see :class:`InUse`) names the row."""
    use = family.in_use
    if use is None:
        return
    own = getattr(row, family.key)
    if session.scalar(select(func.count()).where(use.column == own, *use.where)):
        raise Conflict(f"{family.label} {own} is in use and cannot be modified.")


def _validate(settings: Settings, meta: Metadata, provider: str, data: str) -> None:
    """Run the provider driver's validation of the metadata (the provider must be enabled)."""
    driver = load_driver(settings, provider)
    try:
        metadata = json.loads(data)
    except ValueError:
        raise Invalid(f"{data} is not a valid option for {meta.validate}") from None
    call_provider(driver.name, getattr(driver, meta.validate), metadata)
