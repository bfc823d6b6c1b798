"""The ``statera`` command as a new user meets it: ``--help`` that explains every option with
its default and environment variable, ``--version``, "API listening" only once it is true, and
a port already in use reported as one clear line and a failing exit code."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import VENV_BIN, free_port

STATERA = str(VENV_BIN / "statera")
ENV = {**os.environ, "STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
       "STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS": '["noop"]'}


def statera(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STATERA, *args], capture_output=True, text=True, timeout=timeout,
                          env=ENV)


def test_version() -> None:
    done = statera("--version")
    assert done.returncode == 0
    assert re.fullmatch(r"statera \d+\.\d+\.\d+\S*\n", done.stdout)


def test_top_level_help_is_plain_text() -> None:
    out = statera("--help").stdout
    assert "``" not in out and ":func:" not in out  # no raw reStructuredText
    assert "Octavia" in out and "STATERA_<SECTION>__<OPTION>" in out
    for command in ("serve", "agent", "hosts", "dataplanes", "db", "config"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command


@pytest.mark.parametrize("command", [("serve",), ("agent",), ("hosts",), ("db", "upgrade"),
                                     ("dataplanes", "list"), ("dataplanes", "stop")])
def test_every_option_has_a_description_default_and_env(command: tuple[str, ...]) -> None:
    out = statera(*command, "--help").stdout
    options = re.findall(r"^  (--[a-z-]+)", out, re.M)
    assert "--config" in options and "--data-dir" in options
    # One option's help runs until the next option or the end.
    blocks = re.split(r"^  (?=--)", out.split("options:", 1)[1], flags=re.M)[1:]
    assert len(blocks) == len(options)
    for block in blocks:
        text = " ".join(block.split())
        assert re.search(r"\(default: [^;]+; env: STATERA_[A-Z_]+\)", text), text
    if command == ("serve",):
        assert "default: 9876; env: STATERA_API__PORT" in " ".join(out.split())
        assert "default: 127.0.0.1; env: STATERA_API__HOST" in " ".join(out.split())


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = statera("serve", "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines == [f"statera serve: cannot listen on 127.0.0.1:{port}: address already in use"
                     " (choose another with --port or STATERA_API__PORT)"], done.stderr


def test_api_listening_is_said_when_it_is_true(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([STATERA, "serve", "--port", str(port), "--data-dir",
                                 str(tmp_path / "data")], stdout=out, stderr=subprocess.STDOUT,
                                env=ENV)
    try:
        deadline = time.monotonic() + 30
        while "API listening" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        # The moment the line is there, the API answers (no retry).
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
        assert b"versions" in body
        text = log.read_text()
        assert f"API listening on http://127.0.0.1:{port}" in text
        assert text.index("driver agent started") < text.index("API listening")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
