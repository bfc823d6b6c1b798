"""Unix stream socket servers for the driver agent's status, stats and get sockets.

Octavia forks one process per connection; Statera serves each connection in a daemon thread
of one process, which is enough because every request is a short database transaction. The
listen backlog is large so that a burst of provider threads (one connection per call) is
queued by the kernel rather than refused. Every connection gets a read timeout so that a
client that connects and says nothing cannot hold a thread for ever.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from statera.agent.framing import FrameError, decode_request, read_frame, write_frame

LOG = logging.getLogger(__name__)

Request = dict[str, Any]
Reply = dict[str, Any]
#: Answers one decoded request. It must not raise for bad input; if it does anyway, the
#: server answers with ``on_error``'s reply.
Handler = Callable[[Request], Reply]
#: Builds the reply for a request that could not be read or handled, from a clear message.
ErrorReply = Callable[[str], Reply]

#: Linux caps ``sun_path`` at 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


def failure_reply(message: str) -> Reply:
    """The status/stats failure reply; octavia-lib raises UpdateStatus/StatisticsError from it."""
    return {"status_code": 500, "fault_string": message}


def empty_reply(_message: str) -> Reply:
    """The get socket's answer to a request it cannot read: 'nothing', as octavia-lib expects."""
    return {}


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    # Octavia's clients open a connection per call; 64+ provider threads may connect at once.
    request_queue_size = 2048
    # Wait for in-flight requests on close: their database writes then finish before the
    # caller disposes of the engine. A silent client costs at most ``timeout`` seconds.
    block_on_close = True

    def __init__(self, path: str, owner: AgentSocketServer) -> None:
        self.owner = owner
        # At most this many requests in flight; beyond it the accept loop waits and the kernel
        # queues connections in the backlog, so a stalled database cannot pile up threads.
        self.slots = threading.BoundedSemaphore(owner.max_workers)
        super().__init__(path, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _RequestHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        try:
            request = decode_request(
                read_frame(sock, owner.max_request_bytes, timeout=owner.request_timeout)
            )
        except FrameError as exc:
            LOG.warning("%s socket: malformed request: %s", owner.name, exc)
            self._reply(sock, owner.on_error(f"malformed request: {exc}"))
            return
        except OSError as exc:
            LOG.warning("%s socket: could not read request: %s", owner.name, exc)
            return
        try:
            reply = owner.handler(request)
        except Exception as exc:  # the handler's contract is not to raise; stay up regardless
            LOG.exception("%s socket: request failed", owner.name)
            reply = owner.on_error(f"internal error: {type(exc).__name__}: {exc}")
        self._reply(sock, reply)

    def _reply(self, sock: socket.socket, reply: Reply) -> None:
        # A client that does not read its reply gets the same bound as one that does not write.
        sock.settimeout(self.server.owner.request_timeout)
        try:
            write_frame(sock, reply)
        except OSError as exc:  # the client went away; nothing left to tell it
            LOG.info("%s socket: client left before the reply: %s", self.server.owner.name, exc)


class AgentSocketServer:
    """One Unix socket served by a thread pool; ``start()`` binds, ``stop()`` unbinds."""

    def __init__(
        self,
        name: str,
        path: str,
        handler: Handler,
        *,
        on_error: ErrorReply = failure_reply,
        request_timeout: float = 5.0,
        max_request_bytes: int = 64 * 1024 * 1024,
        max_workers: int = 256,
    ) -> None:
        self.name = name
        self.path = path
        self.handler = handler
        self.on_error = on_error
        self.request_timeout = request_timeout
        self.max_request_bytes = max_request_bytes
        self.max_workers = max_workers
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._inode: int | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH:
            raise ValueError(
                f"{self.name} socket path is {len(os.fsencode(self.path))} bytes, longer than "
                f"the {MAX_SOCKET_PATH} a Unix socket allows: {self.path}"
            )
        Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        _remove_stale_socket(self.path)
        server = _Server(self.path, self)
        # The get socket hands out private keys: only Statera's user (and group) may connect.
        os.chmod(self.path, 0o660)
        self._inode = os.stat(self.path).st_ino
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"driver-agent-{self.name}-socket",
            daemon=True,
        )
        self._thread.start()
        LOG.info("%s socket listening on %s", self.name, self.path)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None
        # Only remove the file if it is still ours: a newer agent may have replaced it.
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        LOG.info("%s socket on %s closed", self.name, self.path)

    @property
    def running(self) -> bool:
        return self._server is not None


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left by a dead agent; refuse to steal one a live agent serves."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except TimeoutError:
        # Someone listens but its backlog is full: a live, busy agent.
        raise FileExistsError(f"another driver agent is already serving {path}") from None
    except FileNotFoundError:
        return
    except OSError:
        os.unlink(path)  # nobody listens: a leftover from a crashed agent
        return
    finally:
        probe.close()
    raise FileExistsError(f"another driver agent is already serving {path}")
