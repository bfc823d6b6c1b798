"""One NGINX master per load balancer: files, validation, start, graceful reload, stop.

Everything about a load balancer lives in ``<state_dir>/<lb_id>/``, which is also NGINX's
prefix and the working directory of its processes: ``nginx.conf`` (always the last
configuration that was accepted), ``nginx.pid``, ``error.log``, one access log per listener
(``<listener_id>.log``, the source of its statistics), ``tmp/`` for NGINX's buffers,
``view.json`` (the member health verdicts the running configuration was rendered with, so a
new agent adopting the process renders the same), ``running.json`` (which master runs which
configuration hash), ``counters.json`` and ``stats.json``.

Changes: a candidate file is checked with ``nginx -t`` before it replaces ``nginx.conf``; a
running master then gets SIGHUP (graceful: new workers start on the new configuration, old ones
finish their requests). NGINX applies a reload asynchronously and keeps the old workers when it
cannot (a port taken, say), so a reload counts as done only when a new worker runs and every
old one has stopped accepting (it exited, or renamed itself "shutting down"), and as failed
when the error log reports ``[emerg]``; the previous ``nginx.conf`` is then put back (what the
master still runs). Workers outlive a killed master, so processes are found by their
working directory (the state directory), not by command line (workers rewrite theirs).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from statera.providers.kit.liveness import POLL_TIMEOUT, http_answers, stopped
from statera.providers.kit.procs import (
    Supervised,
    atomic_write,
    children,
    exists,
    kill_and_wait,
    last_lines,
    launch,
    send_signal,
    zombie,
)
from statera.providers.nginx import drain

LOG = logging.getLogger(__name__)
RELOAD_TIMEOUT = 10.0
#: The status server's Unix socket in the state directory (nginx.conf.j2 listens on it).
STATUS_SOCKET = "status.sock"


def _is_master(pid: int, directory: Path) -> bool:
    """Whether ``pid`` is a live NGINX master working in ``directory`` (NGINX rewrites its
    command line to ``nginx: master process <original args>``). Two reads, no /proc scan:
    the health poll asks this of every load balancer every second."""
    try:
        if os.readlink(f"/proc/{pid}/cwd") != str(directory):
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().startswith(b"nginx: master process") and not zombie(pid)
    except OSError:
        return False


def _accepting(pid: int) -> bool:
    """Whether an old worker still takes new connections: it renames itself ``worker
    process is shutting down`` once it closed its listening sockets (or it has exited)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"shutting down" not in fh.read()
    except OSError:
        return False


class ProcessError(Exception):
    """NGINX refused a configuration or did not start."""


