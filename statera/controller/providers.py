"""Provider selection, driver loading, Octavia's mapping of driver errors, and what the
providers API shows: the enabled providers and each one's flavor and availability-zone
capabilities."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from octavia_lib.api.drivers import exceptions as lib_exc
from stevedore import driver as stevedore_driver

from statera.config import Settings
from statera.controller.access import Requester
from statera.controller.errors import (
    Conflict,
    ControllerError,
    Invalid,
    ProviderFailed,
    Unsupported,
)

LOG = logging.getLogger(__name__)
DRIVER_GROUP = "octavia.api.drivers"
#: Capability kind -> (the driver's metadata call, Octavia's policy object type).
CAPABILITIES = {
    "flavor": ("get_supported_flavor_metadata", "provider-flavor"),
    "availability_zone": ("get_supported_availability_zone_metadata",
                          "provider-availability-zone"),
}


@lru_cache(maxsize=32)
def _driver_class(name: str) -> Any:
    mgr: Any = stevedore_driver.DriverManager(
        namespace=DRIVER_GROUP, name=name, invoke_on_load=False
    )
    return mgr.driver


def load_driver(settings: Settings, name: str) -> Any:
    """An instance of provider ``name``: 400 if not enabled, 501 if it cannot be loaded."""
    if name not in settings.api.enabled_provider_drivers:
        raise Invalid(f"Provider '{name}' is not enabled.")
    try:
        driver = _driver_class(name)()
    except Exception:
        LOG.exception("provider %s failed to load", name)
        raise Unsupported(f"Provider '{name}' was not found.") from None
    driver.name = name
    return driver


def call_provider(provider: str, method: Callable[..., Any], *args: Any) -> Any:
    """Call a driver method; map its exceptions as Octavia's ``call_provider`` does."""
    try:
        return method(*args)
    except lib_exc.Conflict as exc:
        raise Conflict(f"The VIP IP address is already in use: {exc.user_fault_string}") from None
    except lib_exc.DriverError as exc:
        raise ProviderFailed(
            f"Provider '{provider}' reports error: {exc.user_fault_string}") from None
    except lib_exc.UnsupportedOptionError as exc:
        raise Unsupported(
            f"Provider '{provider}' does not support a requested option: "
            f"{exc.user_fault_string}") from None
    except (lib_exc.NotImplementedError, NotImplementedError) as exc:
        msg = getattr(exc, "user_fault_string", None) or str(exc) or "not implemented"
        raise Unsupported(
            f"Provider '{provider}' does not support a requested action: {msg}") from None
    except ControllerError:
        raise
    except Exception as exc:
        LOG.exception("provider %s failed", provider)
        raise ProviderFailed(f"Provider '{provider}' reports error: {exc}") from None


def enabled(settings: Settings, who: Requester) -> list[dict[str, str]]:
    """The enabled providers, straight from ``[api] enabled_provider_drivers``."""
    who.authorize("provider", "get_all")
    return [{"name": name, "description": description}
            for name, description in settings.api.enabled_provider_drivers.items()]


def capabilities(settings: Settings, who: Requester, provider: str,
                 kind: str) -> list[dict[str, str]]:
    """The ``kind`` capabilities (see :data:`CAPABILITIES`) the driver declares, as
    ``[{"name", "description"}]``: Invalid if the provider is not enabled, Unsupported if it
    cannot be loaded or does not implement the call; only admins may read them (Octavia)."""
    method, policy_type = CAPABILITIES[kind]
    who.authorize(policy_type, "get_all")
    driver = load_driver(settings, provider)
    metadata = call_provider(driver.name, getattr(driver, method)) or {}
    return [{"name": str(key), "description": str(value)} for key, value in metadata.items()]
