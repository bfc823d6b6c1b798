"""The API's listening socket: connections accepted on it have Nagle's algorithm off.

With Nagle on, a response written in two parts (headers, then body) waits for the client's
delayed ACK, and every request on a keep-alive connection took 40 ms more (seen: 48 ms for a
3 ms GET). asyncio sets TCP_NODELAY only on sockets whose protocol is TCP, so this checks what
the server really does with a connection accepted on ``bind_api_socket``'s socket.
"""

from __future__ import annotations

import asyncio
import socket

from statera.cli import bind_api_socket


def test_accepted_connections_have_nagle_off() -> None:
    async def accepted_nodelay() -> int:
        sock = bind_api_socket("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def connected(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=sock)
        port = sock.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0
