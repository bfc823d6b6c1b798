"""keepalived for ACTIVE_STANDBY: one VRRP process per load-balancer instance.

In ACTIVE_STANDBY the VIP belongs to keepalived, not to the plain interface mode
(``kit/vips.py``): both hosts run the data plane bound to the VIP (a foreign bind, so the BACKUP
binds an address it does not hold) and a keepalived that adds the VIP on the MASTER only. The
configuration follows Octavia's ``keepalived_base.template``: every instance starts as BACKUP
(so ``nopreempt`` holds: a MASTER that comes back does not take the VIP back and cut
connections again), priority 100 for the MASTER role and 90 for the BACKUP, unicast
advertisements from the host's own address to its peer, gratuitous ARPs on becoming MASTER and
every ``vrrp_garp_refresh_interval``, and a ``vrrp_script`` that fails when the data-plane
process is gone, which puts the instance in FAULT and hands the VIP over at once.

Files, next to the data plane's in ``<state_dir>/<lb_id>/``: ``keepalived.conf``,
``keepalived.pid`` (the parent; its VRRP child's pid is in ``keepalived-vrrp.pid``),
``keepalived.log``, ``vrrp-check.sh``, ``vrrp-notify.sh`` and ``vrrp.state`` (the VRRP state
keepalived last entered: MASTER, BACKUP, FAULT or STOP). The process is found by its pid file
and its command line (never by name), reloaded with SIGHUP when its configuration changed and
stopped with SIGTERM, which makes it give the VIP up first.

``virtual_router_id`` is derived from the load balancer's id (1-255). Two load balancers whose
ids give the same one on the same pair of hosts still do not mix: keepalived drops
advertisements whose VIP list (and, with VRRPv2, password) is not its own.
"""

from __future__ import annotations

import getpass
import hashlib
import ipaddress
import logging
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from statera.config import KeepalivedVrrpSettings
from statera.providers.kit import templates
from statera.providers.kit.graph import ConfigError
from statera.providers.kit.procs import atomic_write, cmdline_names, resolve_binary, terminate

LOG = logging.getLogger(__name__)

JINJA = Path(__file__).parent / "jinja"
STANDALONE, MASTER, BACKUP = "STANDALONE", "MASTER", "BACKUP"
#: Octavia's ROLE_MASTER_PRIORITY and ROLE_BACKUP_PRIORITY.
PRIORITIES = {MASTER: 100, BACKUP: 90}
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]*")
_SAFE_INTERFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}")


class VrrpError(ConfigError):
    """keepalived could not be configured or started (the message says why)."""


def vrrp_id(lb_id: str) -> int:
    """The load balancer's ``virtual_router_id`` (1-255), the same on both of its hosts."""
    return int.from_bytes(hashlib.sha256(lb_id.encode()).digest()[:4], "big") % 255 + 1


def auth_pass(lb_id: str) -> str:
    """VRRPv2's 8-character password, the same on both hosts. It only keeps two load
    balancers' advertisements apart: VRRPv2 sends it in clear, so it protects nothing."""
    return hashlib.sha256(f"statera-vrrp:{lb_id}".encode()).hexdigest()[:8]


@dataclass(frozen=True)
class KeepalivedView:
    """Everything keepalived.conf.j2 writes, checked."""

    lb_id: str
    name: str
    router_id: str
    script_user: str
    version: int
    interface: str
    vrid: int
    priority: int
    advert_int: str
    auth_pass: str
    source: str
    peers: tuple[str, ...]
    addresses: tuple[tuple[str, str], ...]  # (address/prefix, interface)
    check_script: str
    notify_script: str
    check_interval: int
    fall: int
    rise: int
    garp_refresh: int
    garp_refresh_repeat: int