class Instance(Supervised):
    """The NGINX master of one load balancer and its state directory."""

    def __init__(self, lb_dir: Path, binary: str) -> None:
        super().__init__(lb_dir, binary, "nginx.conf", "nginx.pid")
        self.error_log = lb_dir / "error.log"

    def _args(self, config: Path) -> list[str]:
        return [self.binary, "-p", f"{self.dir}/", "-c", str(config), "-e", str(self.error_log)]

    # --- observation ------------------------------------------------------------------------
    def owns(self, pid: int) -> bool:
        return _is_master(pid, self.dir)

    def responsive(self, timeout: float = 1.0) -> bool:
        """Whether the master has a worker taking connections (NGINX has no runtime socket to
        ask; a master whose workers all died or are shutting down serves nothing). A master
        that just started forks its workers a moment after writing its pid file: it gets up to
        ``timeout`` seconds to show one."""
        deadline = time.monotonic() + timeout
        while True:
            master = self.pid()
            if master is None:
                return False
            if any(_accepting(pid) for pid in children(master)):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    # --- changes ----------------------------------------------------------------------------
    def validate(self, path: Path) -> None:
        (self.dir / "tmp").mkdir(exist_ok=True)
        result = subprocess.run(self._args(path) + ["-t", "-q"], cwd=self.dir,
                                capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
                                check=False)
        if result.returncode != 0:
            raise ProcessError(last_lines(result.stderr or result.stdout,
                                          fallback="nginx -t failed without a message"))

    def answers(self, timeout: float = POLL_TIMEOUT) -> bool:
        """Whether this NGINX serves: its master is not stopped and a worker answers the
        status socket within ``timeout`` (a stopped or stuck worker still has the kernel
        accept connections, but answers nothing). True for a configuration without the
        status server (rendered before it existed): nothing to ask."""
        master = self.pid()
        if master is None:
            return False
        if f"unix:{STATUS_SOCKET}" not in (self.current_config() or ""):
            return True
        return not stopped(master) and http_answers(self.dir / STATUS_SOCKET, timeout)

    def apply(self, text: str, files: dict[str, str], reason: str) -> None:
        """Check ``text`` with ``nginx -t``, make it nginx.conf, then start NGINX or reload it
        gracefully. On any failure the previous nginx.conf stays (and keeps running)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.write_files(files)
        candidate = self.dir / "nginx.conf.new"
        atomic_write(candidate, text)
        try:
            self.validate(candidate)
        except ProcessError:
            os.replace(candidate, self.dir / "nginx.conf.rejected")
            self.bump("rejected")
            raise
        previous = self.current_config()
        os.replace(candidate, self.cfg)
        master = self.pid()
        started = time.monotonic()
        try:
            if master is None:
                self._start()
            else:
                self._reload(master, previous)
        except ProcessError:
            atomic_write(self.dir / "nginx.conf.rejected", text)
            if previous is not None:
                atomic_write(self.cfg, previous)
            else:
                self.cfg.unlink(missing_ok=True)
            self.bump("rejected")
            raise
        self.note_running(text)
        self.bump("reloads" if master else "starts")
        self.prune_files(files)
        LOG.info("nginx %s: %s in %.0f ms (%s)", self.lb_id, "reloaded" if master else
                 "started", (time.monotonic() - started) * 1000, reason)

    def _start(self) -> None:
        """Start a master on nginx.conf after removing any orphaned worker (a killed master
        leaves its workers holding the listening sockets)."""
        leftovers = self.processes()
        if leftovers:
            kill_and_wait(leftovers, self.processes)
        (self.dir / STATUS_SOCKET).unlink(missing_ok=True)  # a killed master leaves it bound
        (self.dir / "tmp").mkdir(exist_ok=True)
        result = launch(self._args(self.cfg), self.dir)
        if result.returncode != 0:
            raise ProcessError(last_lines(result.stderr or result.stdout,
                                          fallback="nginx failed without a message"))

    def _reload(self, master: int, running: str | None) -> None:
        """SIGHUP inside a drain window over the ``running`` configuration's HTTP ports (see
        ``drain``: keep-alive clients are told ``Connection: close`` before the old worker
        shuts down), then wait until the new workers serve."""
        before = set(children(master))
        with drain.window(self.dir, master, sorted(before), running):
            self._signal_reload(master, before)

    def _signal_reload(self, master: int, before: set[int]) -> None:
        try:
            offset = self.error_log.stat().st_size
        except OSError:
            offset = 0
        send_signal(master, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while time.monotonic() < deadline:
            now = set(children(master))
            if now - before and not any(_accepting(pid) for pid in before & now):
                return
            failure = self._emergencies(offset)
            if failure:
                raise ProcessError(failure)
            if not exists(master):
                raise ProcessError("nginx master exited during the reload")
            time.sleep(0.005)
        raise ProcessError("nginx did not start new workers after SIGHUP")

    def _emergencies(self, offset: int) -> str:
        try:
            with open(self.error_log, "rb") as fh:
                fh.seek(offset)
                lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines()
                         if "[emerg]" in ln or "[alert]" in ln]
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def restart(self, reason: str) -> None:
        """Start the last good configuration again after the master died."""
        self._start()
        self.note_running()
        self.bump("restarts")
        LOG.warning("nginx %s: restarted (%s)", self.lb_id, reason)

    def replace(self, reason: str) -> None:
        """Octavia's failover: a new master (and workers) takes over the listening sockets
        from the old one (NGINX's binary-upgrade signals, USR2 then QUIT), so the instance is
        new and no connection is refused. A dead or unanswering master is rebuilt instead."""
        old = self.pid()
        if old is None:
            self.restart(reason)
            return
        send_signal(old, signal.SIGUSR2)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        new = None
        while time.monotonic() < deadline:
            new = self.pid()
            if new is not None and new != old:
                break
            time.sleep(0.01)
        if new is None or new == old:
            self.rebuild(f"{reason}; new master did not start")
            return
        send_signal(old, signal.SIGQUIT)  # old workers finish their requests, then exit
        self.note_running()
        self.bump("failovers")
        LOG.info("nginx %s: replaced master %s by %s (%s)", self.lb_id, old, new, reason)

    def rebuild(self, reason: str) -> None:
        """Kill every process of this load balancer, then start the last good configuration."""
        kill_and_wait(self.processes(), self.processes)
        self.restart(reason)

    def reopen_logs(self) -> None:
        master = self.pid()
        if master is not None:
            send_signal(master, signal.SIGUSR1)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
