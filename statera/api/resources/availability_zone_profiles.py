"""Availability-zone profiles (admin only): ``/availabilityzoneprofiles[/{profile_id}]``. The
rules are the controller's (:data:`statera.controller.catalogue.AZ_PROFILES`)."""

from statera.api.resources import catalogue

router = catalogue.router(catalogue.AZ_PROFILES, __name__)
