"""The shared hung-process detection: silent polls counted in a row, and the Unix-socket
HTTP probe (a real server on a real socket, a path too long for ``sun_path`` included)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

from statera.providers.kit.liveness import Silence, http_answers, stopped


def test_silence_counts_polls_in_a_row() -> None:
    silence = Silence(limit=3)
    assert silence.silent("lb") == 0 and silence.silent("lb") == 0
    silence.answered("lb")  # an answer starts the count again
    assert [silence.silent("lb") for _ in range(3)] == [0, 0, 3]
    assert silence.silent("lb") == 0  # counting starts again after the verdict
    assert silence.silent("other") == 0


def serve_once(path: str, answer: bytes | None) -> socket.socket:
    """A Unix socket at ``path`` whose first client gets ``answer`` (None: never answered)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()

    def run() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(1024)
            if answer is not None:
                conn.sendall(answer)
            else:
                conn.recv(1024)  # hold it until the client gives up

    threading.Thread(target=run, daemon=True).start()
    return server


def test_http_answers_over_long_and_short_paths(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    long_path = str(deep / "status.sock")
    assert len(long_path) > 108
    cwd = os.getcwd()
    os.chdir(deep)  # bind() to a relative name: the path is too long for sun_path
    try:
        server = serve_once("status.sock", b"HTTP/1.1 204 No Content\r\n\r\n")
    finally:
        os.chdir(cwd)
    with server:
        assert http_answers(long_path, timeout=2)
    short = tmp_path / "s.sock"
    with serve_once(str(short), None):
        assert not http_answers(short, timeout=0.3)  # connected, never answered
    assert not http_answers(tmp_path / "missing.sock", timeout=0.3)


def test_stopped_sees_sigstop() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        assert not stopped(proc.pid)
        os.kill(proc.pid, signal.SIGSTOP)
        os.waitpid(proc.pid, os.WUNTRACED)
        assert stopped(proc.pid)
    finally:
        proc.kill()
        proc.wait()
