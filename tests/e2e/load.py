"""A small load generator for "no request may fail" tests and benches.

Per target (a VIP and port), one thread sends requests each on a fresh connection (every one a
new frontend session) and one keeps a connection alive; every error, timeout or non-200 answer
is a failure. ``longest_gap`` is, per target, the longest time between two successful answers:
what a client would have seen as an outage; ``slowest`` is the longest single request, so a gap
made of one slow answer (a busy host) can be told from a time with no answers at all.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Target:
    address: str
    port: int
    ok: int = 0
    failed: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    last_ok: float = 0.0
    longest_gap: float = 0.0
    slowest: float = 0.0


class Load:
    """Sends requests to every target from two threads each until :meth:`stop`."""

    def __init__(self, targets: list[tuple[str, int]], pause: float = 0.01) -> None:
        self.targets = [Target(a, p) for a, p in targets]
        self.pause = pause
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(t, keep), daemon=True,
                                          name=f"load-{t.address}:{t.port}-{keep}")
                         for t in self.targets for keep in (False, True)]

    def start(self) -> Load:
        now = time.monotonic()
        for target in self.targets:
            target.last_ok = now
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        now = time.monotonic()
        for target in self.targets:  # a target that stopped answering counts until now
            target.longest_gap = max(target.longest_gap, now - target.last_ok)

    @property
    def ok(self) -> int:
        return sum(t.ok for t in self.targets)

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.targets)

    @property
    def longest_gap(self) -> float:
        return max((t.longest_gap for t in self.targets), default=0.0)

    @property
    def slowest(self) -> float:
        return max((t.slowest for t in self.targets), default=0.0)

    def errors(self) -> list[str]:
        return [e for t in self.targets for e in t.errors][:10]

    def reset_answers(self) -> None:
        with self._lock:
            for target in self.targets:
                target.answers.clear()

    def _run(self, target: Target, keep_alive: bool) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection(target.address, target.port, timeout=5)
            started = time.monotonic()
            try:
                conn.request("GET", "/", headers={} if keep_alive else {"Connection": "close"})
                resp = conn.getresponse()
                body = resp.read().decode("latin-1")
                good = resp.status == 200
                error = "" if good else f"HTTP {resp.status}"
            except (OSError, http.client.HTTPException) as exc:
                good, body, error = False, "", f"{type(exc).__name__}: {exc}"
            if not keep_alive or not good:
                conn.close()
                conn = None
            self._record(target, good, body, error, time.monotonic() - started)
            time.sleep(self.pause)
        if conn is not None:
            conn.close()

    def _record(self, target: Target, good: bool, body: str, error: str,
                took: float) -> None:
        now = time.monotonic()
        with self._lock:
            target.slowest = max(target.slowest, took)
            if good:
                target.ok += 1
                target.answers[body] = target.answers.get(body, 0) + 1
                target.longest_gap = max(target.longest_gap, now - target.last_ok)
                target.last_ok = now
            else:
                target.failed += 1
                if len(target.errors) < 10:
                    target.errors.append(f"{target.address}:{target.port} {error}")
