"""``scripts/services``: the servers the tests use, found where they run or started by the
script itself (what a fresh Debian machine needs), and found by the tests either way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "services"
KEYS = ("STATERA_TEST_AMQP", "STATERA_TEST_MYSQL", "STATERA_TEST_PG")
STANDARD = {"STATERA_TEST_PG": "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
            "STATERA_TEST_MYSQL": "mysql+pymysql://root@127.0.0.1:3306/",
            "STATERA_TEST_AMQP": "amqp://guest:guest@127.0.0.1:5672/%2F"}
INSTALLED = (any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
             and shutil.which("mariadb-install-db") is not None
             and os.access("/usr/lib/rabbitmq/bin/rabbitmq-server", os.X_OK))

# What a test does with the URLs: tests/dbs.py's throw-away databases and the RabbitMQ bus.
USE_THEM = """
import sys, uuid
from sqlalchemy import create_engine, text
from statera.bus.rabbitmq import RabbitMQBus
from tests.dbs import temp_database
from tests.services import AMQP_URL

for backend, query in (("postgresql", "SHOW data_directory"), ("mariadb", "SELECT @@datadir")):
    with temp_database(backend, sys.argv[1]) as url:
        engine = create_engine(url)
        with engine.connect() as conn:
            print(backend, conn.execute(text(query)).scalar())
        engine.dispose()
topic = f"t-{uuid.uuid4().hex[:8]}"
sender, receiver = RabbitMQBus(AMQP_URL), RabbitMQBus(AMQP_URL)
sub = receiver.subscribe(topic)
sender.publish(topic, "lb-1")
print("rabbitmq", sub.get(timeout=10))
sub.close(); sender.close(); receiver.close()
"""


def running(pid: int) -> bool:
    """Alive and not a zombie (an init that does not reap would leave one)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def env_file(state: Path) -> dict[str, str]:
    lines = (state / "env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def run(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in KEYS}
    full.update(STATERA_TEST_SERVICES_DIR=str(state), **env)
    return subprocess.run([str(SCRIPT), *args], env=full, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def state() -> Iterator[Path]:
    # Under /var/tmp, readable by all: the servers run as postgres and mysql when we are root.
    path = Path(tempfile.mkdtemp(prefix="statera-services-", dir="/var/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        run(path, "stop")
        shutil.rmtree(path, ignore_errors=True)


def standard_servers_usable() -> bool:
    """Whether the tests can log in to all three servers on their standard ports."""
    import pika
    import psycopg2
    import pymysql

    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres",
                         connect_timeout=3).close()
        pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=3).close()
        pika.BlockingConnection(pika.URLParameters(
            STANDARD["STATERA_TEST_AMQP"] + "?connection_attempts=1&socket_timeout=3")).close()
    except Exception:
        return False
    return True


def test_servers_that_run_already_are_used_and_nothing_is_started(state: Path) -> None:
    if not standard_servers_usable():
        pytest.skip("the servers on the standard ports are not all usable here")
    done = run(state)
    assert done.returncode == 0, done.stderr
    assert env_file(state) == STANDARD
    assert "of our own" not in done.stdout
    assert not any(state.glob("*/url")), "a server was started although one runs"


@pytest.mark.skipif(not INSTALLED, reason="postgresql, mariadb-server or rabbitmq-server "
                    "is not installed (scripts/setup services installs them)")
def test_own_servers_when_the_standard_ones_cannot_be_used(state: Path,
                                                           tmp_path: Path) -> None:
    """As on a fresh machine: servers of the script's own, in its state directory, found by
    the tests through tests/services.py; started once, reused, and stopped by `stop`."""
    done = run(state, STATERA_TEST_SERVICES_OWN="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout, done.stdout
    found = env_file(state)
    assert sorted(found) == sorted(KEYS)
    for key in KEYS:
        assert f"of our own at {found[key]}" in done.stdout

    used = subprocess.run(
        [sys.executable, "-c", USE_THEM, str(tmp_path)], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k not in KEYS},
             "STATERA_TEST_SERVICES_DIR": str(state)})
    assert used.returncode == 0, used.stderr
    answers = dict(line.split(" ", 1) for line in used.stdout.splitlines())
    assert answers["postgresql"].startswith(str(state / "pg" / "data"))
    assert answers["mariadb"].startswith(str(state / "mysql" / "data"))
    assert answers["rabbitmq"] == "lb-1"

    again = run(state, STATERA_TEST_SERVICES_OWN="1")
    assert again.returncode == 0 and env_file(state) == found
    assert "creating" not in again.stdout and "starting" not in again.stdout, again.stdout

    pids = {path: int(path.read_text().split()[0]) for path in (
        state / "pg" / "data" / "postmaster.pid", state / "mysql" / "server.pid",
        state / "amqp" / "server.pid")}
    stopped = run(state, "stop")
    assert stopped.returncode == 0, stopped.stderr
    for path, pid in pids.items():
        assert not running(pid), f"{path.parent.name} (pid {pid}) still runs"
