"""Hosts, a client and a switch made of network namespaces, for tests and benchmarks.

A :class:`Topology` is what a small deployment looks like: a Linux bridge (in a namespace of
its own, standing for the switch) carrying the VIP subnet, each agent host a namespace whose
interface ``vip0`` is plugged into it with its own address, and a client namespace on the same
subnet. Every name carries a random prefix so parallel test workers never meet; everything is
created inside the test's own namespaces (nothing in the host's), and :meth:`close` kills
what still runs in them, by pid, then deletes them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SUBNET_ID = "5b7e1d0c-0000-4000-8000-00000000a001"
CIDR = "10.77.0.0/24"
INTERFACE = "vip0"


def usable() -> str | None:
    """Why namespace tests cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip"
    probe = f"stprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


class Topology:
    """A switch namespace with a bridge, ``hosts`` host namespaces and a client namespace."""

    def __init__(self, hosts: int = 2) -> None:
        self.prefix = f"st{uuid.uuid4().hex[:6]}"
        self.switch = f"{self.prefix}-sw"
        self.client = f"{self.prefix}-cl"
        self.hosts = [f"{self.prefix}-h{i + 1}" for i in range(hosts)]
        self.addresses = {h: f"10.77.0.{11 + i}" for i, h in enumerate(self.hosts)}
        self.addresses[self.client] = "10.77.0.100"
        self.vip = "10.77.0.50"
        self._made: list[str] = []
        self._procs: list[subprocess.Popen[str]] = []
        try:
            self._build()
        except Exception:
            self.close()
            raise

    def _build(self) -> None:
        for ns in [self.switch, *self.hosts, self.client]:
            ip("netns", "add", ns)
            self._made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for index, ns in enumerate([*self.hosts, self.client]):
            port = f"p{index}"
            ip("link", "add", INTERFACE, "netns", ns, "type", "veth",
               "peer", "name", port, "netns", self.switch)
            ip("-n", self.switch, "link", "set", port, "master", "br0")
            ip("-n", self.switch, "link", "set", port, "up")
            ip("-n", ns, "address", "add", f"{self.addresses[ns]}/24", "dev", INTERFACE)
            ip("-n", ns, "link", "set", INTERFACE, "up")

    # --- running things inside ----------------------------------------------------------------
    def run(self, ns: str, *args: str, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", ns, *args], input=input, text=True,
                              capture_output=True, timeout=timeout, cwd=REPO, check=False)

    def spawn(self, ns: str, *args: str) -> subprocess.Popen[str]:
        """Start ``args`` in ``ns`` (``ip netns exec`` execs it: the pid is the program's)."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], text=True, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        self._procs.append(proc)
        return proc

    def backend(self, ns: str, name: str, port: int) -> subprocess.Popen[str]:
        proc = self.spawn(ns, sys.executable, "-m", "tests.netns.backend", name, str(port))
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return proc

    def converge(self, ns: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Run the HAProxy converger once in ``ns`` (see tests/netns/driver.py)."""
        done = self.run(ns, sys.executable, "-m", "tests.netns.driver",
                        input=json.dumps(spec))
        if done.returncode != 0:
            raise RuntimeError(f"driver in {ns} failed: {done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["log"] = done.stderr
        return result

    def holds(self, ns: str, address: str) -> bool:
        data = json.loads(ip("-n", ns, "-json", "address", "show", "dev", INTERFACE) or "[]")
        return any(a.get("local") == address for link in data for a in link["addr_info"])

    def link(self, ns: str, up: bool) -> None:
        ip("-n", ns, "link", "set", INTERFACE, "up" if up else "down")

    def neighbour(self, ns: str, address: str) -> str | None:
        """The link-layer address ``ns`` has for ``address`` (None: no entry)."""
        data = json.loads(ip("-n", ns, "-json", "neigh", "show", address) or "[]")
        return str(data[0]["lladdr"]) if data and "lladdr" in data[0] else None

    def mac(self, ns: str) -> str:
        data = json.loads(ip("-n", ns, "-json", "link", "show", "dev", INTERFACE))
        return str(data[0]["address"])

    # --- cleaning up --------------------------------------------------------------------------
    def pids(self, ns: str) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                             check=False).stdout
        return [int(p) for p in out.split()]

    def close(self) -> None:
        """Stop what runs in the namespaces (all started by this test), then delete them."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
        for ns in self._made:
            for pid in self.pids(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        wait(lambda: not any(self.pids(ns) for ns in self._made), timeout=5)
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self._made.clear()


def lb_spec(topology: Topology, host: str, base: Path, lb_id: str, *, role: str = "STANDALONE",
            peers: tuple[str, ...] = (), action: str = "converge", backend_port: int = 8001,
            advert_int: float = 1.0, provider: str = "haproxy") -> dict[str, Any]:
    """The driver's input for one HTTP load balancer on ``host``: VIP ``topology.vip`` port
    8080, one member on the host's own backend at 127.0.0.1:``backend_port``."""
    return {"data_dir": str(base / host), "state_dir": str(base / host / provider),
            "provider": provider,
            "subnet": {"id": SUBNET_ID, "cidr": CIDR, "interface": INTERFACE},
            "lb": {"id": lb_id, "vip": topology.vip, "port": 8080,
                   "members": [["127.0.0.1", backend_port]]},
            "role": role, "peers": list(peers), "action": action, "advert_int": advert_int}


def wait(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class Load:
    """Requests from the client namespace to the VIP, every 20 ms, on new connections."""

    def __init__(self, topology: Topology, port: int) -> None:
        self.proc = topology.spawn(topology.client, sys.executable, "-m", "tests.netns.load",
                                   topology.vip, str(port))
        self.lines: list[str] = []

    def stop(self) -> list[tuple[float, bool, str]]:
        """Stop and return (time, answered, body or error) per request."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=10)
        results = []
        for line in out.splitlines():
            stamp, status, rest = (line.split(" ", 2) + [""])[:3]
            results.append((float(stamp), status == "ok", rest))
        return results


def summary(results: list[tuple[float, bool, str]], start: float | None = None,
            end: float | None = None) -> tuple[int, float]:
    """(failed requests, longest time without an answer in seconds) of the requests sent in
    [start, end); the gap counts from ``start`` (the failure) to the first answer."""
    lo = results[0][0] if start is None and results else (start or 0.0)
    hi = float("inf") if end is None else end
    window = [r for r in results if lo <= r[0] < hi]
    failed = sum(1 for _, ok, _ in window if not ok)
    answered = [lo] + [t for t, ok, _ in window if ok]
    gaps = [b - a for a, b in zip(answered, answered[1:], strict=False)]
    return failed, max(gaps, default=0.0)
