"""``statera dataplanes list`` and ``stop``: every HAProxy and NGINX a data directory runs is
found from its pid files and stopped by pid, whatever agent started it; nothing else is."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from statera.config import settings_class
from statera.providers.haproxy.converger import HAProxyConverger
from statera.providers.kit import dataplanes
from statera.providers.kit.procs import exists, processes_in
from statera.providers.nginx.converger import NginxConverger
from tests.haproxy.helpers import Backend, get, member, simple_lb, wait_for
from tests.nginx.helpers import NGINX

STATERA = str(Path(sys.executable).parent / "statera")


@pytest.fixture
def backend() -> Iterator[Backend]:
    b = Backend("a")
    yield b
    b.stop()


@pytest.fixture
def stranger(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is no data plane (a sleep in another directory)."""
    proc = subprocess.Popen(["sleep", "60"], cwd=tmp_path)
    yield proc
    proc.kill()
    proc.wait()


def statera(*args: str) -> str:
    done = subprocess.run([STATERA, *args], capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout


def test_list_and_stop_every_data_plane_of_a_data_directory(tmp_path, backend, stranger):
    data = tmp_path / "data"
    settings = settings_class()(data_dir=str(data))
    providers = data / "providers"
    haproxy = HAProxyConverger(settings, providers / "haproxy")
    nginx = NginxConverger(settings, providers / "nginx")
    lb_h, vip_h, port_h = simple_lb([member(backend)])
    lb_n, vip_n, port_n = simple_lb([member(backend)])
    try:
        haproxy.converge(lb_h.loadbalancer_id, lb_h)
        nginx.converge(lb_n.loadbalancer_id, lb_n)
        haproxy.close()  # the agents stop; their data planes keep serving
        nginx.close()
        assert get(vip_h, port_h)[1] == get(vip_n, port_n)[1] == "a"
        # A pid file naming a live process that is not a data plane of its directory.
        fake = providers / "haproxy" / "0c0ffee0-0000-4000-8000-000000000000"
        fake.mkdir()
        (fake / "haproxy.pid").write_text(f"{stranger.pid}\n")

        h_dir, n_dir = providers / "haproxy" / lb_h.loadbalancer_id, \
            providers / "nginx" / lb_n.loadbalancer_id
        nginx_pids = processes_in(n_dir, "nginx")
        assert len(nginx_pids) >= 2  # master and worker(s)
        listed = statera("dataplanes", "list", "--data-dir", str(data)).splitlines()
        master = int((n_dir / "nginx.pid").read_text())
        haproxy_pid = int((h_dir / "haproxy.pid").read_text())
        assert sorted(listed) == sorted([
            f"running haproxy {lb_h.loadbalancer_id} pids {haproxy_pid}",
            f"running nginx {lb_n.loadbalancer_id} pids "
            + " ".join(str(p) for p in [master, *sorted(set(nginx_pids) - {master})]),
        ])

        stopped = statera("dataplanes", "stop", "--data-dir", str(data)).splitlines()
        assert sorted(line.split()[1] for line in stopped) == ["haproxy", "nginx"]
        assert all(line.startswith("stopped ") for line in stopped)
        assert wait_for(lambda: dataplanes.find(providers) == [], timeout=5)
        assert processes_in(h_dir, "haproxy") == [] and processes_in(n_dir, NGINX.rsplit(
            "/", 1)[-1]) == []
        with pytest.raises(OSError):
            get(vip_h, port_h)
        assert exists(stranger.pid)
        assert (h_dir / "haproxy.cfg").exists() and (n_dir / "nginx.conf").exists()
        assert statera("dataplanes", "stop", "--data-dir", str(data)) == (
            f"no data plane running under {providers}\n")
    finally:
        haproxy.stop_all()
        nginx.stop_all()
        nginx.close()
