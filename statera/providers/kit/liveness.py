"""Telling a hung data-plane process from a live one: what every local provider's health poll
shares.

A process can be alive in /proc and still serve nothing: stopped (SIGSTOP, a debugger), stuck
in a loop, wedged on a lock. The kernel then still completes TCP handshakes into the listen
backlog, so "the port accepts" proves nothing; only an answer from the process itself does
(HAProxy's runtime API, NGINX's status socket). Each health poll asks with a short timeout
(``POLL_TIMEOUT``, so one hung process cannot stall the reports of every other load balancer)
and :class:`Silence` counts the polls in a row without an answer: ``HUNG_POLLS`` of them and
the provider kills the instance and starts it afresh. One slow answer (a loaded host, a reload
in progress) is not enough.
"""

from __future__ import annotations

import os
import socket
import threading

#: Seconds a health poll waits for a process to answer.
POLL_TIMEOUT = 1.0
#: Silent polls in a row after which a live process counts as hung.
HUNG_POLLS = 3


class Silence:
    """Health polls in a row without an answer, per load balancer (thread-safe: converge and
    the health poll may both report)."""

    def __init__(self, limit: int = HUNG_POLLS) -> None:
        self.limit = limit
        self._misses: dict[str, int] = {}
        self._lock = threading.Lock()

    def answered(self, lb_id: str) -> None:
        with self._lock:
            self._misses.pop(lb_id, None)

    def silent(self, lb_id: str) -> int:
        """Record one unanswered poll; the number in a row when that reaches the limit (the
        caller replaces the instance; counting starts again), else 0."""
        with self._lock:
            misses = self._misses.get(lb_id, 0) + 1
            if misses >= self.limit:
                self._misses.pop(lb_id, None)
                return misses
            self._misses[lb_id] = misses
            return 0

    def forget(self, lb_id: str) -> None:
        self.answered(lb_id)


def stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP) or traced: alive, but it runs no code."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] in (b"T", b"t")
    except (OSError, IndexError):
        return False


def http_answers(path: os.PathLike[str] | str, timeout: float = POLL_TIMEOUT) -> bool:
    """Whether an HTTP server on the Unix socket ``path`` answers ``GET /`` with a status line
    within ``timeout``. A path too long for ``sun_path`` (108 bytes) is reached through a
    descriptor of its directory (``/proc/self/fd/N/name``)."""
    path = os.fspath(path)
    dir_fd = None
    target = path
    if len(path.encode()) >= 108:
        dir_fd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY)
        target = f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(target)
            sock.sendall(b"GET / HTTP/1.0\r\nHost: statera\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
