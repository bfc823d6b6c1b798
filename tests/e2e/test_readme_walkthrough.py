"""The README's walk-through, run as written: every ``sh`` block marked ``<!-- walk-through -->``
in README.md, in order, in one ``bash -e`` session, against a real ``statera serve`` with the
haproxy provider. Two things differ from a user's machine and are swapped in (each swap must
find its text, so the README cannot drift from what runs): ``examples/clouds.yaml`` and the
certificate upload's ``http://127.0.0.1:9876`` point at the test's server.

Between the TLS block and the next one, Python's ``ssl`` module connects to the HTTPS listener
as a second real TLS client and checks the certificate the user generated.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from tests.e2e import haproxy_support as support
from tests.e2e.conftest import Server
from tests.e2e.haproxy_support import requires_haproxy

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [requires_haproxy]
haproxy_server = support.haproxy_server

MARK = "<!-- walk-through -->"
DEFAULT_URL = "http://127.0.0.1:9876"

TLS_CLIENT = r'''
import socket, ssl, sys
vip, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)  # verifies the chain and the VIP in the SAN
with socket.create_connection((vip, 8443), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=vip) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := tls.recv(4096):
            reply += chunk
        subject = dict(x[0] for x in tls.getpeercert()["subject"])
        print("python-ssl:", tls.version(), subject["commonName"], reply.split(b"\r\n")[0].decode(),
              reply.rsplit(b"\r\n\r\n", 1)[1].decode().strip())
'''


def walkthrough_blocks(readme: str) -> list[str]:
    blocks = re.findall(re.escape(MARK) + r"\n```sh\n(.*?)```", readme, re.S)
    assert len(blocks) == readme.count(MARK), "a walk-through mark without a sh block"
    return blocks


def test_readme_walkthrough_runs_as_written(haproxy_server: Server, tmp_path: Path) -> None:
    srv = haproxy_server
    blocks = walkthrough_blocks((ROOT / "README.md").read_text())
    assert len(blocks) == 4
    tls_block = next(i for i, b in enumerate(blocks) if "TERMINATED_HTTPS" in b)
    assert DEFAULT_URL in blocks[tls_block] and "examples/clouds.yaml" in blocks[0]
    blocks[tls_block] = blocks[tls_block].replace(DEFAULT_URL, srv.url)
    blocks.insert(tls_block + 1, f"python3 - \"$VIP\" \"$tls/web.crt\" <<'PY'\n{TLS_CLIENT}PY\n")

    # The user's clone: .venv and examples/clouds.yaml, the latter for this test's server.
    home = tmp_path / "clone"
    (home / "examples").mkdir(parents=True)
    (home / ".venv").symlink_to(ROOT / ".venv")
    (home / "examples" / "clouds.yaml").write_text(srv.clouds_yaml().read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    proc = subprocess.Popen(["bash", "-e"], cwd=home, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate("\n".join(blocks), timeout=400)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the web servers, if the script failed early
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, out[-4000:]

    lines = out.splitlines()
    http = [line for line in lines if line in ("server 1", "server 2")]
    assert sorted(http[:2]) == ["server 1", "server 2"], out  # round robin over both
    assert len(http) == 3, out  # ... and the HTTPS listener's curl, verified with --cacert
    ssl_line = next(line for line in lines if line.startswith("python-ssl:"))
    assert re.fullmatch(r"python-ssl: TLSv1\.[23] web HTTP/1\.[01] 200 OK server [12]", ssl_line)
    assert "ERROR" in out and "DEGRADED" in out  # the stopped server's member, pool, LB
    assert "fast: created, listener added, deleted" in out
    # Nothing left behind: every load balancer was deleted.
    import openstack

    conn = openstack.connection.Connection(auth_type="none",
                                           load_balancer_endpoint_override=srv.url)
    assert list(conn.load_balancer.load_balancers()) == []


def test_readme_states_the_clients_wait_interval() -> None:
    """The README explains slow ``--wait`` steps by python-octaviaclient's poll interval; if
    the installed client changes it, the README must change too."""
    from importlib.util import find_spec

    spec = find_spec("octaviaclient")  # read, not imported: importing it warns (osc_lib)
    assert spec is not None and spec.origin is not None
    source = (Path(spec.origin).parent / "osc" / "v2" / "utils.py").read_text()
    wait = source[source.index("def wait_for_active"):]
    interval = re.search(r"sleep_time=(\d+)", wait)
    assert interval is not None
    readme = (ROOT / "README.md").read_text()
    assert f"polls the status every **{interval.group(1)} s**" in readme
