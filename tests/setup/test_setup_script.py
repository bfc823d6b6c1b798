"""``scripts/setup`` as ``make serve`` and ``make test`` run it, on a copy of the repository whose
package manager is a recording stand-in (installing Debian packages cannot run inside a test).

What a new user met: set-up failing at once while unattended upgrades held the dpkg lock, a
minute of silence from ``pip -q``, ``make serve`` installing the benchmark tool, and (on a
user's own machine) ``pkill -x haproxy`` killing load balancers that Statera does not own.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = Path("/run/systemd/system").is_dir()

APT_GET = """#!/usr/bin/env bash
echo "apt-get $*" >> "$LOG"
if [[ " $* " == *" install "* ]]; then
  # Like Debian's postinst: start the packaged services, which write their pid files.
  for svc in haproxy nginx; do
    if [[ " $* " == *" $svc"* ]]; then
      setsid "$FAKE/$svc" 300 >/dev/null 2>&1 < /dev/null &
      pid=$!
      # A daemon writes its pid file once it runs as itself.
      until [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$svc" ]; do sleep 0.01; done
      echo $pid > "$RUN_DIR/$svc.pid"
    fi
  done
fi
"""
RECORD = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$LOG"
"""


@dataclass
class Sandbox:
    repo: Path
    env: dict[str, str]
    log: Path
    run_dir: Path
    fake: Path
    started: list[subprocess.Popen[bytes]]

    def setup(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(self.repo / "scripts" / "setup"), *args],
                              env=self.env, capture_output=True, text=True, timeout=60)

    def calls(self, program: str) -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [line for line in lines if line.startswith(program + " ")]

    def foreign(self, name: str) -> subprocess.Popen[bytes]:
        """A process named like a packaged service that Statera did not start."""
        proc = subprocess.Popen([str(self.fake / name), "300"])
        self.started.append(proc)
        return proc

    def packaged_pid(self, service: str) -> int:
        return int((self.run_dir / f"{service}.pid").read_text())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", repo / "scripts" / "setup")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    venv_bin = repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    shims, fake, run_dir = tmp_path / "shims", tmp_path / "fake", tmp_path / "run"
    for d in (shims, fake, run_dir):
        d.mkdir()
    for name in ("haproxy", "nginx"):  # processes whose name (comm) is haproxy / nginx
        shutil.copy(shutil.which("sleep") or "/bin/sleep", fake / name)
    scripts = {"apt-get": APT_GET, "dpkg": "#!/bin/sh\nexit 1\n", "sudo": '#!/bin/sh\nexec "$@"\n',
               "systemctl": RECORD, "update-rc.d": RECORD, "pkill": RECORD, "killall": RECORD}
    for name, text in scripts.items():
        (shims / name).write_text(text)
        (shims / name).chmod(0o755)
    (venv_bin / "pip").write_text(RECORD)
    (venv_bin / "pip").chmod(0o755)
    log = tmp_path / "calls.log"
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "LOG": str(log),
           "FAKE": str(fake), "RUN_DIR": str(run_dir), "STATERA_SETUP_RUN_DIR": str(run_dir),
           # Never probe the host's real dpkg lock from a test.
           "STATERA_DPKG_LOCK": str(tmp_path / "no-such-lock")}
    box = Sandbox(repo, env, log, run_dir, fake, [])
    try:
        yield box
    finally:
        for pidfile in run_dir.glob("*.pid"):
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        for proc in box.started:
            proc.kill()
            proc.wait()


def test_apt_waits_for_the_dpkg_lock_and_says_so(sandbox: Sandbox) -> None:
    done = sandbox.setup("serve")
    assert done.returncode == 0, done.stderr
    apt = sandbox.calls("apt-get")
    assert len(apt) == 2, apt  # update, install
    assert all("DPkg::Lock::Timeout=" in call for call in apt), apt
    assert "waits up to" in done.stdout and "if apt is busy" in done.stdout


