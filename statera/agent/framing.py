"""The driver-agent wire format, shared by the status, stats and get sockets.

octavia-lib 3.12's ``DriverLibrary`` frames every message, in both directions, as an ASCII
decimal byte length, a newline, then that many bytes of UTF-8 JSON; one request and one reply
per connection. Octavia's own agent closes the connection without a word when it cannot parse a
request, which the library can only report as a 30-second timeout. Statera instead raises
``FrameError`` with a message a human can act on, so the server can answer with it.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

#: Digits allowed in the length line: 12 digits is ~1 TB, far beyond any real message, and
#: bounds how long a client can feed us a "length" made of digits.
MAX_LENGTH_DIGITS = 12

#: Largest request body accepted. A full load-balancer graph with certificates is a few hundred
#: kilobytes; anything near this limit is a bug or an attack, not a status report.
MAX_BODY_BYTES = 64 * 1024 * 1024


class FrameError(ValueError):
    """A request that does not follow the framing or is not a JSON object."""


def read_frame(
    sock: socket.socket, max_bytes: int = MAX_BODY_BYTES, timeout: float | None = None
) -> bytes:
    """Read one frame's payload; ``FrameError`` on anything but a well-formed frame.

    The length line is read one byte at a time so that nothing beyond the newline is consumed
    before we know how much to read (the client sends the line in its own ``send``).
    ``timeout`` bounds the whole request, not each read, so a client trickling one byte at a
    time cannot hold the connection longer than a silent one.
    """
    deadline = None if timeout is None else time.monotonic() + timeout

    def arm() -> None:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)

    header = bytearray()
    try:
        while True:
            arm()
            char = sock.recv(1)
            if not char:
                raise FrameError(
                    "connection closed before the length line ended "
                    f"(got {bytes(header[:32])!r}); expected '<decimal length>\\n<JSON>'"
                )
            if char == b"\n":
                break
            header += char
            if len(header) > MAX_LENGTH_DIGITS:
                raise FrameError(
                    f"bad length line {bytes(header[:32])!r}...: expected at most "
                    f"{MAX_LENGTH_DIGITS} ASCII decimal digits followed by a newline"
                )
        text = header.strip()
        if not text or not text.isdigit():
            raise FrameError(
                f"bad length line {bytes(header[:32])!r}: expected ASCII decimal digits "
                "followed by a newline"
            )
        size = int(text)
        if size > max_bytes:
            raise FrameError(f"request of {size} bytes exceeds the {max_bytes}-byte limit")
        body = bytearray(size)
        view = memoryview(body)
        got = 0
        while got < size:
            arm()
            n = sock.recv_into(view[got:], size - got)
            if n == 0:
                raise FrameError(f"short body: connection closed after {got} of {size} bytes")
            got += n
        return bytes(body)
    except TimeoutError as exc:  # socket.timeout is TimeoutError since Python 3.10
        raise FrameError(
            f"timed out after {timeout} s waiting for the request "
            f"(read so far: length line {bytes(header[:32])!r})"
        ) from exc


def decode_request(payload: bytes) -> dict[str, Any]:
    """Parse a payload; every driver-agent request is a JSON object."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"request body is not UTF-8: {exc}") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FrameError(f"request body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise FrameError(
            f"request body is a JSON {type(value).__name__}, expected a JSON object"
        )
    return value


def encode_frame(message: dict[str, Any]) -> bytes:
    """Frame a reply: ``<length>\\n<JSON>``."""
    payload = json.dumps(message, default=str).encode("utf-8")
    return str(len(payload)).encode("ascii") + b"\n" + payload


def write_frame(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(encode_frame(message))
