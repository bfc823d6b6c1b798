"""Shared bench helpers: start a real ``statera serve``, percentiles."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
BIG_SUBNET = """
[[networking.networks]]
id = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000001"
name = "loopback"
[[networking.networks.subnets]]
id = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"
name = "loopback-v4"
cidr = "127.100.0.0/16"
"""


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    return {"p50": pick(50), "p90": pick(90), "p99": pick(99), "max": ordered[-1]}


def fmt_ms(stats: dict[str, float]) -> str:
    return "  ".join(f"{k}={v * 1000:.1f} ms" for k, v in stats.items())


@contextmanager
def statera_server(config: str = "", **env: str) -> Iterator[tuple[str, Path]]:
    """A real ``statera serve`` on a free port with a fresh SQLite data directory.

    ``config`` is TOML text; by default a /16 loopback subnet so 1,000+ VIPs fit.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="statera-bench-"))
    full_env = {**os.environ, "STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
                "STATERA_LOG_LEVEL": "WARNING", **env}
    cfg = data / "statera.toml"
    cfg.write_text(config or BIG_SUBNET)
    proc = subprocess.Popen(
        [str(VENV_BIN / "statera"), "serve", "--config", str(cfg), "--port", str(port),
         "--data-dir", str(data)],
        env=full_env, stdout=open(data / "serve.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((data / "serve.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        yield url, data
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
