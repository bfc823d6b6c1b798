"""Flavors: ``/flavors[/{flavor_id}]``. Readers may list and show; only admins write. The
rules are the controller's (:data:`statera.controller.catalogue.FLAVORS`)."""

from statera.api.resources import catalogue

router = catalogue.router(catalogue.FLAVORS, __name__)
