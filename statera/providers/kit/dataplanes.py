"""Every data plane a data directory runs, found from its pid files: for operators.

Data planes outlive Statera's processes on purpose (see ``converger``), so stopping Statera no
longer stops them; ``statera dataplanes list`` and ``statera dataplanes stop`` use this module
to find and end them without any provider's code or settings: each load balancer's state
directory ``<data_dir>/providers/<provider>/<lb_id>/`` holds ``<program>.pid``. A recorded pid
counts only if that live process works in that directory and names it on its command line (a
recycled pid never does); the instance is then that process and every other live process of the
same program working in the same directory (HAProxy processes still draining after a reload,
NGINX's workers, keepalived's VRRP child). A directory whose recorded process is gone but whose
program still runs there (NGINX workers orphaned by a killed master) counts too, by the pid
file's name. Stopping also takes off the VIP addresses the host added to interfaces for that
load balancer (``vips.json``), as an agent does when it stops serving one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from statera.providers.kit.graph import is_safe_name
from statera.providers.kit.procs import program, terminate, zombie
from statera.providers.kit.vips import remove_recorded_vips


@dataclass(frozen=True)
class DataPlane:
    """The processes of one load balancer's data plane on this host."""

    provider: str
    lb_id: str
    directory: Path
    main: int | None  # the pid file's process, when it is alive and this directory's
    pids: tuple[int, ...]  # every process of the instance, ``main`` first


def _processes_by_cwd() -> dict[str, list[tuple[int, str | None]]]:
    """One pass over /proc: live processes by working directory, with their program."""
    found: dict[str, list[tuple[int, str | None]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if not zombie(pid):
            found.setdefault(cwd, []).append((pid, program(pid)))
    return found


def _names_directory(pid: int, directory: Path) -> bool:
    """Whether ``pid``'s command line names ``directory`` or a file in it (HAProxy keeps its
    arguments; NGINX rewrites them into one ``nginx: master process ...`` string)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return False
    return str(directory).encode() in cmdline


def _recorded(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _instance(provider: str, lb_dir: Path,
              by_cwd: dict[str, list[tuple[int, str | None]]]) -> DataPlane | None:
    """Every program with a pid file here (HAProxy or NGINX, and keepalived with VRRP)."""
    running = by_cwd.get(str(lb_dir), [])
    mine = dict(running)
    main: int | None = None
    pids: list[int] = []
    for pidfile in sorted(lb_dir.glob("*.pid")):
        pid = _recorded(pidfile)
        verified = pid if pid in mine and _names_directory(pid, lb_dir) else None
        name = mine.get(verified) if verified is not None else pidfile.stem
        if verified is not None and verified not in pids:
            pids.append(verified)
            if main is None or pidfile.stem == provider:
                main = verified
        pids.extend(p for p, prog in running if prog == name and p not in pids)
    if not pids:
        return None
    ordered = ([main] if main is not None else []) + sorted(p for p in pids if p != main)
    return DataPlane(provider, lb_dir.name, lb_dir, main, tuple(ordered))


def find(providers_dir: Path) -> list[DataPlane]:
    """Every running data plane under ``<data_dir>/providers``."""
    providers_dir = providers_dir.resolve()  # /proc shows working directories resolved
    if not providers_dir.is_dir():
        return []
    by_cwd = _processes_by_cwd()
    found = []
    for provider_dir in sorted(providers_dir.iterdir()):
        if not provider_dir.is_dir():
            continue
        for lb_dir in sorted(provider_dir.iterdir()):
            if lb_dir.is_dir() and is_safe_name(lb_dir.name):
                instance = _instance(provider_dir.name, lb_dir, by_cwd)
                if instance is not None:
                    found.append(instance)
    return found


def stop(providers_dir: Path, timeout: float = 5.0) -> list[DataPlane]:
    """Stop every data plane under ``providers_dir`` (SIGTERM, SIGKILL after ``timeout``),
    by pid; their state directories stay (a later agent starts them again). Returns what
    was stopped."""
    found = find(providers_dir)
    terminate([pid for instance in found for pid in instance.pids], timeout)
    for instance in found:
        remove_recorded_vips(instance.directory)
    return found
