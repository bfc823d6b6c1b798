"""What the NGINX reload drain window costs, measured with wrk on a real NGINX.

Three variants of one HTTP listener proxying to an upstream served by NGINX itself (so Python
backends are not the bottleneck), each loaded by wrk (2 threads, 8 keep-alive connections),
interleaved ``--rounds`` times so they share the host's conditions:

- ``keepalive``: plain keep-alive, no drain check (the configuration before the drain window);
- ``drain-check``: what the provider renders: the per-request ``if (-f "draining")`` check,
  flag absent (the steady state: one stat() per request);
- ``no-keepalive``: ``keepalive_timeout 0`` on every response, the alternative the drain
  window avoids (a TCP handshake per request).

Then the reload itself: ``--reloads`` SIGHUPs under wrk through the provider's
``Instance._reload`` with and without the window, counting wrk's failed requests and the
reload times (p50/p99).

Usage: .venv/bin/python -m bench.nginx_drain [--seconds 5] [--rounds 3] [--reloads 40]

Never part of the test run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import fmt_ms, percentiles
from statera.providers.kit.procs import children, processes_in, resolve_binary, terminate
from statera.providers.nginx.process import Instance

CONFIG = """daemon on;
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path tmp;
    proxy_temp_path tmp;
    fastcgi_temp_path tmp;
    uwsgi_temp_path tmp;
    scgi_temp_path tmp;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    upstream members {{
        server 127.0.0.1:{member};
    }}
    server {{
        listen 127.0.0.1:{member};
        location / {{ return 200 "member {generation}"; }}
    }}
    server {{
        listen 127.0.0.1:{port};
        keepalive_timeout {keepalive};
{check}
        location / {{ proxy_pass http://members; }}
        location @statera_drain {{
            keepalive_timeout 0;
            proxy_pass http://members;
        }}
    }}
}}
"""
CHECK = """        if (-f "draining") { return 418; }
        error_page 418 = @statera_drain;"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render(port: int, member: int, variant: str, generation: int = 0) -> str:
    return CONFIG.format(port=port, member=member, generation=generation,
                         keepalive="0" if variant == "no-keepalive" else "60s",
                         check=CHECK if variant != "keepalive" else "")


def wrk(url: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(["wrk", "-t", "2", "-c", "8", "-d", f"{int(seconds)}s",
                             "--timeout", "5s", url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def parse(out: str) -> tuple[float, int, int]:
    """(requests per second, requests, failed: socket errors + non-2xx)."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = (sum(int(x) for x in errors.groups()) if errors else 0) + (
        int(non_2xx.group(1)) if non_2xx else 0)
    return (float(rate.group(1)) if rate else 0.0, int(total.group(1)) if total else 0, failed)


class Nginx:
    """One NGINX in a scratch directory, driven through the provider's Instance."""

    def __init__(self, root: Path, text: str) -> None:
        root.mkdir()
        (root / "tmp").mkdir()
        self.inst = Instance(root, resolve_binary("nginx"))
        self.inst.apply(text, {}, "bench")

    def stop(self) -> None:
        terminate(processes_in(self.inst.dir, "nginx"))


def throughput(root: Path, seconds: float, rounds: int) -> dict[str, list[float]]:
    port, member = free_port(), free_port()
    rates: dict[str, list[float]] = {}
    for r in range(rounds):
        for variant in ("keepalive", "drain-check", "no-keepalive"):
            nginx = Nginx(root / f"{variant}-{r}", render(port, member, variant))
            try:
                rate, _, failed = parse(wrk(f"http://127.0.0.1:{port}/", seconds)
                                        .communicate()[0])
                rates.setdefault(variant, []).append(rate)
                if failed:
                    print(f"  ({variant}: {failed} failed requests)")
            finally:
                nginx.stop()
    return rates


def reloads(root: Path, count: int, window: bool) -> tuple[int, int, list[float]]:
    """(requests, failed, reload seconds) for ``count`` reloads under wrk."""
    port, member = free_port(), free_port()
    nginx = Nginx(root / f"reload-{window}", render(port, member, "drain-check"))
    load = wrk(f"http://127.0.0.1:{port}/", 600)
    took = []
    running = render(port, member, "drain-check")
    try:
        time.sleep(0.5)
        for i in range(count):
            text = render(port, member, "drain-check", i + 1)
            (nginx.inst.dir / "nginx.conf").write_text(text)
            master = nginx.inst.pid()
            assert master is not None
            t0 = time.monotonic()
            if window:
                nginx.inst._reload(master, running)
                running = text
            else:
                nginx.inst._signal_reload(master, set(children(master)))
            took.append(time.monotonic() - t0)
            time.sleep(0.1)
    finally:
        load.send_signal(signal.SIGINT)
        out = load.communicate(timeout=30)[0]
        nginx.stop()
    _, requests, failed = parse(out)
    return requests, failed, took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reloads", type=int, default=40)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="statera-bench-nginx-drain-"))
    try:
        print(f"wrk -t2 -c8, {args.seconds:.0f} s x {args.rounds} rounds, requests/s:")
        for variant, rates in throughput(root, args.seconds, args.rounds).items():
            print(f"  {variant:13s} median {sorted(rates)[len(rates) // 2]:8.0f}  "
                  f"all {', '.join(f'{r:.0f}' for r in rates)}")
        for window in (False, True):
            requests, failed, took = reloads(root, args.reloads, window)
            print(f"{args.reloads} reloads under wrk, drain window {'on' if window else 'off'}: "
                  f"{requests} requests, {failed} failed; reload {fmt_ms(percentiles(took))}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
