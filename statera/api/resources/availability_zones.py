"""Availability zones: ``/availabilityzones[/{name}]``, keyed by name. Readers may list and
show; only admins write. The rules are the controller's
(:data:`statera.controller.catalogue.AZS`)."""

from statera.api.resources import catalogue

router = catalogue.router(catalogue.AZS, __name__)
