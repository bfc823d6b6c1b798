"""Prometheus metrics for operators: what each process counts, and where it is served.

``instruments`` holds every counter, gauge and histogram that the API and the agents update
(one catalogue, so names, labels and help texts stay consistent); it imports nothing of
Statera's, so any layer may update an instrument. ``database`` is the collector of gauges read
from the database at scrape time (load balancers by status, and the place for hosts and leases),
and ``exporter`` serves ``/metrics`` on the process's own port. Only the composition root
(``statera.cli``) starts an exporter; nothing here knows HTTP routes or providers.
"""
