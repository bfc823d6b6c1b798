"""The ``/metrics`` endpoint of one process, on a port of its own.

prometheus_client's own WSGI server in a daemon thread: the API's event loop never serves a
scrape, and a slow database query of a scrape never delays an API request. The endpoint serves
this process's instruments (and prometheus_client's process and Python collectors) plus, when a
database is given, the database-derived gauges.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, disable_created_metrics, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from statera.db.engine import Database
from statera.metrics.database import DatabaseCollector


class _Forward(Collector):
    """Everything registered on another registry (the process-wide default one), so that the
    exporter's registry can add per-process collectors without touching the global one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


class Exporter:
    """A running ``/metrics`` endpoint; :meth:`stop` closes its socket and thread."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def registry_for(database: Database | None) -> CollectorRegistry:
    """The registry one exporter serves: the process's instruments, and the database's gauges
    when ``database`` is given."""
    registry = CollectorRegistry()
    registry.register(_Forward(REGISTRY))
    if database is not None:
        registry.register(DatabaseCollector(database))
    return registry


def start_exporter(host: str, port: int, database: Database | None = None) -> Exporter:
    """Listen on ``host:port`` and serve ``/metrics``; raises OSError when it cannot bind."""
    # ``*_created`` samples would double the series for a timestamp Prometheus ignores by
    # default (counters' resets are detected without it).
    disable_created_metrics()
    server, thread = start_http_server(port, addr=host, registry=registry_for(database))
    return Exporter(server, thread)
