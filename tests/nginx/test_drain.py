"""The reload drain window on a real NGINX: keep-alive clients are told ``Connection: close``
while it is open, and it waits for exactly the connections the old worker held."""

from __future__ import annotations

import http.client
import threading
import time

from statera.providers.kit.procs import children
from statera.providers.nginx import drain
from tests.haproxy.helpers import member, simple_lb


def test_http_ports_come_from_the_http_block_only() -> None:
    config = ('events {}\nhttp {\n    server {\n        listen 10.0.0.1:80;\n'
              '        listen [2001:db8::1]:8080 ssl http2;\n        if (-f "draining") {}\n'
              '    }\n}\nstream {\n    server {\n        listen 10.0.0.1:53 udp;\n'
              '        listen 10.0.0.1:443;\n    }\n}\n')
    assert drain.http_ports(config) == {80, 8080}
    assert drain.http_ports(config.replace('if (-f "draining") {}', "")) == set()
    assert drain.http_ports(None) == set()
    assert drain.has_stream(config) and not drain.has_stream(config.split("stream {")[0])


def test_window_closes_keepalive_connections_before_the_reload(nginx, backends) -> None:
    lb, vip, port = simple_lb([member(backends("a"))])
    nginx.converge(lb.loadbalancer_id, lb)
    inst = nginx.instance(lb.loadbalancer_id)
    master = inst.pid()
    assert master is not None
    workers = children(master)
    conn = http.client.HTTPConnection(vip, port, timeout=5)
    conn.request("GET", "/")
    first = conn.getresponse()
    assert first.read() == b"a" and first.getheader("Connection") == "keep-alive"
    [held] = drain.client_connections(master, workers, {port})  # HTTP only: no table asked
    assert drain.client_connections(master, workers, {port}, classify=True) == {held}
    assert drain.client_connections(master, workers, {port + 1}, classify=True) == set()

    done = threading.Event()

    def reload() -> None:
        with drain.window(inst.dir, master, workers, inst.current_config(), timeout=10):
            done.set()

    opener = threading.Thread(target=reload)
    opener.start()
    time.sleep(0.3)
    assert not done.is_set()  # waiting for the idle keep-alive connection
    conn.request("GET", "/")  # the client's next request is answered, and closes it
    second = conn.getresponse()
    assert second.read() == b"a" and second.getheader("Connection") == "close"
    conn.close()
    opener.join(timeout=5)
    assert done.is_set()
    assert not (inst.dir / drain.FLAG).exists()

    # Window closed: keep-alive again.
    conn = http.client.HTTPConnection(vip, port, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().getheader("Connection") == "keep-alive"
    conn.close()
