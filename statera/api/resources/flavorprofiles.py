"""Flavor profiles (admin only): ``/flavorprofiles[/{profile_id}]``. The rules are the
controller's (:data:`statera.controller.catalogue.FLAVOR_PROFILES`)."""

from statera.api.resources import catalogue

router = catalogue.router(catalogue.FLAVOR_PROFILES, __name__)
