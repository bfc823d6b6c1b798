"""A small client for HAProxy's runtime API (the ``stats socket`` of each process).

Socket paths under a deep state directory can exceed the 108-byte limit of ``sun_path``; the
client then connects through ``/proc/self/fd/<dirfd>/<name>``, which is short whatever the
directory (HAProxy itself binds the socket relative to its working directory for the same
reason).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path

MAX_SUN_PATH = 100


class RuntimeAPIError(Exception):
    """The runtime API could not be reached or refused a command."""


@contextlib.contextmanager
def _connected(path: Path, timeout: float) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    dir_fd = -1
    try:
        target = str(path)
        if len(target) > MAX_SUN_PATH:
            dir_fd = os.open(path.parent, os.O_PATH)
            target = f"/proc/self/fd/{dir_fd}/{path.name}"
        sock.connect(target)
        yield sock
    except OSError as exc:
        raise RuntimeAPIError(f"runtime API {path}: {exc}") from exc
    finally:
        sock.close()
        if dir_fd >= 0:
            os.close(dir_fd)


class RuntimeClient:
    """One command per connection (HAProxy's non-interactive mode)."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout

    def command(self, line: str) -> str:
        if "\n" in line or ";" in line:
            raise ValueError("one runtime command per call, without separators")
        with _connected(self.path, self.timeout) as sock:
            sock.sendall(line.encode("ascii") + b"\n")
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError as exc:
                    raise RuntimeAPIError(f"runtime API {self.path}: {exc}") from exc
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", "replace")

    def checked(self, line: str, *ok: str) -> str:
        """Run ``line``; raise unless the reply is empty or contains one of ``ok``."""
        reply = self.command(line)
        text = reply.strip()
        if text and not any(marker in text for marker in ok):
            raise RuntimeAPIError(f"{line!r}: {text}")
        return reply

    def show_stat(self) -> list[dict[str, str]]:
        """``show stat`` as one dict per row (keys are HAProxy's CSV header names)."""
        text = self.command("show stat")
        if not text.startswith("# "):
            raise RuntimeAPIError(f"unexpected 'show stat' reply: {text[:200]!r}")
        return list(csv.DictReader(io.StringIO(text[2:])))

    def servers_state(self) -> str:
        """``show servers state`` in the format ``server-state-file`` loads."""
        text = self.command("show servers state")
        if not text.startswith("1\n"):
            raise RuntimeAPIError(f"unexpected 'show servers state' reply: {text[:200]!r}")
        return text