def _address(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise VrrpError(f"{what} {value!r} is not an IP address") from exc


def _interface(value: str) -> str:
    if not _SAFE_INTERFACE.fullmatch(value):
        raise VrrpError(f"{value!r} is not an interface name")
    return value


def _advert(seconds: float) -> tuple[str, int]:
    """advert_int as written, and the VRRP version it needs (fractions need VRRPv3)."""
    if float(seconds).is_integer():
        return str(int(seconds)), 2
    return f"{seconds:.2f}", 3


class Keepalived:
    """The keepalived process of one load-balancer instance and its files."""

    def __init__(self, lb_dir: Path, binary: str = "keepalived") -> None:
        self.dir = lb_dir
        self.lb_id = lb_dir.name
        self.binary = resolve_binary(binary)
        self.cfg = lb_dir / "keepalived.conf"
        self.pidfile = lb_dir / "keepalived.pid"
        self.vrrp_pidfile = lb_dir / "keepalived-vrrp.pid"
        self.log = lb_dir / "keepalived.log"
        self.check_script = lb_dir / "vrrp-check.sh"
        self.notify_script = lb_dir / "vrrp-notify.sh"
        self.state_file = lb_dir / "vrrp.state"

    # --- observation ------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if cmdline_names(pid, self.cfg) else None

    def alive(self) -> bool:
        return self.pid() is not None

    def state(self) -> str | None:
        """The VRRP state keepalived entered last (MASTER, BACKUP, FAULT, STOP), if running."""
        if not self.alive():
            return None
        try:
            return self.state_file.read_text().strip() or None
        except OSError:
            return None

    # --- rendering --------------------------------------------------------------------------
    def view(self, settings: KeepalivedVrrpSettings, *, role: str, interface: str,
             source: str, peers: tuple[str, ...],
             addresses: tuple[tuple[str, str], ...]) -> KeepalivedView:
        if role not in PRIORITIES:
            raise VrrpError(f"role {role!r} is neither MASTER nor BACKUP")
        for path in (self.dir,):
            if not _SAFE_PATH.fullmatch(str(path)):
                raise VrrpError(f"state directory {str(path)!r} has characters keepalived's "
                                "configuration cannot carry")
        advert, version = _advert(settings.vrrp_advert_int)
        vips = []
        for address, dev in addresses:
            addr = ipaddress.ip_address(_address(address, "VIP"))
            vips.append((f"{addr}/{addr.max_prefixlen}", _interface(dev)))
        return KeepalivedView(
            lb_id=self.lb_id, name=f"lb_{vrrp_id(self.lb_id)}_{self.lb_id[:8]}",
            router_id=f"statera_{self.lb_id[:8]}", script_user=getpass.getuser(),
            version=version, interface=_interface(interface), vrid=vrrp_id(self.lb_id),
            priority=PRIORITIES[role], advert_int=advert, auth_pass=auth_pass(self.lb_id),
            source=_address(source, "VRRP source address"),
            peers=tuple(_address(p, "VRRP peer") for p in peers if p != source),
            addresses=tuple(vips), check_script=str(self.check_script),
            notify_script=str(self.notify_script), check_interval=settings.vrrp_check_interval,
            fall=settings.vrrp_fail_count, rise=settings.vrrp_success_count,
            garp_refresh=settings.vrrp_garp_refresh_interval,
            garp_refresh_repeat=settings.vrrp_garp_refresh_count)

    def render(self, view: KeepalivedView, data_pidfile: Path, data_config: Path
               ) -> dict[Path, str]:
        """keepalived.conf and its two scripts; the check watches ``data_pidfile``'s process,
        which must run ``data_config`` (or from this directory) so a recycled pid fails it."""
        for path in (data_pidfile, data_config):
            if not _SAFE_PATH.fullmatch(str(path)):
                raise VrrpError(f"path {str(path)!r} cannot be written into a script")
        env = templates.environment(JINJA, {})
        return {
            self.cfg: env.get_template("keepalived.conf.j2").render(k=view),
            self.check_script: env.get_template("vrrp-check.sh.j2").render(
                lb_id=self.lb_id, pidfile=data_pidfile, directory=self.dir,
                config=data_config),
            self.notify_script: env.get_template("vrrp-notify.sh.j2").render(
                lb_id=self.lb_id, state_file=self.state_file),
        }

    # --- changes ----------------------------------------------------------------------------
    def apply(self, files: dict[Path, str]) -> None:
        """Write the files, then start keepalived, or reload it if its configuration changed;
        nothing when it runs this configuration already."""
        self.dir.mkdir(parents=True, exist_ok=True)
        pid = self.pid()
        unchanged = all(_read(path) == text for path, text in files.items())
        if pid is not None and unchanged:
            return
        for path, text in files.items():
            atomic_write(path, text, mode=0o700 if path.suffix == ".sh" else 0o600)
        self._validate()
        if pid is not None:
            os.kill(pid, signal.SIGHUP)
            LOG.info("keepalived %s: reloaded (configuration changed)", self.lb_id)
            return
        self.start("new instance" if not self.log.exists() else "process not running")

    def start(self, reason: str) -> None:
        """Start keepalived detached from this process (``setsid -f``: the data plane
        outlives the agent, and no zombie is left behind), logging to keepalived.log."""
        self.state_file.unlink(missing_ok=True)
        args = ["setsid", "-f", self.binary, "--vrrp", "--dont-fork", "--log-console",
                "--log-detail", "--use-file", str(self.cfg), "--pid", str(self.pidfile),
                "--vrrp_pid", str(self.vrrp_pidfile)]
        with open(self.log, "ab") as log:
            result = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                                    stdin=subprocess.DEVNULL, timeout=30, check=False)
        if result.returncode != 0:
            raise VrrpError(f"keepalived did not start (setsid exit {result.returncode})")
        deadline = time.monotonic() + 5.0
        while not self.alive():
            if time.monotonic() > deadline:
                raise VrrpError(f"keepalived did not start; see {self.log}")
            time.sleep(0.02)
        LOG.info("keepalived %s: started (%s)", self.lb_id, reason)

    def _validate(self) -> None:
        result = subprocess.run([self.binary, "--config-test", "--use-file", str(self.cfg)],
                                capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
            raise VrrpError("keepalived refused its configuration: "
                            + (" | ".join(lines[-3:]) or f"exit {result.returncode}"))

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (keepalived then sends priority 0, so the peer takes over at once, and
        removes the VIP), SIGKILL after ``timeout``."""
        pids = [p for p in (self.pid(), self._vrrp_child()) if p is not None]
        if pids:
            terminate(pids, timeout)
            LOG.info("keepalived %s: stopped", self.lb_id)
        self.state_file.unlink(missing_ok=True)

    def _vrrp_child(self) -> int | None:
        try:
            pid = int(self.vrrp_pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if cmdline_names(pid, self.cfg) else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