def test_says_why_it_waits_when_another_package_manager_holds_the_lock(
        sandbox: Sandbox, tmp_path: Path) -> None:
    lock_file = tmp_path / "lock-frontend"
    lock_file.write_text("")
    sandbox.env["STATERA_DPKG_LOCK"] = str(lock_file)
    assert "another package manager holds" not in sandbox.setup("serve").stdout
    with open(lock_file, "r+") as held:  # as dpkg and apt take it
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = sandbox.setup("serve")
    assert done.returncode == 0, done.stderr
    assert f"another package manager holds {lock_file}" in done.stdout
    assert "waiting for it to finish" in done.stdout


def test_serve_installs_what_serving_needs_and_test_adds_wrk(sandbox: Sandbox) -> None:
    assert sandbox.setup("serve").returncode == 0
    install = [c for c in sandbox.calls("apt-get") if " install " in c]
    assert install
    assert install[-1].split(" -y ")[1].split() == [
        "haproxy", "nginx-light", "libnginx-mod-stream", "keepalived", "python3-venv"]
    pip = sandbox.calls("pip")
    assert any("-e .[client]" in c for c in pip), pip

    sandbox.log.unlink()
    assert sandbox.setup().returncode == 0
    install = [c for c in sandbox.calls("apt-get") if " install " in c]
    assert install[-1].split(" -y ")[1].split() == [
        "haproxy", "nginx-light", "libnginx-mod-stream", "keepalived", "python3-venv", "wrk"]
    assert any("-e .[client,test]" in c for c in sandbox.calls("pip"))


def test_services_installs_only_the_test_servers(sandbox: Sandbox) -> None:
    """What scripts/services runs on a machine without PostgreSQL, MariaDB or RabbitMQ."""
    done = sandbox.setup("services")
    assert done.returncode == 0, done.stderr
    install = [c for c in sandbox.calls("apt-get") if " install " in c]
    assert install[-1].split(" -y ")[1].split() == [
        "postgresql", "mariadb-server", "rabbitmq-server"]
    assert sandbox.calls("pip") == [] and not (sandbox.repo / ".venv" / ".statera-installed-test"
                                               ).exists()


def test_pip_shows_its_progress(sandbox: Sandbox) -> None:
    done = sandbox.setup("serve")
    assert done.returncode == 0, done.stderr
    pip = sandbox.calls("pip")
    assert pip and not any(" -q" in f" {c} " or "--quiet" in c for c in pip), pip
    assert "installing Statera and its Python dependencies" in done.stdout
    assert "pip lists each package as it goes" in done.stdout
    # Installed once: the next run is quick and silent about pip.
    sandbox.log.unlink()
    assert sandbox.setup("serve").returncode == 0
    assert sandbox.calls("pip") == []


def test_only_the_packaged_services_are_stopped(sandbox: Sandbox) -> None:
    mine = [sandbox.foreign("haproxy"), sandbox.foreign("nginx")]
    done = sandbox.setup("serve")
    assert done.returncode == 0, done.stderr
    assert sandbox.calls("pkill") == [] and sandbox.calls("killall") == []
    if SYSTEMD:
        assert any("disable --now haproxy" in c for c in sandbox.calls("systemctl"))
        assert any("disable --now nginx" in c for c in sandbox.calls("systemctl"))
    else:
        for service in ("haproxy", "nginx"):
            pid = sandbox.packaged_pid(service)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _alive(pid), f"the packaged {service} (pid {pid}) still runs"
    for proc in mine:  # load balancers Statera does not own keep running
        assert proc.poll() is None


def test_make_serve_and_make_test_use_their_own_set_up() -> None:
    serve = subprocess.run(["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True)
    assert "./scripts/setup serve" in serve.stdout
    test = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True)
    assert "./scripts/setup test" in test.stdout and "./scripts/test" in test.stdout
