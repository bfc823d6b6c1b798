"""A real ``statera serve`` process on a free port, and the real OpenStack clients."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

VENV_BIN = Path(sys.executable).parent
LOOPBACK_SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """Starts and stops ``statera serve``; ``restart`` keeps the data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "serve.log"

    def start(self, **extra_env: str) -> None:
        env = {**self.env, **extra_env}
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "statera"), "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"statera serve exited: {self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("statera serve did not start")

    def start_agent(self, *args: str, **extra_env: str) -> None:
        """``statera agent [args]``: the driver agent and provider agents without the API."""
        env = {**self.env, **extra_env}
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "statera"), "agent", "--data-dir", str(self.data_dir), *args],
            env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
        )
        sock = self.data_dir / "run" / "get.sock"
        deadline = time.monotonic() + 30
        while not sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"statera agent did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def clouds_yaml(self) -> Path:
        path = self.data_dir / "clouds.yaml"
        path.write_text(
            "clouds:\n  statera:\n    auth_type: none\n    auth:\n"
            f"      endpoint: {self.url}/v3\n"
            f"    load_balancer_endpoint_override: {self.url}\n"
            f"    network_endpoint_override: {self.url}\n"
        )
        return path


def pids_naming(path: Path | str) -> list[int]:
    """Processes whose command line names ``path`` (a test's own temporary directory, so only
    processes the test started), this one excluded."""
    out = subprocess.run(["pgrep", "-f", str(path)], capture_output=True, text=True,
                         check=False)
    return [int(p) for p in out.stdout.split() if int(p) != os.getpid()]


def kill_leftovers(path: Path | str) -> None:
    """SIGTERM, by pid, whatever a test's server left running under its own directory
    (data planes of a server that was killed); never a process by name."""
    for pid in pids_naming(path):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


@contextmanager
def running_server(data_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    """A started ``statera serve`` in a new ``data_dir``; stopped, with everything it started
    (only processes whose command line names that directory), when the block ends."""
    srv = Server(data_dir, env)
    srv.data_dir.mkdir()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        kill_leftovers(srv.data_dir)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "data", {"STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
                                            "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "2"}) as srv:
        yield srv


@pytest.fixture
def cli(server: Server) -> Callable[..., Any]:
    """Run ``openstack <args> -f json`` against the server; return parsed JSON (or None)."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(server.clouds_yaml()),
           "OS_CLOUD": "statera"}

    def run(*args: str, parse: bool = True, fmt: bool = True) -> Any:
        cmd = [str(VENV_BIN / "openstack"), *args]
        if parse and fmt:
            cmd += ["-f", "json"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {done.stderr}")
        return json.loads(done.stdout) if parse and done.stdout.strip() else None

    return run


@pytest.fixture
def sdk(server: Server) -> Any:
    import openstack

    return openstack.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=server.url,
        network_endpoint_override=server.url)


def wait_for(predicate: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: last={last!r}")
