"""One HAProxy process per load balancer: files, validation, start, seamless reload, stop.

Process model (measured on this host, HAProxy 2.6.12, one HTTP frontend and backend, PSS from
``/proc/<pid>/smaps_rollup``): a single daemon process with ``nbthread 1`` costs ~5.4 MB; the
master-worker pair costs ~10.7 MB (master 6.2 MB + worker 4.5 MB); two threads add ~0.2 MB.
At 1,000 load balancers per host that is ~5 GB versus ~11 GB, so each load balancer runs one
daemon (``-D``) with one thread by default. Reloads are seamless without a master: the new
process takes the listening sockets over the old one's runtime socket (``-x``, which needs
``expose-fd listeners``) and then tells it to finish its connections (``-sf``).
Measured: a start or reload (render, start, hand-over; no separate ``haproxy -c``) takes ~30 ms
on an idle host, a runtime-API member change ~55 ms (most of it validating the rewritten file,
after the change already serves). Nothing fails during reloads: the old process leaves idle
keep-alive client connections open (``close-spread-time infinite``) and closes each after its
next response (``Connection: close`` ``if { stopping }``); see tests/e2e/test_haproxy_churn.py.

Everything about a load balancer lives in ``<state_dir>/<lb_id>/``: ``haproxy.cfg`` (always the
last configuration that started), ``haproxy.pid``, ``haproxy.sock`` (runtime API,
bound relative to the directory to stay under the unix-socket path limit), ``servers-state``
(dumped before each reload so health and run-time changes survive it), ``view.json`` (the
applied view, for run-time diffs), ``counters.json`` (reloads, starts, restarts, run-time
updates) and ``stats.json`` (statistics baselines).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from statera.providers.haproxy.runtime import RuntimeAPIError, RuntimeClient

LOG = logging.getLogger(__name__)
COUNTERS = ("reloads", "starts", "restarts", "runtime_updates", "rejected", "failovers")
#: Suffixes of the certificate files a view names (``view.LBView.files``).
CERT_SUFFIXES = frozenset({".pem", ".crtlist"})


class ProcessError(Exception):
    """HAProxy refused a configuration or did not start."""


def resolve_binary(name: str) -> str:
    """``name`` on PATH, else in the sbin directories a non-login PATH may lack."""
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    return found or name


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def processes_using(config: Path) -> list[int]:
    """Every live process whose command line names ``config`` (current and draining ones)."""
    needle = str(config).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
        except OSError:
            continue
        if needle in args and not _zombie(int(entry)):
            pids.append(int(entry))
    return pids


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


class Instance:
    """The HAProxy process of one load balancer and its state directory."""

    def __init__(self, lb_dir: Path, binary: str) -> None:
        self.dir = lb_dir
        self.lb_id = lb_dir.name
        self.binary = binary
        self.cfg = lb_dir / "haproxy.cfg"
        self.pidfile = lb_dir / "haproxy.pid"
        self.socket = lb_dir / "haproxy.sock"
        self.state_file = lb_dir / "servers-state"
        self.view_file = lb_dir / "view.json"
        self.counters_file = lb_dir / "counters.json"
        self.runtime = RuntimeClient(self.socket)

    # --- observation ------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid serving the current config, if that process is alive and really ours."""
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
        except OSError:
            return None
        if str(self.cfg).encode() not in args or _zombie(pid):
            return None  # a recycled pid
        return pid

    def alive(self) -> bool:
        return self.pid() is not None

    def current_config(self) -> str | None:
        try:
            return self.cfg.read_text(encoding="utf-8")
        except OSError:
            return None

    def counters(self) -> dict[str, int]:
        try:
            data = json.loads(self.counters_file.read_text())
        except (OSError, ValueError):
            data = {}
        return {name: int(data.get(name, 0)) for name in COUNTERS}

    def bump(self, name: str) -> None:
        counters = self.counters()
        counters[name] += 1
        atomic_write(self.counters_file, json.dumps(counters))

    def load_view(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.view_file.read_text())
            return data
        except (OSError, ValueError):
            return None

    def save_view(self, data: dict[str, Any]) -> None:
        atomic_write(self.view_file, json.dumps(data, sort_keys=True))

    # --- changes ----------------------------------------------------------------------------
    def validate(self, path: Path) -> None:
        result = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(path)], cwd=self.dir, capture_output=True,
            stdin=subprocess.DEVNULL, timeout=60, check=False)
        if result.returncode != 0:
            raise ProcessError(_last_lines(result.stderr or result.stdout))

    def write_files(self, files: dict[str, str]) -> None:
        for name, content in files.items():
            atomic_write(self.dir / name, content)

    def install(self, text: str, files: dict[str, str]) -> None:
        """Validate ``text`` and make it haproxy.cfg without touching the process (used when
        the change was already applied through the runtime API)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.write_files(files)
        candidate = self.dir / "haproxy.cfg.new"
        atomic_write(candidate, text)
        try:
            self.validate(candidate)
        except ProcessError:
            os.replace(candidate, self.dir / "haproxy.cfg.rejected")
            self.bump("rejected")
            raise
        os.replace(candidate, self.cfg)

    def apply(self, text: str, files: dict[str, str], reason: str) -> None:
        """Swap in ``text``, then start or seamlessly reload HAProxy.

        There is no separate ``haproxy -c``: starting validates the configuration as fully,
        and a new process signals the old one (``-sf``) only once it has started, so a
        rejected configuration never disturbs what runs (validating first cost a second
        full parse, ~20 ms idle and far more on a busy host, on every create and reload).
        On any failure the previous haproxy.cfg is put back and the running process (if any)
        keeps serving it; a process that died meanwhile is started again from it.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        previous = self.current_config()
        self.write_files(files)
        atomic_write(self.cfg, text)
        old_pid = self.pid()
        started = time.monotonic()
        try:
            self._start(old_pid)
        except ProcessError:
            atomic_write(self.dir / "haproxy.cfg.rejected", text)
            if previous is not None:
                atomic_write(self.cfg, previous)
                if not self.alive():
                    self._start(None)
            else:
                self.cfg.unlink(missing_ok=True)
            self.bump("rejected")
            raise
        self.bump("reloads" if old_pid else "starts")
        self.prune_files(files)
        LOG.info("haproxy %s: %s in %.0f ms (%s)", self.lb_id, "reloaded" if old_pid else
                 "started", (time.monotonic() - started) * 1000, reason)

    def prune_files(self, keep: dict[str, str]) -> None:
        """Remove certificate files (``*.pem``, ``*.crtlist``) the running configuration no
        longer names, so a private key does not outlive its listener or pool on disk. Only
        after a successful start: until then the previous configuration may need them."""
        for path in self.dir.iterdir():
            if path.suffix in CERT_SUFFIXES and path.name not in keep:
                path.unlink(missing_ok=True)

    def restart(self, reason: str) -> None:
        """Start the last good configuration again after the process died."""
        self._start(None)
        self.bump("restarts")
        LOG.warning("haproxy %s: restarted (%s)", self.lb_id, reason)

    def replace(self, reason: str) -> None:
        """Start a fresh process on the current configuration and hand it the listening
        sockets, as a reload does: the data-plane instance is new and no connection is
        refused (a failover of a process that is still healthy)."""
        old_pid = self.pid()
        self._start(old_pid)
        self.bump("failovers")
        LOG.info("haproxy %s: replaced process %s (%s)", self.lb_id, old_pid, reason)

    def rebuild(self, reason: str) -> None:
        """Replace a process that is alive but does not answer (hung, stopped): kill every
        process of this load balancer, then start the last good configuration afresh."""
        for pid in processes_using(self.cfg):
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while processes_using(self.cfg) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.restart(reason)

    def responsive(self, timeout: float = 1.0) -> bool:
        """Whether the current process answers its runtime API within ``timeout``."""
        try:
            return RuntimeClient(self.socket, timeout).command("show info").startswith("Name:")
        except RuntimeAPIError:
            return False

    def _start(self, old_pid: int | None) -> None:
        args = [self.binary, "-D", "-f", str(self.cfg), "-p", str(self.pidfile)]
        if old_pid is not None:
            self._dump_server_state()
            args += ["-x", self.socket.name, "-sf", str(old_pid)]
        elif not self.state_file.exists():
            atomic_write(self.state_file, "1\n# be_id\n")
        result = subprocess.run(args, cwd=self.dir, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=60, check=False)
        if result.returncode != 0:
            raise ProcessError(_last_lines(result.stderr or result.stdout))

    def _dump_server_state(self) -> None:
        try:
            atomic_write(self.state_file, self.runtime.servers_state())
        except RuntimeAPIError as exc:  # health restarts from scratch, nothing worse
            LOG.warning("haproxy %s: could not save server state: %s", self.lb_id, exc)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the current process and any still draining connections of older configs."""
        pids = processes_using(self.cfg)
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _exists(p)]
            time.sleep(0.02)
        for pid in pids:
            _signal(pid, signal.SIGKILL)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _zombie(pid)


def _last_lines(output: bytes, limit: int = 5) -> str:
    lines = [ln for ln in output.decode("utf-8", "replace").splitlines()
             if ln.strip() and "[NOTICE]" not in ln]
    return " | ".join(lines[-limit:]) or "haproxy failed without a message"
