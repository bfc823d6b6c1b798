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
last configuration that started), ``haproxy.pid``, ``running.json`` (which pid runs which
configuration hash: what an agent checks before adopting a process it did not start),
``haproxy.sock`` (runtime API, bound relative to the directory to stay under the unix-socket
path limit), ``servers-state`` (dumped before each reload so health and run-time changes survive
it), ``view.json`` (the applied view, for run-time diffs), ``counters.json`` (reloads, starts,
restarts, run-time updates) and ``stats.json`` (statistics baselines).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from statera.providers.haproxy.runtime import RuntimeAPIError, RuntimeClient
from statera.providers.kit.procs import (
    Supervised,
    atomic_write,
    cmdline_names,
    kill_and_wait,
    last_lines,
    launch,
    processes_using,
    program,
    resolve_binary,
)

__all__ = ["Instance", "ProcessError", "atomic_write", "processes_using", "resolve_binary"]
LOG = logging.getLogger(__name__)


class ProcessError(Exception):
    """HAProxy refused a configuration or did not start."""


class Instance(Supervised):
    """The HAProxy process of one load balancer and its state directory."""

    def __init__(self, lb_dir: Path, binary: str) -> None:
        super().__init__(lb_dir, binary, "haproxy.cfg", "haproxy.pid")
        self.socket = lb_dir / "haproxy.sock"
        self.state_file = lb_dir / "servers-state"
        self.runtime = RuntimeClient(self.socket)

    # --- observation ------------------------------------------------------------------------
    def owns(self, pid: int) -> bool:
        """HAProxy keeps its command line: the process runs this program and names this
        instance's haproxy.cfg (an editor or a recycled pid does not count)."""
        return cmdline_names(pid, self.cfg) and program(pid) == self.program

    # --- changes ----------------------------------------------------------------------------
    def validate(self, path: Path) -> None:
        result = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(path)], cwd=self.dir, capture_output=True,
            stdin=subprocess.DEVNULL, timeout=60, check=False)
        if result.returncode != 0:
            raise ProcessError(last_lines(result.stderr or result.stdout,
                                          fallback="haproxy failed without a message"))

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
        self.note_running(text)

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
                    self.note_running(previous)
            else:
                self.cfg.unlink(missing_ok=True)
            self.bump("rejected")
            raise
        self.note_running(text)
        self.bump("reloads" if old_pid else "starts")
        self.prune_files(files)
        LOG.info("haproxy %s: %s in %.0f ms (%s)", self.lb_id, "reloaded" if old_pid else
                 "started", (time.monotonic() - started) * 1000, reason)

    def restart(self, reason: str) -> None:
        """Start the last good configuration again after the process died."""
        self._start(None)
        self.note_running()
        self.bump("restarts")
        LOG.warning("haproxy %s: restarted (%s)", self.lb_id, reason)

    def replace(self, reason: str) -> None:
        """Start a fresh process on the current configuration and hand it the listening
        sockets, as a reload does: the data-plane instance is new and no connection is
        refused (a failover of a process that is still healthy)."""
        old_pid = self.pid()
        self._start(old_pid)
        self.note_running()
        self.bump("failovers")
        LOG.info("haproxy %s: replaced process %s (%s)", self.lb_id, old_pid, reason)

    def rebuild(self, reason: str) -> None:
        """Replace a process that is alive but does not answer (hung, stopped): kill every
        process of this load balancer, then start the last good configuration afresh."""
        kill_and_wait(self.processes(), self.processes)
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
        result = launch(args, self.dir)
        if result.returncode != 0:
            raise ProcessError(last_lines(result.stderr or result.stdout,
                                          fallback="haproxy failed without a message"))

    def _dump_server_state(self) -> None:
        try:
            atomic_write(self.state_file, self.runtime.servers_state())
        except RuntimeAPIError as exc:  # health restarts from scratch, nothing worse
            LOG.warning("haproxy %s: could not save server state: %s", self.lb_id, exc)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
