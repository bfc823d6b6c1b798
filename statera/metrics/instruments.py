"""Every instrument Statera updates, on prometheus_client's default registry.

Labels are bounded by construction: API routes are route templates (never raw paths), methods
are the HTTP methods the API knows (anything else is ``other``), statuses are classes
(``2xx``), providers are the enabled provider names, outcomes are short fixed words.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: Route label of a request that no route matched (404s, requests refused at the edge).
UNMATCHED = "unmatched"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

API_REQUESTS = Counter(
    "statera_api_requests", "API requests answered, by route template, method and status "
    "class.", ["route", "method", "status"])
API_LATENCY = Histogram(
    "statera_api_request_duration_seconds", "Time from a request's arrival to the end of its "
    "answer, by route template and method.", ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

RECONCILE = Histogram(
    "statera_reconcile_duration_seconds", "Time one provider agent took to converge one load "
    "balancer (read its graph, apply it, report), by provider and outcome (ok, error).",
    ["provider", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))
QUEUE_DEPTH = Gauge(
    "statera_workqueue_depth", "Load balancers waiting in a provider agent's work queue for a "
    "worker (those being converged are not counted).", ["provider"])
QUEUE_ADDS = Counter(
    "statera_workqueue_adds", "Load balancers queued for convergence by a provider agent "
    "(hints and resyncs; a load balancer already waiting is queued once).", ["provider"])

STATUS_REPORTS = Counter(
    "statera_status_reports", "Status reports received by the driver agent's status socket, "
    "by outcome: applied, rejected (a bad record; those before it applied), failed (the "
    "database refused it).", ["outcome"])
STATUS_RECORDS = Counter(
    "statera_status_records", "Status records applied by the driver agent, by object kind "
    "(records naming unknown objects are ignored and counted).", ["kind"])


def status_class(status: int) -> str:
    """``404`` -> ``4xx``: one label value per class keeps the series few."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def method_label(method: str) -> str:
    """The method, or ``other`` for anything a client invented (it must not add series)."""
    return method if method in KNOWN_METHODS else "other"
