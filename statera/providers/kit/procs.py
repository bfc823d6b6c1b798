"""Local processes and their state directories: atomic files, pid checks, signals.

Every load balancer of a process-running provider lives in ``<state_dir>/<lb_id>/``; these
helpers are what HAProxy and NGINX instances have in common there: writing files atomically
(a crash never leaves half a configuration), finding the processes that belong to one load
balancer (by a configuration path on their command line, or by their working directory, which
NGINX workers inherit even though they rewrite their command line), signalling and stopping
them, the per-instance counters (reloads, starts, restarts, ...) and the certificate files a
configuration names (pruned once nothing running needs them).

Data-plane processes are not the agent's children in any lasting sense: :func:`launch` starts
them in a session of their own (and both HAProxy and NGINX daemonize, so init adopts them), so
neither a terminal's Ctrl-C nor the end of the agent, even by ``kill -9``, reaches them. What
runs is found again from the state directory: the pid file, checked against ``/proc`` (the
process is that program, working in that directory, naming it on its command line).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

#: Suffixes of the certificate files a configuration may name.
CERT_SUFFIXES = frozenset({".pem", ".crtlist"})


def resolve_binary(name: str) -> str:
    """``name`` on PATH, else in the sbin directories a non-login PATH may lack."""
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    return found or name


def atomic_write(path: Path, text: str, mode: int = 0o600, durable: bool = True) -> None:
    """Replace ``path`` with ``text`` in one step (readers see the old or the new file, never
    half of one); ``durable`` also waits for the disk, which counters can do without (a
    counter lost in a power cut costs nothing, an fsync per adoption ~5 ms)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        if durable:
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def launch(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Run a data-plane start command in its own session: the daemon it leaves behind shares
    no process group or terminal with Statera, so a signal meant for Statera (Ctrl-C, a
    service manager stopping its process group) never reaches a load balancer."""
    return subprocess.run(args, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=timeout, check=False, start_new_session=True)


def program(pid: int) -> str | None:
    """The file name of the program ``pid`` runs (an upgraded binary still counts: the
    kernel then appends `` (deleted)``), or None when it cannot be read."""
    try:
        target = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    return os.path.basename(target.removesuffix(" (deleted)"))


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def processes_using(config: Path) -> list[int]:
    """Every live process whose command line names ``config`` (current and draining ones)."""
    needle = str(config).encode()
    found = []
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
        except OSError:
            continue
        if needle in args and not zombie(pid):
            found.append(pid)
    return found


def processes_in(directory: Path, exe_name: str) -> list[int]:
    """Every live ``exe_name`` process whose working directory is ``directory`` (NGINX
    workers overwrite their command line but keep the master's working directory)."""
    target = str(directory)
    found = []
    for pid in _pids():
        try:
            if os.readlink(f"/proc/{pid}/cwd") != target:
                continue
        except OSError:
            continue
        if program(pid) != exe_name:
            continue
        if not zombie(pid):
            found.append(pid)
    return found


def cmdline_names(pid: int, path: Path) -> bool:
    """Whether live process ``pid`` names ``path`` on its command line (not a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        return False
    return str(path).encode() in args and not zombie(pid)


def zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def children(pid: int) -> list[int]:
    """Live direct children of ``pid``: from ``/proc/<pid>/task/<pid>/children`` where the
    kernel offers it (one read), else by scanning /proc."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split() if not zombie(int(c))]
    except OSError:
        pass
    found = []
    for child in _pids():
        try:
            with open(f"/proc/{child}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] not in (b"Z", b"X"):
            found.append(child)
    return found


def send_signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not zombie(pid)


def terminate(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM ``pids``, wait up to ``timeout`` seconds, SIGKILL what is left."""
    for pid in pids:
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if exists(p)]
        if pids:
            time.sleep(0.02)
    for pid in pids:
        send_signal(pid, signal.SIGKILL)


def kill_and_wait(pids: list[int], still: Any, timeout: float = 5.0) -> None:
    """SIGKILL ``pids`` and wait until ``still()`` (the processes left) is empty."""
    for pid in pids:
        send_signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while still() and time.monotonic() < deadline:
        time.sleep(0.01)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def last_lines(output: bytes, limit: int = 5, skip: str = "[NOTICE]",
               fallback: str = "the process failed without a message") -> str:
    lines = [ln for ln in output.decode("utf-8", "replace").splitlines()
             if ln.strip() and skip not in ln]
    return " | ".join(lines[-limit:]) or fallback


class StateDir:
    """The state directory of one load balancer: counters, the applied view, cert files."""

    COUNTERS = ("reloads", "starts", "restarts", "runtime_updates", "rejected", "failovers",
                "adoptions")

    def __init__(self, lb_dir: Path) -> None:
        self.dir = lb_dir
        self.lb_id = lb_dir.name
        self.view_file = lb_dir / "view.json"
        self.counters_file = lb_dir / "counters.json"

    def counters(self) -> dict[str, int]:
        try:
            data = json.loads(self.counters_file.read_text())
        except (OSError, ValueError):
            data = {}
        return {name: int(data.get(name, 0)) for name in self.COUNTERS}

    def bump(self, name: str) -> None:
        counters = self.counters()
        counters[name] += 1
        atomic_write(self.counters_file, json.dumps(counters), durable=False)

    def load_view(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.view_file.read_text())
            return data
        except (OSError, ValueError):
            return None

    def save_view(self, data: dict[str, Any]) -> None:
        atomic_write(self.view_file, json.dumps(data, sort_keys=True))

    def write_files(self, files: dict[str, str]) -> None:
        for name, content in files.items():
            atomic_write(self.dir / name, content)

    def files_unchanged(self, files: dict[str, str]) -> bool:
        for name, content in files.items():
            try:
                if (self.dir / name).read_text() != content:
                    return False
            except OSError:
                return False
        return True

    def prune_files(self, keep: dict[str, str]) -> None:
        """Remove certificate files (``*.pem``, ``*.crtlist``) the running configuration no
        longer names, so a private key does not outlive its listener or pool on disk. Only
        after a successful start: until then the previous configuration may need them."""
        for path in self.dir.iterdir():
            if path.suffix in CERT_SUFFIXES and path.name not in keep:
                path.unlink(missing_ok=True)


class Supervised(StateDir):
    """A state directory with one supervised process: its configuration file ``cfg``, the pid
    file the process writes, and :meth:`owns` to tell that pid from a recycled one.

    Every process of the instance (the current one, older ones still draining connections,
    NGINX's workers, even orphans of a killed master) runs ``binary`` with the state directory
    as its working directory: that is how :meth:`processes` finds them all, whoever started
    them (this agent or an earlier one)."""

    def __init__(self, lb_dir: Path, binary: str, config_name: str, pid_name: str) -> None:
        super().__init__(lb_dir)
        self.binary = binary
        self.program = os.path.basename(os.path.realpath(binary))
        self.cfg = lb_dir / config_name
        self.pidfile = lb_dir / pid_name
        self.running_file = lb_dir / "running.json"

    def processes(self) -> list[int]:
        """Every live process of this instance (current, draining, workers, orphans)."""
        return processes_in(self.dir, self.program)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every process of this instance (SIGTERM, then SIGKILL after ``timeout``)."""
        terminate(self.processes(), timeout)

    def owns(self, pid: int) -> bool:
        """Whether live process ``pid`` is this instance's (not a recycled pid)."""
        raise NotImplementedError

    def pid(self) -> int | None:
        """The pid serving the current configuration, if that process is alive and ours."""
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if self.owns(pid) else None

    def alive(self) -> bool:
        return self.pid() is not None

    def note_running(self, text: str | None = None, wait: float = 2.0) -> None:
        """Record that the current process runs ``text`` (default: the configuration file),
        once its pid file names it (NGINX writes it just after the starting command returns).
        The file on disk alone cannot say this: an agent killed between writing a new
        configuration and reloading leaves a file the process never loaded."""
        text = self.current_config() if text is None else text
        deadline = time.monotonic() + wait
        pid = self.pid()
        while pid is None and time.monotonic() < deadline:
            time.sleep(0.005)
            pid = self.pid()
        record = {"pid": pid, "config_sha256": _digest(text or "")}
        atomic_write(self.running_file, json.dumps(record))

    def runs(self, text: str) -> bool:
        """Whether the live process is the one recorded as running exactly ``text``: what an
        agent checks before it adopts a process it did not start."""
        try:
            record = json.loads(self.running_file.read_text())
        except (OSError, ValueError):
            return False
        pid = self.pid()
        return (pid is not None and record.get("pid") == pid
                and record.get("config_sha256") == _digest(text))

    def current_config(self) -> str | None:
        try:
            return self.cfg.read_text(encoding="utf-8")
        except OSError:
            return None
