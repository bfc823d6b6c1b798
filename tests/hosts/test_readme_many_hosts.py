"""The README's many-hosts block, run as written in one ``bash -e`` session: an API host
(``statera serve``, which runs no provider agents with RabbitMQ) and an agent host (``statera
agent``) on one PostgreSQL database and RabbitMQ, one HAProxy for the load balancer, on the
agent host, and traffic through it. What differs from a user's machine is swapped in, and each
swap must find its text: the database (a fresh one), the API port, the member's port and
``examples/clouds.yaml`` (this test's), and the VIP subnet (a random loopback /24, in the
environment, so parallel tests never share a VIP)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.dbs import temp_database
from tests.e2e.conftest import free_port, kill_leftovers, pids_naming
from tests.e2e.haproxy_support import haproxy_env, requires_haproxy

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- many-hosts -->"
README_DB = "postgresql+psycopg2://postgres@127.0.0.1:5432/statera"
pytestmark = requires_haproxy


def rabbitmq_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        return False
    return True


def many_hosts_block() -> str:
    blocks = re.findall(re.escape(MARK) + r"\n```sh\n(.*?)```", (ROOT / "README.md").read_text(),
                        re.S)
    assert len(blocks) == 1
    return str(blocks[0])


def swap(text: str, old: str, new: str) -> str:
    assert old in text, f"the README block no longer contains {old!r}"
    return text.replace(old, new)


def test_readme_many_hosts_runs_as_written(tmp_path: Path) -> None:
    if not rabbitmq_reachable():
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    with temp_database("postgresql", str(tmp_path), migrated=False) as url:
        api_port, member_port = free_port(), free_port()
        script = many_hosts_block()
        script = swap(script, README_DB, url)
        script = swap(script, "9876", str(api_port))
        script = swap(script, "8701", str(member_port))
        home = tmp_path / "clone"
        (home / "examples").mkdir(parents=True)
        (home / ".venv").symlink_to(ROOT / ".venv")
        (home / "examples" / "clouds.yaml").write_text(
            "clouds:\n  statera:\n    auth_type: none\n    auth:\n"
            f"      endpoint: http://127.0.0.1:{api_port}/v3\n"
            f"    load_balancer_endpoint_override: http://127.0.0.1:{api_port}\n"
            f"    network_endpoint_override: http://127.0.0.1:{api_port}\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OS_", "STATERA_"))}
        env["STATERA_NETWORKING__NETWORKS"] = haproxy_env()["STATERA_NETWORKING__NETWORKS"]
        proc = subprocess.Popen(["bash", "-e"], cwd=home, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(script, timeout=300)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            kill_leftovers(home)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}"
                         for p in (home / "api.log", home / "agent.log") if p.exists())
        assert proc.returncode == 0, out[-4000:] + logs
        lines = out.splitlines()
        assert "hello from a member" in lines
        # The one instance runs on the agent host.
        assert any(re.match(r"\| compute_id +\| agent-1 +\|", line) for line in lines), out
        assert any(re.match(r"\| role +\| STANDALONE +\|", line) for line in lines), out
        assert any(re.match(r"agent-1 +UP +[\d.]+ +1 ", line) for line in lines), out
        # The API host ran no data plane; the agent host ran the HAProxy.
        api_log = (home / "api.log").read_text()
        assert "no provider agents in this process" in api_log
        assert "provider agent haproxy starting" not in api_log
        assert "haproxy" in (home / "agent.log").read_text()
        assert not pids_naming(home / "api-host")
